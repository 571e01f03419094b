package search_test

import (
	"fmt"
	"net/url"

	"github.com/directorysync/directorysync/search"
)

func Example() {
	// The search box and URL parameters describe the same queries.
	q, err := search.ParseBox(`department:"Customer Success" tag:nyc status:all ali`)
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Departments, q.Tags, q.Status, q.Sort, q.Limit, q.Text)
	fmt.Println(q.Values().Encode())
	fmt.Println(q)

	// Errors name the field and, in the search box, the position.
	_, err = search.ParseBox(`ali title:CEO`)
	fmt.Println(err)
	_, err = search.ParseValues(url.Values{"limit": {"5000"}})
	fmt.Println(err)

	// Text terms match word prefixes, folded.
	words := search.Words("Siobhán", "Ó Súilleabháin", "siobhan.osuilleabhain@example.com")
	for _, term := range []string{"siob", "súil", "abhain"} {
		fmt.Println(term, search.MatchTerm(search.Fold(term), words))
	}

	// A cursor continues its own query in its own org only.
	page2 := q
	page2.Cursor = search.EncodeCursor("acme", q, search.Position{Key: "doe\x01ali", ID: "user_42"})
	pos, _, err := search.DecodeCursor("acme", page2)
	fmt.Println(pos.ID, err)
	_, _, err = search.DecodeCursor("globex", page2)
	fmt.Println(err)
	// Output:
	// [Customer Success] [nyc] all last_name 50 ali
	// department=Customer+Success&q=ali&status=all&tag=nyc
	// department:"Customer Success" tag:nyc status:all ali
	// search: title at position 5: unknown field; the fields are department (or dept), division, office, tag, group, status, sort and limit; quote the word to search for it as text
	// search: limit: "5000" is not a whole number from 1 to 1000
	// siob true
	// súil true
	// abhain false
	// user_42 <nil>
	// search: cursor: cursor belongs to another query or was altered
}
