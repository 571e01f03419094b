-- People and the folded copies that search reads. Times are Unix
-- nanoseconds (UTC); NULL stands for the zero time.
CREATE TABLE dirsync_users (
	uid                 INTEGER PRIMARY KEY,
	org                 TEXT NOT NULL,
	id                  TEXT NOT NULL,
	source_id           TEXT NOT NULL,
	external_id         TEXT NOT NULL,
	idp_id              TEXT NOT NULL,
	email               TEXT NOT NULL,
	first_name          TEXT NOT NULL,
	last_name           TEXT NOT NULL,
	department          TEXT NOT NULL,
	division            TEXT NOT NULL,
	office              TEXT NOT NULL,
	title               TEXT NOT NULL,
	tags                TEXT NOT NULL,
	active              INTEGER NOT NULL,
	source              BLOB,
	source_hash         TEXT NOT NULL,
	profile_hash        TEXT NOT NULL,
	mapping_version     TEXT NOT NULL,
	provider_updated_at INTEGER,
	version             INTEGER NOT NULL,
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL,
	deactivated_at      INTEGER,
	f_email             TEXT NOT NULL,
	f_department        TEXT NOT NULL,
	f_division          TEXT NOT NULL,
	f_office            TEXT NOT NULL,
	-- JSON [[field, folded value], …] of the tags, for facet counts over a
	-- filtered set (driven from the matching people, not from every tag).
	f_tags              TEXT NOT NULL,
	sk_last             TEXT NOT NULL,
	sk_first            TEXT NOT NULL,
	sk_email            TEXT NOT NULL
);
CREATE UNIQUE INDEX dirsync_users_id ON dirsync_users (org, id);
CREATE UNIQUE INDEX dirsync_users_external ON dirsync_users (org, source_id, external_id);
-- Keyset pagination per sort order (sort id uses dirsync_users_id). Every
-- search index ends with active, so the status check needs no row.
CREATE INDEX dirsync_users_sk_last ON dirsync_users (org, sk_last, id, active);
CREATE INDEX dirsync_users_sk_first ON dirsync_users (org, sk_first, id, active);
CREATE INDEX dirsync_users_sk_email ON dirsync_users (org, sk_email, id, active);
-- Filters: one value's people come in the default sort order, so its first
-- page is an index range without a sort.
CREATE INDEX dirsync_users_department ON dirsync_users (org, f_department, sk_last, id, active);
CREATE INDEX dirsync_users_division ON dirsync_users (org, f_division, sk_last, id, active);
CREATE INDEX dirsync_users_office ON dirsync_users (org, f_office, sk_last, id, active);
-- Identity matching looks only among inactive users: partial indexes cost
-- nothing when active people are written.
CREATE INDEX dirsync_users_inactive_idp ON dirsync_users (org, idp_id) WHERE active = 0;
CREATE INDEX dirsync_users_inactive_email ON dirsync_users (org, f_email) WHERE active = 0;

-- Folded tag values (one row per user, tag field and folded value).
CREATE TABLE dirsync_user_tags (
	org    TEXT NOT NULL,
	folded TEXT NOT NULL,
	value  TEXT NOT NULL,
	field  TEXT NOT NULL,
	uid    INTEGER NOT NULL,
	PRIMARY KEY (org, folded, value, field, uid)
) WITHOUT ROWID;

-- Folded name and email words (search.Words) for prefix search.
CREATE TABLE dirsync_user_words (
	org  TEXT NOT NULL,
	word TEXT NOT NULL,
	uid  INTEGER NOT NULL,
	PRIMARY KEY (org, word, uid)
) WITHOUT ROWID;
