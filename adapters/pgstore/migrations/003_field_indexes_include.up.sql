-- 003: the department, division and office indexes carry the other two
-- fields and the status (INCLUDE), so that a query with several field
-- filters finds its page's IDs by an index-only walk of one index in sort
-- order, checking the other filters on the index entries, and reads only
-- the page's users: at a million people, two filters matching many people
-- each but few together read thousands of heap rows otherwise.

DROP INDEX users_org_department;
CREATE INDEX users_org_department ON users (org_id, f_department, k_last, id) INCLUDE (active, f_division, f_office);
DROP INDEX users_org_division;
CREATE INDEX users_org_division ON users (org_id, f_division, k_last, id) INCLUDE (active, f_department, f_office);
DROP INDEX users_org_office;
CREATE INDEX users_org_office ON users (org_id, f_office, k_last, id) INCLUDE (active, f_department, f_division);
