-- dirsync_user_words rows carry lcp, first in the key after the org, and
-- the rows of lead words (prefixes of the person's last-name sort key,
-- sk_last) go: pgstore's layout (its migration 004, internal/wordrows). A
-- row's lcp is the length in bytes (at most 15) of the longest start its
-- word shares with sk_last or with one of the person's words that sorts
-- before it.
--
-- A term p that a word starts with, no longer than the word's lcp, is a
-- prefix of sk_last, or of a smaller word of the person with a row of its
-- own for p. So the people a term matches are the sort index's range
-- [p, successor(p)), already in the default sort order, and the word rows
-- with lcp below len(p), one index range per lcp value. Without this, a
-- common last name's two-letter prefix ("sm" at a million people) was
-- tens of thousands of rows (the name, and the e-mail words made from
-- it: smith, smith10, …), all at one place of the sort order: neither
-- listing them nor walking the sort index up to them answered it in under
-- half a second.
--
-- The table is rebuilt: this file makes it empty, then the store's Go
-- code (fillWordRows, migrate.go) writes its rows from the stored names
-- with the function Apply uses (wordrows.Rows), in the same transaction.
DROP TABLE dirsync_user_words;
CREATE TABLE dirsync_user_words (
	org  TEXT NOT NULL,
	lcp  INTEGER NOT NULL,
	word TEXT NOT NULL,
	uid  INTEGER NOT NULL,
	PRIMARY KEY (org, lcp, word, uid)
) WITHOUT ROWID;
