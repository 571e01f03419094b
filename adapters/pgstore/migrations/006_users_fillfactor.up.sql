-- 006: leave a tenth of each users page free (fillfactor 90), so that an
-- update that changes no indexed column (a remap of titles, most edits a
-- provider sends) can put the row's new version on its own page: a HOT
-- update, which adds nothing to the table's seven indexes. With full pages
-- every such update inserted into all of them (a remap of a million
-- people: 729 s, 2.2x the cold load's raw limit). Pages written from now
-- on keep the space; existing ones gain it as their rows move.
ALTER TABLE users SET (fillfactor = 90);
