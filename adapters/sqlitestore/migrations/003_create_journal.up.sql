-- The journal: seq comes from dirsync_counters inside the writing
-- transaction, so it is gap-free per org.
CREATE TABLE dirsync_counters (
	org TEXT PRIMARY KEY,
	seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE dirsync_changes (
	org        TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	kind       TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	before     TEXT,
	after      TEXT,
	cause      TEXT NOT NULL,
	at         INTEGER NOT NULL,
	PRIMARY KEY (org, seq)
);
CREATE INDEX dirsync_changes_subject ON dirsync_changes (org, subject_id);
