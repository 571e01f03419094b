package storetest

import (
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// searchCase is one named search over the people fixture with the expected
// user IDs in order, derived by hand from the rules of package search. The
// runner walks every page (with the query's limit) and compares the
// concatenation.
type searchCase struct {
	name string
	q    search.Query
	want []string
}

var searchTable = []searchCase{
	// Text: prefixes of name and email words, folded.
	{"PrefixAlvFindsBothAlvarezAndAlves", search.Query{Text: "alv"}, []string{"p002", "p001", "p022"}},
	{"InfixVarezFindsNoAlvarez", search.Query{Text: "varez"}, nil},
	{"AccentedUpperCaseTermFolds", search.Query{Text: "ÁLV"}, []string{"p002", "p001", "p022"}},
	{"ExtraWhiteSpaceAroundATermIsIgnored", search.Query{Text: "   alv \t "}, []string{"p002", "p001", "p022"}},
	{"StatusAllAddsTheInactiveAlvarado", search.Query{Text: "alv", Status: search.StatusAll}, []string{"p031", "p002", "p001", "p022"}},
	{"StatusInactiveFindsOnlyTheInactive", search.Query{Text: "alv", Status: search.StatusInactive}, []string{"p031"}},
	{"ApostrophisedSurnameOConnor", search.Query{Text: "o'connor"}, []string{"p010"}},
	{"SurnameWithoutApostropheMatchesTheEmailWord", search.Query{Text: "oconnor"}, []string{"p010"}},
	{"PartAfterTheApostropheConnor", search.Query{Text: "Connor"}, []string{"p010"}},
	{"HyphenatedFirstNameAnneMarie", search.Query{Text: "anne-marie"}, []string{"p009"}},
	{"SecondPartOfAHyphenatedNameMarie", search.Query{Text: "marie"}, []string{"p009"}},
	{"HyphenatedNameMatchesTheWholeEmailPrefix", search.Query{Text: "mary-kate"}, []string{"p023"}},
	{"CurlyApostropheDAngelo", search.Query{Text: "d’angelo"}, []string{"p011"}},
	{"StraightApostropheFindsTheCurlyDAngelo", search.Query{Text: "D'Angelo"}, []string{"p011"}},
	{"DAngeloWithoutApostropheMatchesTheEmailWord", search.Query{Text: "dangelo"}, []string{"p011"}},
	{"ONeilFindsOnlyTheActiveOne", search.Query{Text: "o'neil"}, []string{"p023"}},
	{"ONeilWithStatusAllSortsByFirstNameOnTies", search.Query{Text: "o'neil", Status: search.StatusAll}, []string{"p034", "p023"}},
	{"HyphenatedSurnameAlFarsi", search.Query{Text: "al-farsi"}, []string{"p033"}},
	{"EmailWithoutItsPlusPartFindsBothJaneDoes", search.Query{Text: "jane.doe@acme"}, []string{"p012", "p013"}},
	{"PlusAddressedEmailPrefixFindsOnlyItsOwner", search.Query{Text: "jane.doe+hr"}, []string{"p012"}},
	{"PlusTagIsAnEmailWord", search.Query{Text: "hr"}, []string{"p012"}},
	{"PartsOfAnEmailAfterThePlus", search.Query{Text: "doe+hr@"}, []string{"p012"}},
	{"WholeEmailAddressMatches", search.Query{Text: "noah.kim+eng@acme.com"}, []string{"p028"}},
	{"EmailDomainParts", search.Query{Text: "acme.co.jp"}, []string{"p024"}},
	{"TermsAreAnded", search.Query{Text: "jane doe"}, []string{"p012", "p013"}},
	{"TermsMayMatchNameAndEmailWords", search.Query{Text: "liam oconnor"}, []string{"p010"}},
	{"PrefixJanMatchesJanAndJane", search.Query{Text: "jan"}, []string{"p012", "p013", "p029"}},
	{"DiaeresisFoldsZoe", search.Query{Text: "zoe"}, []string{"p035", "p004"}},
	{"QueryWithDiaeresisFindsZoeToo", search.Query{Text: "Zoë"}, []string{"p035", "p004"}},
	{"OSlashIsKeptSøren", search.Query{Text: "Søren"}, []string{"p003"}},
	{"SorenMatchesTheEmailWord", search.Query{Text: "soren"}, []string{"p003"}},
	{"StrokedLDoesNotFoldToL", search.Query{Text: "lukasz"}, nil},
	{"StrokedLPrefixŁuk", search.Query{Text: "łuk"}, []string{"p005"}},
	{"DottedCapitalIFoldsToIlkay", search.Query{Text: "İlkay"}, []string{"p006"}},
	{"BreveAndDiaeresisFoldGündoğan", search.Query{Text: "gündoğan"}, []string{"p006"}},
	{"VietnameseNguyễnFolds", search.Query{Text: "nguyen"}, []string{"p007"}},
	{"RingFoldsÅngström", search.Query{Text: "angstrom"}, []string{"p019"}},
	{"HanCharacterName", search.Query{Text: "張"}, []string{"p008"}},
	{"TextDoesNotSearchDepartments", search.Query{Text: "engineering"}, nil},
	{"EmailWordEngIsNotADepartment", search.Query{Text: "eng"}, []string{"p028"}},
	{"InactivePersonIsHiddenByDefault", search.Query{Text: "zimmermann"}, nil},
	{"InactivePersonWithStatusAll", search.Query{Text: "zimmermann", Status: search.StatusAll}, []string{"p026"}},

	// Filters: values fold, OR within a field, AND across fields.
	{"DepartmentFoldsCaseAcrossPagesOf3", search.Query{Departments: []string{"ENGINEERING"}, Limit: 3}, []string{"p035", "p033", "p001", "p019", "p013", "p027", "p028", "p005", "p010", "p024"}},
	{"DepartmentRAndDMatchesBothSpellings", search.Query{Departments: []string{"r&d"}}, []string{"p017", "p029", "p003", "p008"}},
	{"OfficeZurichMatchesZürich", search.Query{Offices: []string{"zurich"}}, []string{"p001", "p019", "p013", "p017", "p016"}},
	{"OfficeMontrealMatchesMontréal", search.Query{Offices: []string{"Montreal"}}, []string{"p020"}},
	{"FilterValuesThatFoldToNothingAreIgnored", search.Query{Offices: []string{"", " \t"}, Text: "alv"}, []string{"p002", "p001", "p022"}},
	{"OfficeValuesAreOred", search.Query{Offices: []string{"Tokyo", "Seoul"}}, []string{"p028", "p007", "p024", "p008"}},
	{"FieldsAreAnded", search.Query{Departments: []string{"Engineering"}, Offices: []string{"London"}}, []string{"p035"}},
	{"OredValuesInTwoAndedFields", search.Query{Departments: []string{"Engineering"}, Offices: []string{"London", "New York"}}, []string{"p035", "p027", "p010"}},
	{"TwoDepartmentsAndAnOffice", search.Query{Departments: []string{"Marketing", "Sales"}, Offices: []string{"london"}}, []string{"p009", "p006"}},
	{"DivisionAndAccentedOffice", search.Query{Divisions: []string{"go-to-market"}, Offices: []string{"são paulo"}}, []string{"p002", "p022", "p011"}},
	{"DivisionWithStatusAllBreaksTiesByID", search.Query{Divisions: []string{"RESEARCH"}, Status: search.StatusAll}, []string{"p017", "p018", "p029", "p003", "p008"}},
	{"SecondSourceIsSearchedToo", search.Query{Departments: []string{"Sales"}, Offices: []string{"Paris"}}, []string{"p030"}},
	{"TagOfAnyFieldNYC", search.Query{Tags: []string{"nyc"}}, []string{"p007", "p010", "p023", "p032", "p004"}},
	{"TagValuesAreOred", search.Query{Tags: []string{"Mobile", "CC-200"}}, []string{"p035", "p001", "p019", "p012", "p027", "p005", "p024"}},
	{"TagAndDepartmentAreAnded", search.Query{Tags: []string{"platform"}, Departments: []string{"engineering"}}, []string{"p027"}},
	{"TagCostCenterFolds", search.Query{Tags: []string{"cc-100"}}, []string{"p001", "p017"}},
	{"UnknownValueFindsNobody", search.Query{Departments: []string{"Astronauts"}}, nil},

	// Groups: by folded name (every group of that name) or exact ID.
	{"GroupByNameMatchesEveryGroupOfThatName", search.Query{Groups: []string{"MANAGERS"}}, []string{"p009", "p030", "p027", "p014"}},
	{"GroupByID", search.Query{Groups: []string{"g-mgr"}}, []string{"p009", "p027", "p014"}},
	{"GroupIDIsMatchedExactlyNotFolded", search.Query{Groups: []string{"G-MGR"}}, nil},
	{"GroupNameFoldsAccents", search.Query{Groups: []string{"zurich office"}}, []string{"p001", "p017"}},
	{"GroupWithStatusInactive", search.Query{Groups: []string{"Zürich Office"}, Status: search.StatusInactive}, []string{"p018", "p021", "p026"}},
	{"GroupAndTextAreAnded", search.Query{Groups: []string{"g-eng"}, Text: "jane"}, []string{"p013"}},
	{"GroupsAreOred", search.Query{Groups: []string{"g-nyc", "g-mgr2"}}, []string{"p030", "p010", "p023", "p032", "p004"}},
	{"EmptyGroupFindsNobody", search.Query{Groups: []string{"Empty Group"}}, nil},
	{"UnknownGroupFindsNobody", search.Query{Groups: []string{"nope"}}, nil},

	// Sorts, each ending with the ID.
	{"SortFirstName", search.Query{Departments: []string{"Marketing"}, Sort: search.SortFirstName}, []string{"p009", "p020", "p004"}},
	{"SortFirstNameWithStatusAll", search.Query{Departments: []string{"Marketing"}, Sort: search.SortFirstName, Status: search.StatusAll}, []string{"p009", "p020", "p031", "p004"}},
	{"SortFirstNameTiesBreakByID", search.Query{Text: "john", Sort: search.SortFirstName, Status: search.StatusAll}, []string{"p014", "p015", "p016"}},
	{"SortEmail", search.Query{Offices: []string{"London"}, Sort: search.SortEmail}, []string{"p009", "p006", "p003", "p035"}},
	{"SortID", search.Query{Departments: []string{"Sales"}, Sort: search.SortID}, []string{"p002", "p006", "p014", "p023", "p030"}},
	{"DuplicateNamesBreakTiesByIDOnePerPage", search.Query{Text: "john smith", Status: search.StatusAll, Limit: 1}, []string{"p014", "p015", "p016"}},
	{"AccentedDuplicateNamesBreakTiesByID", search.Query{Text: "garcía", Status: search.StatusAll}, []string{"p017", "p018"}},
}

// facetCase is one named facets query with hand-derived counts.
type facetCase struct {
	name string
	q    search.Query
	want store.Facets
}

var facetTable = []facetCase{
	{"LabelsAreTheLeastSpellingAndCountsFoldTogether", search.Query{Groups: []string{"g-eng"}, Departments: []string{"Engineering"}}, store.Facets{
		Department: map[string]int{"Engineering": 10},
		Division:   map[string]int{"Product": 10},
		Office:     map[string]int{"Zurich": 3, "Warsaw": 1, "New York": 2, "Tokyo": 1, "Seoul": 1, "Dubai": 1, "London": 1},
		Tag:        map[string]int{"Mobile": 5, "CC-100": 1, "NYC": 1, "Platform": 1, "CC-200": 1},
		TagFields:  map[string]map[string]int{"team": {"Mobile": 5, "NYC": 1, "Platform": 1}, "cost_center": {"CC-100": 1, "CC-200": 1}},
	}},
	{"DepartmentFacetIgnoresTheDepartmentFilter", search.Query{Text: "alv", Departments: []string{"Sales"}}, store.Facets{
		Department: map[string]int{"Sales": 1, "Engineering": 1, "Customer Success": 1},
		Division:   map[string]int{"Go-To-Market": 1},
		Office:     map[string]int{"Sao Paulo": 1},
	}},
	{"TagFacetsIgnoreTheTagFilter", search.Query{Tags: []string{"mobile"}, Groups: []string{"g-nyc"}}, store.Facets{
		Tag:       map[string]int{"NYC": 4},
		TagFields: map[string]map[string]int{"location": {"NYC": 3}, "team": {"NYC": 1}},
	}},
	{"LabelComesFromAnInactivePersonsSpelling", search.Query{Text: "lefevre"}, store.Facets{
		Department: map[string]int{"Marketing": 1},
		Division:   map[string]int{"Go-To-Market": 1},
		Office:     map[string]int{"Montreal": 1},
	}},
	{"FacetsFollowTheStatus", search.Query{Groups: []string{"g-zrh"}, Status: search.StatusInactive}, store.Facets{
		Department: map[string]int{"R&D": 1, "Engineering": 2},
		Division:   map[string]int{"Research": 1, "Product": 2},
		Office:     map[string]int{"Zurich": 3},
		Tag:        map[string]int{"Platform": 1},
		TagFields:  map[string]map[string]int{"team": {"Platform": 1}},
	}},
	{"TwoFilteredFieldsEachIgnoreOnlyTheirOwn", search.Query{Departments: []string{"Marketing"}, Offices: []string{"London"}}, store.Facets{
		Department: map[string]int{"R&D": 1, "Sales": 1, "Marketing": 1, "Engineering": 1},
		Division:   map[string]int{"Go-To-Market": 1},
		Office:     map[string]int{"New York": 1, "London": 1, "Montreal": 1},
	}},
}
