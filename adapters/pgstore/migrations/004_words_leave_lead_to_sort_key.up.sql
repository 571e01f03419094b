-- 004: user_words rows carry lcp, first in the key after the org, and the
-- rows of lead words (prefixes of the user's last-name sort key, k_last)
-- go. A row's lcp is the length (bytes, at most 15) of the longest start
-- its word shares with k_last or with one of the user's words that sorts
-- before it (internal/wordrows).
--
-- A term p that a word starts with, no longer than the word's lcp, is a
-- prefix of k_last, or of a smaller word of the user with a row of its own
-- for p. So the users a term matches are the sort index's range
-- [p, successor(p)), already in page order, and the user_words rows with
-- lcp below len(p), one index range per lcp value. Without this, a
-- two-letter prefix of a common last name was tens of thousands of
-- side-table pairs (the name, and the e-mail words made from it), all at
-- one place of the sort order: neither sorting the pairs nor walking the
-- sort index up to them answered it in tens of milliseconds at a million
-- people; and a first name's prefix read each person twice (the name and
-- the e-mail address that starts with it). The users row keeps every word
-- (users.words) for checks on the row.
--
-- The table is rebuilt: this file makes it empty, then the store's Go code
-- (fillUserWords, migrate.go) writes its rows from users.k_last and
-- users.words with the function Apply uses (wordrows.Rows), in the same
-- transaction, and adds the primary key (org_id, lcp, word, k_last,
-- user_id).

DROP TABLE user_words;
CREATE TABLE user_words (
    org_id  text COLLATE "C" NOT NULL,
    lcp     smallint NOT NULL,
    word    text COLLATE "C" NOT NULL,
    k_last  text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL
);
