package search

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestFold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"LeavesFoldedASCIIAlone", "jane doe", "jane doe"},
		{"LowerCasesASCII", "Jane DOE", "jane doe"},
		{"StripsAccents", "Álvarez Núñez Zoë", "alvarez nunez zoe"},
		{"StripsAccentsOfDecomposedInput", "A\u0301lvarez", "alvarez"},
		{"FoldsSharpS", "Weiß", "weiss"},
		{"FoldsCapitalSharpS", "WEIẞ", "weiss"},
		{"FoldsTurkishDottedCapitalI", "İstanbul", "istanbul"},
		{"KeepsTurkishDotlessI", "Işıl", "isıl"},
		{"FoldsFullWidthLetters", "ＡＣＭＥ１２", "acme12"},
		{"DecomposesLigatures", "ﬁnance ﬀ Œuvre", "finance ff œuvre"},
		{"FoldsDigraphs", "ǄEMAL", "dzemal"},
		{"FoldsGreekFinalSigma", "ΟΔΥΣΣΕΥΣ", "οδυσσευσ"},
		{"FoldsCyrillic", "Смирнов", "смирнов"},
		{"RemovesCombiningMarks", "e\u0301\u0308\u20dd", "e"},
		{"DropsControlCharacters", "ja\x00ne\x1b\x7f", "jane"},
		{"DropsFormatCharacters", "ja\u200bne\u00ad", "jane"},
		{"CollapsesWhiteSpace", "  Customer \t\n Success\u00a0\u3000Team  ", "customer success team"},
		{"DropsInvalidUTF8", "ja\xffne\xc3", "jane"},
		{"DropsReplacementCharacters", "ja\ufffdne", "jane"},
		{"EmptyStaysEmpty", "", ""},
		{"WhiteSpaceOnlyBecomesEmpty", " \t\n", ""},
		{"KeepsCJK", "山田 太郎", "山田 太郎"},
		{"KeepsPunctuation", "O'Connor-Smith", "o'connor-smith"},
		{"FoldsFullWidthSpace", "ａ\u3000ｂ", "a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Fold(tc.in)
			if got != tc.want {
				t.Fatalf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := Fold(got); again != got {
				t.Fatalf("Fold is not idempotent on %q: %q, then %q", tc.in, got, again)
			}
		})
	}
}

func TestFoldASCIIFastPathEqualsSlowPath(t *testing.T) {
	t.Parallel()
	var inputs []string
	for c := 0; c < 0x80; c++ {
		inputs = append(inputs, string(rune(c)), "a"+string(rune(c))+"b", " "+string(rune(c)), string(rune(c))+" ")
	}
	inputs = append(inputs, "", "jane doe", "jane  doe", "x@y.z", "o'connor-smith", "a b c", "123")
	for _, s := range inputs {
		fast, slow := Fold(s), foldSlow(s)
		if fast != slow {
			t.Errorf("Fold(%q) = %q but the slow path gives %q", s, fast, slow)
		}
		if isFoldedASCII(s) && fast != s {
			t.Errorf("isFoldedASCII(%q) but Fold changes it to %q", s, fast)
		}
	}
}

func TestWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		first, last, email string
		want               []string
	}{
		{"SplitsNamesAtSpacesHyphensApostrophesAndDots", "Anne-Marie J.", "O'Connor van Dyke", "",
			[]string{"anne", "marie", "j", "o", "connor", "van", "dyke"}},
		{"SplitsPlusAddressedEmailAndKeepsTheWholeAddress", "Jane", "Doe", "jane.doe+hr@acme.com",
			[]string{"jane", "doe", "hr", "acme", "com", "jane.doe+hr@acme.com"}},
		{"SplitsEmailAtUnderscores", "", "", "J_Smith@Example.org",
			[]string{"j", "smith", "example", "org", "j_smith@example.org"}},
		{"FoldsNamesAndRemovesDuplicates", "Álvaro", "ÁLVAREZ", "alvaro@alvarez.es",
			[]string{"alvaro", "alvarez", "es", "alvaro@alvarez.es"}},
		{"SplitsAtTypographicApostrophes", "", "D’Angelo", "",
			[]string{"d", "angelo"}},
		{"EmptyPersonHasNoWords", "", "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Words(tc.first, tc.last, tc.email)); diff != "" {
				t.Fatalf("Words(%q, %q, %q) (-want +got):\n%s", tc.first, tc.last, tc.email, diff)
			}
		})
	}
}

func TestMatchTerm(t *testing.T) {
	t.Parallel()
	alvarez := Words("Álvaro", "Álvarez", "alvaro.alvarez@acme.com")
	oconnor := Words("Siobhán", "O'Connor", "siobhan.oconnor@acme.com")
	anne := Words("Anne-Marie", "Dupont", "anne-marie.dupont@acme.com")
	jane := Words("Jane", "Doe", "jane.doe+hr@acme.com")
	for _, tc := range []struct {
		name  string
		term  string
		words []string
		want  bool
	}{
		{"APrefixOfTheLastNameMatches", "alv", alvarez, true},
		{"TheAccentedNameMatches", "álvarez", alvarez, true},
		{"AnInnerSubstringDoesNotMatch", "varez", alvarez, false},
		{"AnApostrophisedNameMatchesAsTyped", "o'connor", oconnor, true},
		{"AnApostrophisedNameMatchesByItsSecondPart", "connor", oconnor, true},
		{"TheJoinedSpellingMatchesTheEmailWord", "oconnor", oconnor, true},
		{"AHyphenatedNameMatchesAsTyped", "anne-marie", anne, true},
		{"AHyphenatedNameMatchesByItsSecondPart", "marie", anne, true},
		{"AnAddressPrefixMatches", "jane.doe@acme", jane, true},
		{"TheWholeAddressMatches", "jane.doe+hr@acme.com", jane, true},
		{"APlusTagMatches", "hr", jane, true},
		{"TheDomainMatches", "acme", jane, true},
		{"APartThatPrefixesNoWordFailsTheTerm", "jane.smith", jane, false},
		{"AnotherPersonsNameDoesNotMatch", "dupont", jane, false},
		{"SeparatorsAloneMatchNothing", "-'.", jane, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			term := Terms(tc.term)[0]
			if got := MatchTerm(term, tc.words); got != tc.want {
				t.Fatalf("MatchTerm(%q, %q) = %v, want %v", term, tc.words, got, tc.want)
			}
		})
	}
}

func TestTerms(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"ali", "muller", "o'neil"}, Terms("  Ali\tMÜLLER  O'Neil ")); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if got := Terms(" \t"); len(got) != 0 {
		t.Fatalf("Terms of white space = %q, want none", got)
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"", "jane", "Álvarez", "WEIẞ", "İ", "ﬁ", "ＡＣＭＥ", "e\u0301", "\xff\xfe", "a\u200b b", "ΣΑΣ", "ǅ", "\u0345", "ﾊﾟ", "㍿", "ﷺ", "Ꮺ", "ꮺ", "ᏸ", "aᏪ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Fold(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Fold(%q) = %q is not valid UTF-8", s, got)
		}
		if again := Fold(got); again != got {
			t.Fatalf("Fold is not idempotent on %q: %q, then %q", s, got, again)
		}
		if got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("Fold(%q) = %q has untrimmed or doubled spaces", s, got)
		}
		if slow := foldSlow(s); slow != got {
			t.Fatalf("Fold(%q) = %q but the slow path gives %q", s, got, slow)
		}
	})
}

// Every code point folds in at most two passes (the bound, maxFoldPasses,
// is never reached) to text that folds to itself, alone, after a letter
// and doubled. The Cherokee letters looped: golang.org/x/text folds each of
// their cases to the other, and Fold recursed until the stack overflowed.
func TestFoldEveryCodePoint(t *testing.T) {
	t.Parallel()
	worst := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		for _, s := range []string{string(r), "a" + string(r), string(r) + string(r)} {
			got, passes := foldPasses(s)
			worst = max(worst, passes)
			if passes > 2 {
				t.Fatalf("folding %q (%U) took %d passes", s, r, passes)
			}
			if again := Fold(got); again != got {
				t.Fatalf("Fold is not idempotent on %q (%U): %q, then %q", s, r, got, again)
			}
		}
	}
	if worst != 2 {
		t.Errorf("the most passes any code point took is %d; the second pass is there for the few that need it", worst)
	}
}

func TestFoldCherokeeToCapitals(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ꮺ": "Ꮺ", "ꮺ": "Ꮺ", "ᏸ": "Ᏸ", "Ᏸ": "Ᏸ", "ᏣᎳᎩ": "ᏣᎳᎩ", "ꮳꮃꭹ": "ᏣᎳᎩ", "Jane ꮺ": "jane Ꮺ",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}
