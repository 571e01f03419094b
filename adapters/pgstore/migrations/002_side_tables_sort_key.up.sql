-- 002: the side tables carry each user's last-name sort key (users.k_last)
-- between the value and the user, so that a tag or a word is an index range
-- already in the default sort order: a tag filter reads its first page from
-- the index with LIMIT instead of collecting every holder and sorting, and a
-- text term collects (sort key, user) pairs from the index alone, sorting
-- them before reading only the users of the page. The key replaces nothing
-- in the primary key's uniqueness (it is a function of the user); Apply
-- rewrites a user's side rows when the key changes. The tables are rebuilt
-- (not altered in place) so that an existing store writes each row once.

CREATE TABLE user_words_002 (
    org_id  text COLLATE "C" NOT NULL,
    word    text COLLATE "C" NOT NULL,
    k_last  text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL
);
INSERT INTO user_words_002 (org_id, word, k_last, user_id)
    SELECT w.org_id, w.word, u.k_last, w.user_id
    FROM user_words w JOIN users u ON u.org_id = w.org_id AND u.id = w.user_id
    ORDER BY w.org_id, w.word, u.k_last, w.user_id;
DROP TABLE user_words;
ALTER TABLE user_words_002 RENAME TO user_words;
ALTER TABLE user_words ADD CONSTRAINT user_words_pkey PRIMARY KEY (org_id, word, k_last, user_id);

CREATE TABLE user_tags_002 (
    org_id  text COLLATE "C" NOT NULL,
    f_value text COLLATE "C" NOT NULL,
    k_last  text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    field   text COLLATE "C" NOT NULL,
    value   text COLLATE "C" NOT NULL
);
INSERT INTO user_tags_002 (org_id, f_value, k_last, user_id, field, value)
    SELECT t.org_id, t.f_value, u.k_last, t.user_id, t.field, t.value
    FROM user_tags t JOIN users u ON u.org_id = t.org_id AND u.id = t.user_id
    ORDER BY t.org_id, t.f_value, u.k_last, t.user_id, t.field;
DROP TABLE user_tags;
ALTER TABLE user_tags_002 RENAME TO user_tags;
ALTER TABLE user_tags ADD CONSTRAINT user_tags_pkey PRIMARY KEY (org_id, f_value, k_last, user_id, field);

-- The planner's statistics for the rebuilt tables, before autovacuum gets
-- to them.
ANALYZE user_words;
ANALYZE user_tags;
