-- 007: migration 006's index holds only the rows a two-character term
-- reads: those whose lcp is below the byte length of their first two
-- characters (see 004 and 006). The other rows, about two in five (the
-- e-mail words that start with the user's last name, the second word of
-- a pair that shares its start), were never read through it, and every
-- insert paid for them: at a million people the index grew past what the
-- server's buffers hold and the raw load took 1.8 times as long as
-- before 006. A query matches the index by repeating its condition
-- (pgstore's streamRange), so the flag column goes.

DROP INDEX user_words_first_two;
CREATE INDEX user_words_first_two ON user_words (org_id, left(word, 2), k_last, user_id)
    INCLUDE (lcp, word)
    WHERE lcp < octet_length(left(word, 2));
ANALYZE user_words;
