-- Per-org value counts by facet and status, kept by Apply (deltas summed per
-- transaction), so whole-org facets read a few hundred rows instead of
-- counting every person. facet is department, division, office, tag, or
-- field:<tag field name>; n may reach 0 and such rows are deleted.
CREATE TABLE dirsync_facet_counts (
	org    TEXT NOT NULL,
	facet  TEXT NOT NULL,
	folded TEXT NOT NULL,
	active INTEGER NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (org, facet, folded, active)
) WITHOUT ROWID;
