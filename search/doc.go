// Package search defines Power Search queries: what a query is, how it is
// parsed from URL parameters and from the search box, how it is validated,
// how text and values are compared, and how results are paged. It holds no
// storage; every store implements these semantics identically (store/storetest
// proves it), and they use the helpers here to do so.
//
// # Filters
//
// A Query filters people by department, division, office, tag (a value of
// any of the org's tag fields) and group (a group's name or ID). Values
// within one field are OR-ed and fields are AND-ed:
// department:Sales department:Support office:Berlin finds people in Sales
// or Support who work in Berlin. A value matches when it equals the
// person's value after Fold: case, accents and white-space runs do not
// matter, so "customer  success" finds "Customer Success" and "zurich"
// finds "Zürich"; anything else (a prefix, a typo) does not.
//
// # Text
//
// Query.Text is split at white space into terms (Terms); every term must
// match the person. A person's words are those of the first and last name
// (split at white space, hyphens, apostrophes and dots), those of the e-mail
// address (split at '@', '.', '_', '-' and '+') and the whole address
// (Words). A term matches when it is a prefix of one of the words, or when
// each of its parts, split at hyphens, apostrophes, dots, '_', '+' and '@'
// (TermParts), is. So "alv" and "álvarez" find Álvarez but "varez" does not; "o'connor", "anne-marie" and
// "jane.doe@acme" find whom one would expect (MatchTerm).
//
// # Folding
//
// Fold is the one comparison form: Unicode case folding, compatibility
// decomposition with combining marks removed, control and format characters
// dropped, white space collapsed. Stores keep folded copies and compare them
// bytewise, never folding in the database.
//
// # Status, sort and pages
//
// Status is active (the default), inactive or all. Sort is last_name (the
// default: last name, first name, ID), first_name, email or id; every order
// ends with the ID, so it is total. Limit is 1 to 1000, default 50. A page
// that has more results carries a cursor (EncodeCursor) holding the sort key
// and ID of its last result; the next page starts strictly after it. The
// cursor is tied to the org and to the query's filters, text, status and
// sort: DecodeCursor rejects it for anything else, or when altered. The limit
// may change between pages.
//
// # Syntax and bounds
//
// ParseValues reads URL parameters (q, department, division, office, tag,
// group, status, sort, limit, cursor); ParseBox reads the search-box syntax
//
//	department:"Customer Success" tag:nyc ali
//
// Query.Values and FormatBox (Query.String) write them back. Input is bounded:
// MaxQueryBytes for a whole search string or URL query, MaxValueBytes for one
// value or the text, MaxValues values per field, MaxCursorBytes for a cursor.
// Every problem is an *Error (errors.Is(err, ErrInvalid)) naming the parameter
// or field, and for the search box the 1-based byte position; HTTP layers
// answer it with 400.
package search
