CREATE TABLE dirsync_runs (
	org        TEXT NOT NULL,
	id         TEXT NOT NULL,
	status     TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	data       TEXT NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE INDEX dirsync_runs_started ON dirsync_runs (org, started_at, id);

CREATE TABLE dirsync_parked_events (
	org         TEXT NOT NULL,
	id          TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	data        TEXT NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE INDEX dirsync_parked_events_received ON dirsync_parked_events (org, received_at);

CREATE TABLE dirsync_event_marks (
	org           TEXT NOT NULL,
	id            TEXT NOT NULL,
	at            INTEGER NOT NULL,
	deactivations INTEGER NOT NULL,
	PRIMARY KEY (org, id)
) WITHOUT ROWID;
CREATE INDEX dirsync_event_marks_at ON dirsync_event_marks (org, at);

CREATE TABLE dirsync_tombstones (
	org         TEXT NOT NULL,
	source_id   TEXT NOT NULL,
	external_id TEXT NOT NULL,
	deleted_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	PRIMARY KEY (org, source_id, external_id)
) WITHOUT ROWID;

CREATE TABLE dirsync_leases (
	org        TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	token      TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE dirsync_source_states (
	org       TEXT NOT NULL,
	source_id TEXT NOT NULL,
	data      TEXT NOT NULL,
	PRIMARY KEY (org, source_id)
) WITHOUT ROWID;
