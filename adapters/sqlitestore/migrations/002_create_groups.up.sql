CREATE TABLE dirsync_groups (
	gid         INTEGER PRIMARY KEY,
	org         TEXT NOT NULL,
	id          TEXT NOT NULL,
	source_id   TEXT NOT NULL,
	external_id TEXT NOT NULL,
	name        TEXT NOT NULL,
	f_name      TEXT NOT NULL,
	version     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX dirsync_groups_id ON dirsync_groups (org, id);
CREATE UNIQUE INDEX dirsync_groups_external ON dirsync_groups (org, source_id, external_id);
CREATE INDEX dirsync_groups_name ON dirsync_groups (org, f_name);

CREATE TABLE dirsync_members (
	org TEXT NOT NULL,
	gid INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	PRIMARY KEY (org, gid, uid)
) WITHOUT ROWID;
CREATE INDEX dirsync_members_user ON dirsync_members (org, uid, gid);
