// Package mapping turns provider records into clean profiles with a per-org
// mapping that is configuration, not code.
//
// A provider yields a [Record] (standard fields plus the raw and custom
// attribute maps); a [Mapper] maps it to a [Profile]: first and last name,
// email, department, division, office, title, up to three named tag fields,
// and optionally an "active" override. [Standard] maps only the standard
// fields; [Compile] builds a Mapper from a [Config]. The package is pure:
// no storage, no I/O.
//
// # Configuration
//
// A mapping is one expression (in the expr language,
// github.com/expr-lang/expr) per field, in YAML or JSON with the same keys.
// Unknown keys are errors naming the key (and in YAML its line), also when
// the config is embedded in a larger document as "mapping:":
//
//	preset: workos                      # optional; the keys below override its expressions
//	department: coalesce(custom.department_name, raw.dept)
//	office: primary(custom.addresses)?.locality
//	active: 'to_bool(raw.active)'       # optional; nil keeps the provider's state
//	tags:                               # at most three, named [a-z][a-z0-9_]*
//	  cost_center: custom.cost_center_name
//	  employment: nil                   # "nil" removes the preset's tag of that name
//
// [ParseYAML], [ParseJSON] and [ParseConfig] read configs (at most
// [MaxConfigBytes]); [Config.Resolve] merges a config over its preset;
// [Compile] checks everything it can before any record is seen and reports
// every failing field as a [*CompileError] with the line:column inside the
// expression (counted from its first non-blank character).
//
// # Results
//
// Each string field must yield a string or nil; a tag field a string, a
// list of strings, or nil; active a bool or nil. Values go through [Clean]
// (Unicode NFC, trimmed, inner white space collapsed, control characters
// removed); an empty result leaves the field unset. A tag field's values are
// deduplicated by the search package's folding (case and accents: "NYC",
// "nyc" and "Nýc" are one value, the first spelling kept) and sorted. A
// wrong type is a [*FieldError] naming the record and the field, e.g.
// `mapping record "u1" field department: yielded number "42"; want a
// string or nil (convert with string(...))`.
//
// # Environment
//
// Expressions see three names:
//
//	user    the provider's standard fields:
//	        user.id          "directory_user_01J…"   (Record.ExternalID)
//	        user.idp_id      "00u1a2b3c4"
//	        user.state       "active", "inactive" or "suspended"
//	        user.email       "Ann.Lee@example.com"
//	        user.first_name  "Ann"
//	        user.last_name   "Lee"
//	        user.username    "ann.lee@example.com"
//	        user.job_title   "Engineer"
//	        user.updated_at  a time.Time
//	raw     the provider's raw attributes:  raw.name?.givenName
//	custom  the provider's custom attributes: custom.department_name
//
// A missing attribute is nil, and so is any member of nil: raw.a.b is nil
// when raw has no "a". Keys that are not identifiers are read with
// brackets or get: raw["urn:…:User"], get(raw, '["urn:…:2.0:User"].department').
//
// # Helpers
//
// Beyond expr's built-ins, mappings may call:
//
//	coalesce(a, b, …)       the first argument that is not nil, blank or empty:
//	                        coalesce(raw.preferredName, raw.firstName, user.first_name)
//	email_domain(s)         the lower-cased part after the last "@", or nil:
//	                        email_domain("ann@Example.COM") == "example.com"
//	get(obj, path)          a value by path, nil when absent; keys match exactly,
//	                        else case-insensitively; [n] indexes lists (negative
//	                        from the end); ["k"] quotes a key; a path that is
//	                        itself a key of obj is taken whole:
//	                        get(raw, "name.givenName"), get(raw, "emails[0].value"),
//	                        get(raw, '["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].Department')
//	primary(list)           the element whose "primary" (any case; true or "True")
//	                        is true, else the first, nil for an empty list:
//	                        primary(raw.emails)?.value
//	regex_match(s, re)      whether s matches the RE2 pattern (nil s: false):
//	                        regex_match(user.email, "@contractors\\.")
//	regex_extract(s, re)    the first group's match (the whole match without
//	                        groups), or nil: regex_extract(raw.costCenter, "^([A-Z]+)-")
//	title_case(s)           each word's first letter upper, the rest lower
//	                        (words split at spaces, - ' . ( /):
//	                        title_case("mARÍA o'neil-smith") == "María O'Neil-Smith"
//	to_bool(v)              a bool from a bool, a string ("true", "True", "yes",
//	                        "1", "active", "enabled" / "false", "no", "0",
//	                        "inactive", "disabled", "terminated", "suspended")
//	                        or 0/1; nil otherwise: to_bool(raw.active)
//	string(v)               a number or bool as text, nil for nil (lists and
//	                        maps are refused): string(raw.employeeNumber)
//	join(list, sep)         the strings of a list joined, nils skipped:
//	                        join([raw.city, raw.country], ", ")
//	replace(s, old, new)    every old replaced by new: replace(raw.team, "_", " ")
//	repeat(s, n)            s n times; nil for nil: repeat("*", 3)
//	lower(s), upper(s)      case changed; nil for nil: lower(raw.workEmail)
//	trim(s[, cutset])       white space (or cutset) removed from both ends; nil for nil
//	trimPrefix(s, p)        trimPrefix(raw.orgUnitPath, "/"); nil for nil
//	trimSuffix(s, x)        trimSuffix(raw.dept, " Dept"); nil for nil
//
// and these built-ins of expr (see its language definition):
//
//	len(v)                  len(user.email) > 0
//	abs, ceil, floor, round string(round(raw.fte * 100))
//	int(v), float(v)        int(raw.level) >= 5
//	split(s, sep[, n])      split(raw.orgUnitPath, "/")[1]
//	splitAfter(s, sep)      splitAfter("a/b", "/")
//	indexOf, lastIndexOf    indexOf(user.email, "@")
//	hasPrefix, hasSuffix    hasSuffix(user.email, "@example.com")
//	first(l), last(l)       first(raw.emails)?.value
//	take(l, n)              take(raw.teams, 3)
//	keys(m), values(m)      keys(raw.customSchemas)
//	reverse(l), uniq(l)     uniq(raw.teams)
//	sort(l)                 sort(raw.teams)
//	all, none, any, one     any(raw.groups, # == "Admins")
//	filter(l, pred)         filter(raw.addresses, .type == "work")
//	map(l, expr)            map(raw.teams, upper(#))
//	count(l, pred)           count(raw.groups, # startsWith "A")
//	sum(l[, expr])          sum(raw.allocations, .fte)
//	find, findLast          find(raw.custom_fields, .name == "Team")?.value
//	findIndex, findLastIndex findIndex(raw.emails, .primary)
//	groupBy(l, key)         groupBy(raw.roles, .type)
//	sortBy(l, key[, order]) first(sortBy(raw.jobs, .start_date, "desc"))?.title
//
// and expr's operators: ?. (nil-safe member), ?? (default), ?: and
// if/else, matches, contains, startsWith, endsWith, in, let, the pipe |,
// arithmetic and comparison. Time functions (now, date, duration) are off —
// a mapping's output must not change by itself — as are reduce, toJSON,
// fromJSON, concat, flatten and the other built-ins not listed.
//
// # Bounds
//
// Inputs and work are bounded so that no config can make an evaluation
// exhaust memory or CPU (a record's own size is bounded by its provider):
// a config is at most [MaxConfigBytes], an expression at most
// [MaxExpressionBytes] and [MaxExpressionNodes] nodes; one evaluation may
// build ranges and arrays worth [MaxMemory] (so 1..1000000000 fails with
// "evaluation budget exceeded", as does repeat("x", 1e9) by the string
// bound below); its loops may
// run at most [MaxLoopItems] iterations in all (nested ones included, with
// the items split, sort, reverse, uniq, keys, values and take build) and
// yield at most [MaxLoopBytes] of strings; any string it builds (with +,
// join, replace, repeat, string) is at most [MaxStringBytes]. A value is at most
// [MaxValueBytes] and a tag field has at most [MaxTagValues] values.
// Patterns of regex_match and regex_extract are at most [MaxRegexBytes] and
// compiled once.
//
// # Presets
//
// [Presets] lists the built-in mappings and [Preset] returns one: "workos"
// (WorkOS Directory Sync today: custom_attributes), "okta-scim",
// "entra-scim" (capitalised keys, "Primary", string booleans, the SCIM
// enterprise extension), "google-workspace" (organizations, locations,
// orgUnitPath, customSchemas), "bamboohr" and "workday" (report columns in
// raw, as the file provider yields CSV), "rippling" and "gusto". Each has a
// fixture in testdata and a test of its exact output.
//
// # Suggestions, previews and versions
//
// [Suggest] proposes a Config, with a confidence per field, from sample
// records whose attribute names it recognises however they are spelled or
// nested. [Preview] maps sample records and shows each profile or error.
// [Mapping.Version] is a hash of the resolved config's canonical form,
// recorded on the users a mapping produced: a changed version makes the next
// sync re-map everyone.
//
// # Performance
//
// Expressions run on a typed environment with pooled VMs; member access on
// maps is rewritten to a direct lookup. The benchmark in bench_test.go maps
// WorkOS-shaped records with an 11-expression mapping.
package mapping
