-- 004: user_words rows carry lcp, the bytes (at most 15) the word and the
-- user's last-name sort key (k_last) have in common at their start, first
-- in the key; the rows of lead words (a prefix of k_last) go.
--
-- A term p that a word starts with, no longer than the word's lcp, is a
-- prefix of k_last too: every user it matches that way lies in one range
-- of the sort index, [p, successor(p)), already in page order, and search
-- reads them there. Only the rows with lcp below len(p) are read from
-- user_words, one index range per lcp value. Without this, a two-letter
-- prefix of a common last name was tens of thousands of side-table pairs
-- (the name, and the e-mail words made from it), all at one place of the
-- sort order: neither sorting the pairs nor walking the sort index up to
-- them answered it in tens of milliseconds at a million people. The users
-- row keeps every word (users.words) for checks on the row.
--
-- The table is rebuilt (not altered in place) so that an existing store
-- writes each row once; lcp is computed here as Apply computes it.

CREATE TABLE user_words_004 (
    org_id  text COLLATE "C" NOT NULL,
    lcp     smallint NOT NULL,
    word    text COLLATE "C" NOT NULL,
    k_last  text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL
);
INSERT INTO user_words_004 (org_id, lcp, word, k_last, user_id)
    SELECT w.org_id,
        (SELECT count(*) FROM generate_series(1, least(octet_length(w.word), octet_length(w.k_last), 15)) n
            WHERE substring(convert_to(w.word, 'UTF8') FROM 1 FOR n) = substring(convert_to(w.k_last, 'UTF8') FROM 1 FOR n)),
        w.word, w.k_last, w.user_id
    FROM user_words w
    WHERE NOT starts_with(w.k_last, w.word)
    ORDER BY 1, 2, w.word, w.k_last, w.user_id;
DROP TABLE user_words;
ALTER TABLE user_words_004 RENAME TO user_words;
ALTER TABLE user_words ADD CONSTRAINT user_words_pkey PRIMARY KEY (org_id, lcp, word, k_last, user_id);
ANALYZE user_words;
