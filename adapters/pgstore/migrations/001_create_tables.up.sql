-- 001: every table of the store. Runs with search_path set to the store's
-- schema. All text columns compare bytewise (COLLATE "C"): keys, folded values
-- and sort keys are compared exactly as Go compares strings. Times are Unix
-- nanoseconds (bigint) so that a Go time.Time round-trips exactly; NULL is
-- the zero time.

CREATE TABLE users (
    org_id              text COLLATE "C" NOT NULL,
    id                  text COLLATE "C" NOT NULL,
    source_id           text COLLATE "C" NOT NULL,
    external_id         text COLLATE "C" NOT NULL,
    idp_id              text COLLATE "C" NOT NULL,
    email               text COLLATE "C" NOT NULL,
    first_name          text COLLATE "C" NOT NULL,
    last_name           text COLLATE "C" NOT NULL,
    department          text COLLATE "C" NOT NULL,
    division            text COLLATE "C" NOT NULL,
    office              text COLLATE "C" NOT NULL,
    title               text COLLATE "C" NOT NULL,
    tags                text COLLATE "C",
    active              boolean NOT NULL,
    source_hash         text COLLATE "C" NOT NULL,
    profile_hash        text COLLATE "C" NOT NULL,
    mapping_version     text COLLATE "C" NOT NULL,
    provider_updated_at bigint,
    version             bigint NOT NULL,
    created_at          bigint NOT NULL,
    updated_at          bigint NOT NULL,
    deactivated_at      bigint,
    -- Folded copies (search.Fold) and sort keys (search.SortKey), made in Go.
    f_email             text COLLATE "C" NOT NULL,
    f_department        text COLLATE "C" NOT NULL,
    f_division          text COLLATE "C" NOT NULL,
    f_office            text COLLATE "C" NOT NULL,
    k_last              text COLLATE "C" NOT NULL,
    k_first             text COLLATE "C" NOT NULL,
    -- The folded tags (tag_fields[i] holds tag_values[i], one entry per
    -- user_tags row) and the folded words (search.Words) again, in the row:
    -- a walk of a sort index checks tag and text filters without a probe per
    -- row, and filtered facets count tags over the matching rows alone.
    tag_fields          text[] COLLATE "C",
    tag_values          text[] COLLATE "C",
    words               text[] COLLATE "C",
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, source_id, external_id)
);
-- The default sort (last name) walks this index; other sorts read the
-- org's rows through it or the primary key.
CREATE INDEX users_org_k_last ON users (org_id, k_last, id);
-- A department, division or office filter is one ordered range of its
-- index in the default sort, and the rows a filtered facet counts.
CREATE INDEX users_org_department ON users (org_id, f_department, k_last, id);
CREATE INDEX users_org_division ON users (org_id, f_division, k_last, id);
CREATE INDEX users_org_office ON users (org_id, f_office, k_last, id);
-- Identity matching looks among inactive users only: partial indexes cost
-- nothing on the write path of active people.
CREATE INDEX users_inactive_idp ON users (org_id, idp_id) WHERE NOT active AND idp_id <> '';
CREATE INDEX users_inactive_email ON users (org_id, f_email) WHERE NOT active AND f_email <> '';

-- The source record each user was mapped from: about half of a user's
-- bytes, kept apart so that searches and facets scan a narrow users heap.
CREATE TABLE user_sources (
    org_id text COLLATE "C" NOT NULL,
    id     text COLLATE "C" NOT NULL,
    source bytea,
    PRIMARY KEY (org_id, id)
);

-- Folded tag values (any tag field), one row per (user, field, folded value).
CREATE TABLE user_tags (
    org_id  text COLLATE "C" NOT NULL,
    f_value text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    field   text COLLATE "C" NOT NULL,
    value   text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, f_value, user_id, field)
);

-- Folded words (search.Words) of each user; a text term is a range scan.
CREATE TABLE user_words (
    org_id  text COLLATE "C" NOT NULL,
    word    text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, word, user_id)
);

-- Per-org counts kept by Apply: how many users (by status) hold each
-- (facet, folded value, original spelling). facet is department, division,
-- office, tag (people holding the folded value in any tag field, spelling
-- ''), field:<tag field> (spelling as user_tags keeps it), or all (every
-- user, value and spelling ''). Whole-org facets and every facet label (the
-- least spelling with n > 0) read these rows, not the users; search reads
-- them to choose which filter drives a query. Rows that reach 0 are deleted.
CREATE TABLE facet_counts (
    org_id  text COLLATE "C" NOT NULL,
    facet   text COLLATE "C" NOT NULL,
    f_value text COLLATE "C" NOT NULL,
    value   text COLLATE "C" NOT NULL,
    active  boolean NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (org_id, facet, f_value, value, active)
);

CREATE TABLE groups (
    org_id      text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    source_id   text COLLATE "C" NOT NULL,
    external_id text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    f_name      text COLLATE "C" NOT NULL,
    version     bigint NOT NULL,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, source_id, external_id)
);

CREATE TABLE memberships (
    org_id   text COLLATE "C" NOT NULL,
    group_id text COLLATE "C" NOT NULL,
    user_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (org_id, user_id, group_id);

-- The per-org journal counter: taken inside each writing transaction, so
-- commits land in sequence order and sequences are gap-free.
CREATE TABLE counters (
    org_id text COLLATE "C" PRIMARY KEY,
    seq    bigint NOT NULL
);

CREATE TABLE changes (
    org_id     text COLLATE "C" NOT NULL,
    seq        bigint NOT NULL,
    kind       text COLLATE "C" NOT NULL,
    subject_id text COLLATE "C" NOT NULL,
    before     text,
    after      text,
    cause      text COLLATE "C" NOT NULL,
    at         bigint NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE TABLE runs (
    org_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    status     text COLLATE "C" NOT NULL,
    started_at bigint,
    body       bytea NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX runs_org_started ON runs (org_id, started_at DESC, id DESC);

CREATE TABLE parked_events (
    org_id       text COLLATE "C" NOT NULL,
    id           text COLLATE "C" NOT NULL,
    pos          bigserial,
    kind         text COLLATE "C" NOT NULL,
    directory_id text COLLATE "C" NOT NULL,
    payload      bytea,
    received_at  bigint,
    reason       text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE events (
    org_id        text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    deactivations integer NOT NULL,
    at            bigint NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX events_org_at ON events (org_id, at);

CREATE TABLE tombstones (
    org_id      text COLLATE "C" NOT NULL,
    source_id   text COLLATE "C" NOT NULL,
    external_id text COLLATE "C" NOT NULL,
    deleted_at  bigint,
    expires_at  bigint,
    PRIMARY KEY (org_id, source_id, external_id)
);

CREATE TABLE leases (
    org_id     text COLLATE "C" PRIMARY KEY,
    holder     text COLLATE "C" NOT NULL,
    token      text COLLATE "C" NOT NULL,
    expires_at bigint NOT NULL
);

CREATE TABLE source_states (
    org_id           text COLLATE "C" NOT NULL,
    source_id        text COLLATE "C" NOT NULL,
    next_due_at      bigint,
    events_cursor    text COLLATE "C" NOT NULL,
    events_cursor_at bigint,
    mapping_version  text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, source_id)
);
