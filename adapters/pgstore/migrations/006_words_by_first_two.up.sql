-- 006: user_words rows again, by the first two characters of the word and
-- whether the row's lcp is below their length in bytes, then in the
-- default sort order (k_last, user_id), carrying lcp and the word. The
-- rows a two-character term reads (lcp below its length, see 004) are
-- then one range of this index, already in page order: a search reads
-- them until the page is full instead of collecting and sorting every
-- pair (tens of thousands for a common two-letter prefix at a million
-- people), and a tag filter meets them in a merge join with the tag's
-- user_tags range, which is in the same order. The flag keeps out the
-- rows longer terms need (an e-mail address that starts with a common
-- last name: 77 of every 80 rows under "sm" at a million people). Other
-- terms keep reading the primary key by word.

CREATE INDEX user_words_first_two ON user_words (org_id, left(word, 2), (lcp < octet_length(left(word, 2))), k_last, user_id)
    INCLUDE (lcp, word);
ANALYZE user_words;
