-- Per-org value counts by facet, original spelling and status, kept by
-- Apply (deltas summed per transaction). Whole-org facets read these few
-- hundred rows instead of counting every person, and the label of a facet
-- value (its least original spelling) is the first row of its range. facet
-- is department, division, office, tag, or field:<tag field name>; for the
-- tag facets value is '' (their labels come from dirsync_user_tags). Rows
-- that reach 0 are deleted.
CREATE TABLE dirsync_facet_counts (
	org    TEXT NOT NULL,
	facet  TEXT NOT NULL,
	folded TEXT NOT NULL,
	value  TEXT NOT NULL,
	active INTEGER NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (org, facet, folded, value, active)
) WITHOUT ROWID;
