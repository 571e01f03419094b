-- 005: facet_pairs, kept by Apply beside facet_counts: how many users (by
-- status) with one department, division or office value (by_facet,
-- by_value, folded) hold each value of another facet (facet as in
-- facet_counts: department, division, office, tag, field:<tag field>;
-- f_value folded). Facets filtered by one such field alone — the most
-- common filtered facet, "this department's offices and teams" — are
-- sums of these rows instead of a count over every matching user (1.5 s
-- for the largest department of a million people). Rows that reach 0
-- are deleted. Existing users are counted here as Apply counts them.

CREATE TABLE facet_pairs (
    org_id   text COLLATE "C" NOT NULL,
    by_facet text COLLATE "C" NOT NULL,
    by_value text COLLATE "C" NOT NULL,
    facet    text COLLATE "C" NOT NULL,
    f_value  text COLLATE "C" NOT NULL,
    active   boolean NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (org_id, by_facet, by_value, facet, f_value, active)
);

INSERT INTO facet_pairs (org_id, by_facet, by_value, facet, f_value, active, n)
    SELECT u.org_id, b.by_facet, b.by_value, x.facet, x.f_value, u.active, count(*)
    FROM users u
    CROSS JOIN LATERAL (VALUES ('department', u.f_department), ('division', u.f_division), ('office', u.f_office)) b(by_facet, by_value)
    CROSS JOIN LATERAL (
        SELECT 'department' COLLATE "C", u.f_department WHERE b.by_facet <> 'department' AND u.f_department <> ''
        UNION ALL SELECT 'division', u.f_division WHERE b.by_facet <> 'division' AND u.f_division <> ''
        UNION ALL SELECT 'office', u.f_office WHERE b.by_facet <> 'office' AND u.f_office <> ''
        UNION ALL SELECT 'field:' || t.f, t.v FROM unnest(u.tag_fields, u.tag_values) t(f, v)
        UNION ALL SELECT DISTINCT 'tag', t.v FROM unnest(u.tag_values) t(v)
    ) x(facet, f_value)
    WHERE b.by_value <> ''
    GROUP BY 1, 2, 3, 4, 5, 6;
ANALYZE facet_pairs;
