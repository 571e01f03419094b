package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/directorysync/directorysync/internal/tagjson"
	"github.com/directorysync/directorysync/internal/wordrows"
	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/search"
	"github.com/directorysync/directorysync/store"
)

// Apply writes req atomically in one transaction; see store.Store.
func (s *Store) Apply(ctx context.Context, req store.ApplyRequest) (store.ApplyResult, error) {
	if err := store.ValidateOrgID(req.OrgID); err != nil {
		return store.ApplyResult{}, err
	}
	if err := validateApply(&req); err != nil {
		return store.ApplyResult{}, err
	}
	if req.Lease == nil && req.Event == nil && len(req.Users) == 0 && len(req.Groups) == 0 &&
		len(req.Members) == 0 && len(req.Changes) == 0 && len(req.Tombstones) == 0 && len(req.Unpark) == 0 {
		return store.ApplyResult{}, nil // nothing to write: touch nothing
	}
	now := s.cfg.Now()
	var res store.ApplyResult
	attempt := func(careful bool) error {
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			a := applier{s: s, tx: tx, org: req.OrgID, now: now.UnixNano(), careful: careful}
			var err error
			res, err = a.run(ctx, &req)
			return err
		})
	}
	err := attempt(false)
	if errors.Is(err, errCopyConflict) {
		// A COPY met an existing key. Run the request again on the careful
		// path, which names the write that conflicts (or succeeds, if the
		// conflicting row went away meanwhile).
		err = attempt(true)
	}
	if err != nil {
		var ae *store.ApplyError
		if errors.As(err, &ae) {
			return store.ApplyResult{}, err
		}
		return store.ApplyResult{}, &store.ApplyError{Op: "commit", Index: -1, Err: interpretError(err)}
	}
	return res, nil
}

func applyErr(op string, i int, id string, err error) *store.ApplyError {
	return &store.ApplyError{Op: op, Index: i, ID: id, Err: err}
}

// validateApply checks everything that can be checked without the database.
func validateApply(req *store.ApplyRequest) error {
	if req.Lease != nil && req.Lease.OrgID != req.OrgID {
		return applyErr("lease", -1, "", fmt.Errorf("%w: the lease is org %q's, not org %q's", store.ErrLeaseLost, req.Lease.OrgID, req.OrgID))
	}
	for i := range req.Users {
		w := &req.Users[i]
		u := &w.User
		bad := func(format string, args ...any) error {
			return applyErr("user", i, u.ID, fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...))
		}
		if u.OrgID != req.OrgID {
			return bad("user of org %q in a request for org %q", u.OrgID, req.OrgID)
		}
		if u.ID == "" {
			return bad("empty user ID")
		}
		if w.ExpectVersion < 0 {
			return bad("negative expected version %d", w.ExpectVersion)
		}
		if w.Delete {
			if err := checkText("id", u.ID); err != nil {
				return applyErr("user", i, u.ID, err)
			}
			continue
		}
		if u.SourceID == "" || u.ExternalID == "" {
			return bad("user needs a source ID and an external ID")
		}
		for _, f := range [...]struct{ n, v string }{
			{"id", u.ID}, {"source_id", u.SourceID}, {"external_id", u.ExternalID}, {"idp_id", u.IdpID},
			{"email", u.Email}, {"first_name", u.FirstName}, {"last_name", u.LastName},
			{"department", u.Department}, {"division", u.Division}, {"office", u.Office}, {"title", u.Title},
			{"source_hash", u.SourceHash}, {"profile_hash", u.ProfileHash}, {"mapping_version", u.MappingVersion},
		} {
			if err := checkText(f.n, f.v); err != nil {
				return applyErr("user", i, u.ID, err)
			}
		}
		for _, t := range u.Tags {
			if err := checkText("tag field", t.Field); err != nil {
				return applyErr("user", i, u.ID, err)
			}
			if err := checkText("tag value", t.Value); err != nil {
				return applyErr("user", i, u.ID, err)
			}
		}
		if err := checkTime("provider_updated_at", u.ProviderUpdatedAt); err != nil {
			return applyErr("user", i, u.ID, err)
		}
		if u.DeactivatedAt != nil {
			if err := checkTime("deactivated_at", *u.DeactivatedAt); err != nil {
				return applyErr("user", i, u.ID, err)
			}
		}
	}
	for i := range req.Groups {
		w := &req.Groups[i]
		g := &w.Group
		bad := func(format string, args ...any) error {
			return applyErr("group", i, g.ID, fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...))
		}
		if g.OrgID != req.OrgID {
			return bad("group of org %q in a request for org %q", g.OrgID, req.OrgID)
		}
		if g.ID == "" {
			return bad("empty group ID")
		}
		if w.ExpectVersion < 0 {
			return bad("negative expected version %d", w.ExpectVersion)
		}
		fields := [...]struct{ n, v string }{{"id", g.ID}, {"source_id", g.SourceID}, {"external_id", g.ExternalID}, {"name", g.Name}}
		for _, f := range fields {
			if err := checkText(f.n, f.v); err != nil {
				return applyErr("group", i, g.ID, err)
			}
		}
		if !w.Delete && (g.SourceID == "" || g.ExternalID == "") {
			return bad("group needs a source ID and an external ID")
		}
	}
	for i, m := range req.Members {
		if m.UserID == "" || m.GroupID == "" {
			return applyErr("member", i, m.UserID, fmt.Errorf("%w: membership needs a user ID and a group ID", store.ErrInvalid))
		}
		if err := checkText("user_id", m.UserID); err != nil {
			return applyErr("member", i, m.UserID, err)
		}
		if err := checkText("group_id", m.GroupID); err != nil {
			return applyErr("member", i, m.UserID, err)
		}
	}
	for i, c := range req.Changes {
		if c.OrgID != "" && c.OrgID != req.OrgID {
			return applyErr("change", i, c.SubjectID, fmt.Errorf("%w: change of org %q in a request for org %q", store.ErrInvalid, c.OrgID, req.OrgID))
		}
		if c.Kind == "" {
			return applyErr("change", i, c.SubjectID, fmt.Errorf("%w: change without a kind", store.ErrInvalid))
		}
		for _, f := range [...]struct{ n, v string }{{"kind", string(c.Kind)}, {"subject_id", c.SubjectID}, {"cause", c.Cause}} {
			if err := checkText(f.n, f.v); err != nil {
				return applyErr("change", i, c.SubjectID, err)
			}
		}
		if err := checkTime("at", c.At); err != nil {
			return applyErr("change", i, c.SubjectID, err)
		}
	}
	for i, t := range req.Tombstones {
		if t.OrgID != "" && t.OrgID != req.OrgID {
			return applyErr("tombstone", i, t.ExternalID, fmt.Errorf("%w: tombstone of org %q in a request for org %q", store.ErrInvalid, t.OrgID, req.OrgID))
		}
		if t.ExternalID == "" {
			return applyErr("tombstone", i, t.ExternalID, fmt.Errorf("%w: tombstone without an external ID", store.ErrInvalid))
		}
		for _, f := range [...]struct{ n, v string }{{"source_id", t.SourceID}, {"external_id", t.ExternalID}} {
			if err := checkText(f.n, f.v); err != nil {
				return applyErr("tombstone", i, t.ExternalID, err)
			}
		}
		if err := errors.Join(checkTime("deleted_at", t.DeletedAt), checkTime("expires_at", t.ExpiresAt)); err != nil {
			return applyErr("tombstone", i, t.ExternalID, err)
		}
	}
	if req.Event != nil {
		if req.Event.ID == "" {
			return applyErr("event", -1, "", fmt.Errorf("%w: event mark without an ID", store.ErrInvalid))
		}
		if err := checkText("event ID", req.Event.ID); err != nil {
			return applyErr("event", -1, req.Event.ID, err)
		}
	}
	for i, id := range req.Unpark {
		if err := checkText("parked event ID", id); err != nil {
			return applyErr("unpark", i, id, err)
		}
	}
	return nil
}

type applier struct {
	s   *Store
	tx  pgx.Tx
	org string
	now int64
	// careful writes new users with INSERT … ON CONFLICT DO NOTHING, which
	// tells which write conflicts, instead of COPY, which is faster but
	// fails whole.
	careful bool
	// counts are the facet_counts deltas of the user writes so far, and
	// pairs the facet_pairs deltas.
	counts map[countKey]int64
	pairs  map[pairKey]int64
}

// pairKey is one row of facet_pairs (migration 005).
type pairKey struct {
	by, byValue, facet, fvalue string
	active                     bool
}

// countKey is one row of facet_counts.
type countKey struct {
	facet, fvalue, value string
	active               bool
}

// countUser adds delta (+1 or -1) to the facet counts of a user with these
// values.
func (a *applier) countUser(dept, div, office string, active bool, tags []tagRow, delta int64) {
	if a.counts == nil {
		a.counts = make(map[countKey]int64)
	}
	addCounts(a.counts, dept, div, office, active, tags, delta)
	if a.pairs == nil {
		a.pairs = make(map[pairKey]int64)
	}
	addPairs(a.pairs, dept, div, office, active, tags, delta)
}

// addPairs adds delta to the facet_pairs rows of a user with these values:
// for each of its department, division and office values, the other two
// and its tags (per field, and once per folded value).
func addPairs(pairs map[pairKey]int64, dept, div, office string, active bool, tags []tagRow, delta int64) {
	fields := [...]struct{ facet, fv string }{{facetDepartment, search.Fold(dept)}, {facetDivision, search.Fold(div)}, {facetOffice, search.Fold(office)}}
	for _, by := range fields {
		if by.fv == "" {
			continue
		}
		for _, f := range fields {
			if f.facet != by.facet && f.fv != "" {
				pairs[pairKey{by.facet, by.fv, f.facet, f.fv, active}] += delta
			}
		}
		for i, t := range tags {
			pairs[pairKey{by.facet, by.fv, facetFieldPrefix + t.field, t.fvalue, active}] += delta
			if !slices.ContainsFunc(tags[:i], func(r tagRow) bool { return r.fvalue == t.fvalue }) {
				pairs[pairKey{by.facet, by.fv, facetTag, t.fvalue, active}] += delta
			}
		}
	}
}

// addCounts adds delta to the facet_counts rows of a user with these values.
func addCounts(counts map[countKey]int64, dept, div, office string, active bool, tags []tagRow, delta int64) {
	counts[countKey{facetAll, "", "", active}] += delta
	for _, f := range [...]struct{ facet, value string }{{facetDepartment, dept}, {facetDivision, div}, {facetOffice, office}} {
		if fv := search.Fold(f.value); fv != "" {
			counts[countKey{f.facet, fv, f.value, active}] += delta
		}
	}
	for i, t := range tags {
		counts[countKey{facetFieldPrefix + t.field, t.fvalue, t.value, active}] += delta
		// The tag facet counts people: a value held in two fields once.
		if !slices.ContainsFunc(tags[:i], func(r tagRow) bool { return r.fvalue == t.fvalue }) {
			counts[countKey{facetTag, t.fvalue, "", active}] += delta
		}
	}
}

// nonZero returns the keys of deltas whose delta is not 0, and whether
// any is negative.
func nonZero[K comparable](deltas map[K]int64) (keys []K, negative bool) {
	keys = make([]K, 0, len(deltas))
	for k, d := range deltas {
		if d != 0 {
			keys = append(keys, k)
			negative = negative || d < 0
		}
	}
	return keys, negative
}

// flushCounts writes the facet count deltas: one upsert, then the deletion
// of rows that reached zero. Keys go in sorted order, so concurrent applies
// lock the rows in one order.
func (a *applier) flushCounts(ctx context.Context) error {
	keys, negative := nonZero(a.counts)
	if len(keys) == 0 {
		// Pair deltas may remain where the counts cancel out.
		return a.flushPairs(ctx)
	}
	slices.SortFunc(keys, func(x, y countKey) int {
		return cmp.Or(cmp.Compare(x.facet, y.facet), cmp.Compare(x.fvalue, y.fvalue), cmp.Compare(x.value, y.value),
			cmp.Compare(boolInt(x.active), boolInt(y.active)))
	})
	facets, fvalues, values := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	actives, deltas := make([]bool, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		facets[i], fvalues[i], values[i], actives[i], deltas[i] = k.facet, k.fvalue, k.value, k.active, a.counts[k]
	}
	b := &pgx.Batch{}
	b.Queue(a.s.sql(`INSERT INTO {S}.facet_counts AS c (org_id, facet, f_value, value, active, n)
		SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::int8[])
		ON CONFLICT (org_id, facet, f_value, value, active) DO UPDATE SET n = c.n + excluded.n`),
		a.org, facets, fvalues, values, actives, deltas)
	if negative {
		b.Queue(a.s.sql(`DELETE FROM {S}.facet_counts c USING unnest($2::text[], $3::text[], $4::text[], $5::bool[]) AS d(facet, f_value, value, active)
			WHERE c.org_id = $1 AND c.facet = d.facet AND c.f_value = d.f_value AND c.value = d.value AND c.active = d.active AND c.n <= 0`),
			a.org, facets, fvalues, values, actives)
	}
	if err := a.tx.SendBatch(ctx, b).Close(); err != nil {
		return applyErr("facet counts", -1, "", interpretError(err))
	}
	clear(a.counts)
	return a.flushPairs(ctx)
}

// flushPairs writes the facet_pairs deltas as flushCounts writes those of
// facet_counts.
func (a *applier) flushPairs(ctx context.Context) error {
	keys, negative := nonZero(a.pairs)
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(x, y pairKey) int {
		return cmp.Or(cmp.Compare(x.by, y.by), cmp.Compare(x.byValue, y.byValue), cmp.Compare(x.facet, y.facet),
			cmp.Compare(x.fvalue, y.fvalue), cmp.Compare(boolInt(x.active), boolInt(y.active)))
	})
	bys, byValues, facets, fvalues := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	actives, deltas := make([]bool, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		bys[i], byValues[i], facets[i], fvalues[i], actives[i], deltas[i] = k.by, k.byValue, k.facet, k.fvalue, k.active, a.pairs[k]
	}
	b := &pgx.Batch{}
	b.Queue(a.s.sql(`INSERT INTO {S}.facet_pairs AS c (org_id, by_facet, by_value, facet, f_value, active, n)
		SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::int8[])
		ON CONFLICT (org_id, by_facet, by_value, facet, f_value, active) DO UPDATE SET n = c.n + excluded.n`),
		a.org, bys, byValues, facets, fvalues, actives, deltas)
	if negative {
		b.Queue(a.s.sql(`DELETE FROM {S}.facet_pairs c USING unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[]) AS d(by_facet, by_value, facet, f_value, active)
			WHERE c.org_id = $1 AND c.by_facet = d.by_facet AND c.by_value = d.by_value AND c.facet = d.facet
			AND c.f_value = d.f_value AND c.active = d.active AND c.n <= 0`),
			a.org, bys, byValues, facets, fvalues, actives)
	}
	if err := a.tx.SendBatch(ctx, b).Close(); err != nil {
		return applyErr("facet pair counts", -1, "", interpretError(err))
	}
	clear(a.pairs)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// errCopyConflict marks a unique violation met by a COPY of new rows.
var errCopyConflict = errors.New("pgstore: COPY met an existing key")

func (a *applier) run(ctx context.Context, req *store.ApplyRequest) (store.ApplyResult, error) {
	var res store.ApplyResult
	if req.Lease != nil {
		if err := a.checkLease(ctx, req.Lease); err != nil {
			return res, err
		}
	}
	if req.Event != nil {
		tag, err := a.tx.Exec(ctx, a.s.sql(`INSERT INTO {S}.events (org_id, id, deactivations, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`),
			a.org, req.Event.ID, req.Event.Deactivations, a.now)
		if err != nil {
			return res, applyErr("event", -1, req.Event.ID, interpretError(err))
		}
		if tag.RowsAffected() == 0 {
			return res, applyErr("event", -1, req.Event.ID, store.ErrDuplicateEvent)
		}
	}
	// Users in chunks whose IDs are unique, so that set-based statements
	// keep the request's order of writes to one user.
	for start := 0; start < len(req.Users); {
		end := start
		seen := map[string]struct{}{}
		for end < len(req.Users) {
			if _, dup := seen[req.Users[end].User.ID]; dup {
				break
			}
			seen[req.Users[end].User.ID] = struct{}{}
			end++
		}
		if err := a.users(ctx, req.Users[start:end], start); err != nil {
			return res, err
		}
		start = end
	}
	if len(req.Groups) > 0 {
		if err := a.groups(ctx, req.Groups); err != nil {
			return res, err
		}
	}
	if len(req.Members) > 0 {
		if err := a.members(ctx, req.Members); err != nil {
			return res, err
		}
	}
	if len(req.Tombstones) > 0 {
		if err := a.tombstones(ctx, req.Tombstones); err != nil {
			return res, err
		}
	}
	if len(req.Unpark) > 0 {
		if _, err := a.tx.Exec(ctx, a.s.sql(`DELETE FROM {S}.parked_events WHERE org_id = $1 AND id = ANY($2)`), a.org, req.Unpark); err != nil {
			return res, applyErr("unpark", -1, "", interpretError(err))
		}
	}
	if err := a.flushCounts(ctx); err != nil {
		return res, err
	}
	// The counter is the last write: it serialises this org's writers only
	// from here to the commit.
	if len(req.Changes) > 0 {
		first, last, err := a.changes(ctx, req.Changes)
		if err != nil {
			return res, err
		}
		res.FirstSeq, res.LastSeq = first, last
	}
	return res, nil
}

func (a *applier) checkLease(ctx context.Context, l *store.Lease) error {
	var token string
	var expires int64
	err := a.tx.QueryRow(ctx, a.s.sql(`SELECT token, expires_at FROM {S}.leases WHERE org_id = $1 FOR SHARE`), a.org).Scan(&token, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return applyErr("lease", -1, "", fmt.Errorf("%w: org %q has no lease", store.ErrLeaseLost, a.org))
	}
	if err != nil {
		return applyErr("lease", -1, "", interpretError(err))
	}
	if token != l.Token {
		return applyErr("lease", -1, "", fmt.Errorf("%w: the org's lease has another token", store.ErrLeaseLost))
	}
	if expires <= a.now {
		return applyErr("lease", -1, "", fmt.Errorf("%w: the lease expired", store.ErrLeaseLost))
	}
	return nil
}

// current is the part of a stored user row that a write checks and diffs.
type current struct {
	version    int64
	externalID string
	pua        *int64
	words      []string
	tags       []tagRow
	// kLast is the row's last-name sort key, which its side rows carry.
	kLast string
	// The facet values the row counts under.
	dept, div, office string
	active            bool
}

type tagRow struct{ field, fvalue, value string }

// tagRows returns the side-table rows of tags: one per (field, folded value),
// the first spelling kept.
func tagRows(tags []mapping.Tag) []tagRow {
	var out []tagRow
	for _, t := range tags {
		fv := search.Fold(t.Value)
		if fv == "" {
			continue
		}
		if slices.ContainsFunc(out, func(r tagRow) bool { return r.field == t.Field && r.fvalue == fv }) {
			continue
		}
		out = append(out, tagRow{t.Field, fv, t.Value})
	}
	return out
}

func encodeTags(tags []mapping.Tag) *string {
	if len(tags) == 0 {
		return nil
	}
	b, _ := json.Marshal(tags)
	s := string(b)
	return &s
}

func decodeTags(s *string) ([]mapping.Tag, error) {
	if s == nil {
		return nil, nil
	}
	tags, err := tagjson.Decode(*s)
	if err != nil {
		return nil, fmt.Errorf("pgstore: stored tags: %w", err)
	}
	return tags, nil
}

// userCols are the columns of the users table in the order userArrays
// fills them.
const userCols = `org_id, id, source_id, external_id, idp_id, email, first_name, last_name, department, division, office, title,
	tags, active, source_hash, profile_hash, mapping_version, provider_updated_at, version, created_at, updated_at,
	deactivated_at, f_email, f_department, f_division, f_office, k_last, k_first, tag_fields, tag_values, words`

// userValues are the unnest columns of userUnnest in userCols order (all
// but the source, which lives in user_sources).
var userValues = `v.id, v.source_id, v.external_id, v.idp_id, v.email, v.first_name, v.last_name, v.department, v.division,
	v.office, v.title, v.tags, v.active, v.source_hash, v.profile_hash, v.mapping_version, v.provider_updated_at, v.version,
	v.created_at, v.updated_at, v.deactivated_at, v.f_email, v.f_department, v.f_division, v.f_office, v.k_last, v.k_first,
	` + jsonArray("v.tag_fields") + `, ` + jsonArray("v.tag_values") + `, ` + jsonArray("v.words")

// jsonArray turns a JSON array of strings (how the unnest statements pass
// a row's array, since unnest flattens a two-dimensional array) into text[].
func jsonArray(col string) string {
	return `ARRAY(SELECT jsonb_array_elements_text(` + col + `::jsonb))`
}

const userUnnest = `unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
	$10::text[], $11::text[], $12::text[], $13::text[], $14::bool[], $15::bytea[], $16::text[], $17::text[], $18::text[],
	$19::int8[], $20::int8[], $21::int8[], $22::int8[], $23::int8[], $24::text[], $25::text[], $26::text[], $27::text[],
	$28::text[], $29::text[], $30::text[], $31::text[], $32::text[])
	AS v(id, source_id, external_id, idp_id, email, first_name, last_name, department, division, office, title,
	tags, active, source, source_hash, profile_hash, mapping_version, provider_updated_at, version, created_at, updated_at,
	deactivated_at, f_email, f_department, f_division, f_office, k_last, k_first, tag_fields, tag_values, words)`

// userArrays are the column arrays of a set of user rows.
type userArrays struct {
	id, sourceID, externalID, idpID, email, first, last, dept, div, office, title []string
	tags                                                                          []*string
	active                                                                        []bool
	source                                                                        [][]byte
	sourceHash, profileHash, mappingVersion                                       []string
	pua                                                                           []*int64
	version, created, updated                                                     []int64
	deactivated                                                                   []*int64
	fEmail, fDept, fDiv, fOffice, kLast, kFirst                                   []string
	// The folded tags (parallel fields and values) and words of each row.
	tagFields, tagValues, words [][]string
}

// add appends a row; words and tags are search.Words and tagRows of u.
func (ua *userArrays) add(u *store.User, version, created, updated int64, words []string, tags []tagRow) {
	ua.id = append(ua.id, u.ID)
	ua.sourceID = append(ua.sourceID, u.SourceID)
	ua.externalID = append(ua.externalID, u.ExternalID)
	ua.idpID = append(ua.idpID, u.IdpID)
	ua.email = append(ua.email, u.Email)
	ua.first = append(ua.first, u.FirstName)
	ua.last = append(ua.last, u.LastName)
	ua.dept = append(ua.dept, u.Department)
	ua.div = append(ua.div, u.Division)
	ua.office = append(ua.office, u.Office)
	ua.title = append(ua.title, u.Title)
	ua.tags = append(ua.tags, encodeTags(u.Tags))
	ua.active = append(ua.active, u.Active)
	var src []byte
	if len(u.Source) > 0 {
		src = u.Source
	}
	ua.source = append(ua.source, src)
	ua.sourceHash = append(ua.sourceHash, u.SourceHash)
	ua.profileHash = append(ua.profileHash, u.ProfileHash)
	ua.mappingVersion = append(ua.mappingVersion, u.MappingVersion)
	ua.pua = append(ua.pua, tsArg(u.ProviderUpdatedAt))
	ua.version = append(ua.version, version)
	ua.created = append(ua.created, created)
	ua.updated = append(ua.updated, updated)
	ua.deactivated = append(ua.deactivated, tsPtrArg(u.DeactivatedAt))
	ua.fEmail = append(ua.fEmail, search.Fold(u.Email))
	ua.fDept = append(ua.fDept, search.Fold(u.Department))
	ua.fDiv = append(ua.fDiv, search.Fold(u.Division))
	ua.fOffice = append(ua.fOffice, search.Fold(u.Office))
	ua.kLast = append(ua.kLast, search.SortKey(search.SortLastName, u.FirstName, u.LastName, u.Email))
	ua.kFirst = append(ua.kFirst, search.SortKey(search.SortFirstName, u.FirstName, u.LastName, u.Email))
	var fields, values []string
	if len(tags) > 0 {
		fields, values = make([]string, len(tags)), make([]string, len(tags))
		for i, t := range tags {
			fields[i], values[i] = t.field, t.fvalue
		}
	}
	ua.tagFields = append(ua.tagFields, fields)
	ua.tagValues = append(ua.tagValues, values)
	ua.words = append(ua.words, words)
}

// jsonArrays encodes each row's array as a JSON array (see jsonArray).
func jsonArrays(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		if r == nil {
			r = []string{}
		}
		b, _ := json.Marshal(r)
		out[i] = string(b)
	}
	return out
}

func (ua *userArrays) args(org string) []any {
	return []any{org, ua.id, ua.sourceID, ua.externalID, ua.idpID, ua.email, ua.first, ua.last, ua.dept, ua.div,
		ua.office, ua.title, ua.tags, ua.active, ua.source, ua.sourceHash, ua.profileHash, ua.mappingVersion, ua.pua,
		ua.version, ua.created, ua.updated, ua.deactivated, ua.fEmail, ua.fDept, ua.fDiv, ua.fOffice, ua.kLast, ua.kFirst,
		jsonArrays(ua.tagFields), jsonArrays(ua.tagValues), jsonArrays(ua.words)}
}

// sideRows collects side-table rows to insert or delete.
// Every side row carries its user's last-name sort key (k_last), part of
// the tables' primary keys (migration 002).
type sideRows struct {
	wordUser, wordKey, word                          []string
	wordLCP, delWordLCP                              []int16
	tagUser, tagKey, tagField, tagFValue, tagValue   []string
	delWordUser, delWordKey, delWord                 []string
	delTagUser, delTagKey, delTagField, delTagFValue []string
}

// lcpBelow returns the user_words.lcp values of the rows a term of n bytes
// reads (migration 004): those below n, or all of them past wordrows.Cap.
func lcpBelow(n int) []int16 {
	out := make([]int16, min(n, wordrows.Cap+1))
	for i := range out {
		out[i] = int16(i)
	}
	return out
}

// addWords adds the user's user_words rows (wordrows.Rows, migration 004).
func (sr *sideRows) addWords(userID, kLast string, words []string) {
	ws, lcps := wordrows.Rows(kLast, words)
	for i, w := range ws {
		sr.wordUser = append(sr.wordUser, userID)
		sr.wordKey = append(sr.wordKey, kLast)
		sr.word = append(sr.word, w)
		sr.wordLCP = append(sr.wordLCP, lcps[i])
	}
}

func (sr *sideRows) addTags(userID, kLast string, tags []tagRow) {
	for _, t := range tags {
		sr.tagUser = append(sr.tagUser, userID)
		sr.tagKey = append(sr.tagKey, kLast)
		sr.tagField = append(sr.tagField, t.field)
		sr.tagFValue = append(sr.tagFValue, t.fvalue)
		sr.tagValue = append(sr.tagValue, t.value)
	}
}

// delWords deletes the user's user_words rows, words being all of the
// words they were written for.
func (sr *sideRows) delWords(userID, kLast string, words []string) {
	ws, lcps := wordrows.Rows(kLast, words)
	for i, w := range ws {
		sr.delWordUser = append(sr.delWordUser, userID)
		sr.delWordKey = append(sr.delWordKey, kLast)
		sr.delWord = append(sr.delWord, w)
		sr.delWordLCP = append(sr.delWordLCP, lcps[i])
	}
}

func (sr *sideRows) delTags(userID, kLast string, tags []tagRow) {
	for _, t := range tags {
		sr.delTagUser = append(sr.delTagUser, userID)
		sr.delTagKey = append(sr.delTagKey, kLast)
		sr.delTagField = append(sr.delTagField, t.field)
		sr.delTagFValue = append(sr.delTagFValue, t.fvalue)
	}
}

// users applies writes whose user IDs are unique; base is the index of
// writes[0] in the request.
func (a *applier) users(ctx context.Context, writes []store.UserWrite, base int) error {
	// Read (and lock) the rows that exist, in ID order.
	ids := make([]string, 0, len(writes))
	needRead := false
	for i := range writes {
		ids = append(ids, writes[i].User.ID)
		if writes[i].ExpectVersion != 0 || writes[i].Delete {
			needRead = true
		}
	}
	cur := map[string]*current{}
	if needRead {
		var err error
		cur, err = a.readCurrent(ctx, ids)
		if err != nil {
			return applyErr("user", -1, "", interpretError(err))
		}
	} else {
		// Inserts only: a conflict on ID or (source, external ID) shows as a
		// row the INSERT … ON CONFLICT DO NOTHING did not return.
		cur = nil
	}

	var ins, upd userArrays
	var side sideRows
	var insIdx []int
	var delIDs []string
	for i := range writes {
		w := &writes[i]
		u := &w.User
		c := cur[u.ID]
		switch {
		case w.ExpectVersion == 0 && w.Delete:
			return applyErr("user", base+i, u.ID, fmt.Errorf("%w: delete needs the expected version", store.ErrInvalid))
		case w.ExpectVersion == 0:
			if c != nil {
				return applyErr("user", base+i, u.ID, fmt.Errorf("%w: user %q exists", store.ErrConflict, u.ID))
			}
			words, tags := search.Words(u.FirstName, u.LastName, u.Email), tagRows(u.Tags)
			ins.add(u, 1, a.now, a.now, words, tags)
			insIdx = append(insIdx, base+i)
			kLast := ins.kLast[len(ins.kLast)-1]
			side.addWords(u.ID, kLast, words)
			side.addTags(u.ID, kLast, tags)
			a.countUser(u.Department, u.Division, u.Office, u.Active, tags, 1)
		default:
			if c == nil {
				return applyErr("user", base+i, u.ID, fmt.Errorf("%w: user %q does not exist (expected version %d)", store.ErrConflict, u.ID, w.ExpectVersion))
			}
			if c.version != w.ExpectVersion {
				return applyErr("user", base+i, u.ID, fmt.Errorf("%w: user %q is at version %d, not %d", store.ErrConflict, u.ID, c.version, w.ExpectVersion))
			}
			if w.Delete {
				delIDs = append(delIDs, u.ID)
				side.delWords(u.ID, c.kLast, c.words)
				side.delTags(u.ID, c.kLast, c.tags)
				a.countUser(c.dept, c.div, c.office, c.active, c.tags, -1)
				continue
			}
			if c.pua != nil && !u.ProviderUpdatedAt.IsZero() && u.ExternalID == c.externalID && u.ProviderUpdatedAt.UnixNano() < *c.pua {
				return applyErr("user", base+i, u.ID, fmt.Errorf("%w: provider updated_at %s is older than the stored %s", store.ErrStale,
					u.ProviderUpdatedAt.UTC().Format("2006-01-02T15:04:05.999999999Z"), fromNanos(c.pua).Format("2006-01-02T15:04:05.999999999Z")))
			}
			newWords := search.Words(u.FirstName, u.LastName, u.Email)
			newTags := tagRows(u.Tags)
			upd.add(u, c.version+1, 0, a.now, newWords, newTags)
			if c.dept != u.Department || c.div != u.Division || c.office != u.Office || c.active != u.Active || !slices.Equal(c.tags, newTags) {
				// Unchanged, the two would cancel out (some 50 map
				// updates per user, in a remap of every row).
				a.countUser(c.dept, c.div, c.office, c.active, c.tags, -1)
				a.countUser(u.Department, u.Division, u.Office, u.Active, newTags, 1)
			}
			if kLast := upd.kLast[len(upd.kLast)-1]; kLast != c.kLast {
				// The key is in every side row: rewrite them all.
				side.delWords(u.ID, c.kLast, c.words)
				side.addWords(u.ID, kLast, newWords)
				side.delTags(u.ID, c.kLast, c.tags)
				side.addTags(u.ID, kLast, newTags)
				continue
			}
			if len(minus(c.words, newWords)) > 0 || len(minus(newWords, c.words)) > 0 {
				// A word's row depends on the user's other words.
				side.delWords(u.ID, c.kLast, c.words)
				side.addWords(u.ID, c.kLast, newWords)
			}
			side.delTags(u.ID, c.kLast, minusTags(c.tags, newTags))
			side.addTags(u.ID, c.kLast, minusTags(newTags, c.tags))
		}
	}

	b := &pgx.Batch{}
	if len(delIDs) > 0 {
		b.Queue(a.s.sql(`DELETE FROM {S}.users WHERE org_id = $1 AND id = ANY($2)`), a.org, delIDs)
		b.Queue(a.s.sql(`DELETE FROM {S}.memberships WHERE org_id = $1 AND user_id = ANY($2)`), a.org, delIDs)
		b.Queue(a.s.sql(`DELETE FROM {S}.user_sources WHERE org_id = $1 AND id = ANY($2)`), a.org, delIDs)
	}
	if len(side.delWord) > 0 {
		b.Queue(a.s.sql(`DELETE FROM {S}.user_words w USING unnest($2::text[], $3::text[], $4::text[], $5::int2[]) AS d(user_id, k_last, word, lcp)
			WHERE w.org_id = $1 AND w.lcp = d.lcp AND w.word = d.word AND w.k_last = d.k_last AND w.user_id = d.user_id`),
			a.org, side.delWordUser, side.delWordKey, side.delWord, side.delWordLCP)
	}
	if len(side.delTagFValue) > 0 {
		b.Queue(a.s.sql(`DELETE FROM {S}.user_tags t USING unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS d(user_id, k_last, field, f_value)
			WHERE t.org_id = $1 AND t.f_value = d.f_value AND t.k_last = d.k_last AND t.user_id = d.user_id AND t.field = d.field`),
			a.org, side.delTagUser, side.delTagKey, side.delTagField, side.delTagFValue)
	}
	if len(upd.id) > 0 {
		b.Queue(a.s.sql(`UPDATE {S}.users u SET source_id = v.source_id, external_id = v.external_id, idp_id = v.idp_id,
			email = v.email, first_name = v.first_name, last_name = v.last_name, department = v.department,
			division = v.division, office = v.office, title = v.title, tags = v.tags, active = v.active,
			source_hash = v.source_hash, profile_hash = v.profile_hash,
			mapping_version = v.mapping_version, provider_updated_at = v.provider_updated_at, version = v.version,
			updated_at = v.updated_at, deactivated_at = v.deactivated_at, f_email = v.f_email,
			f_department = v.f_department, f_division = v.f_division, f_office = v.f_office, k_last = v.k_last,
			k_first = v.k_first, tag_fields = `+jsonArray("v.tag_fields")+`, tag_values = `+jsonArray("v.tag_values")+`,
			words = `+jsonArray("v.words")+`
			FROM `+userUnnest+` WHERE u.org_id = $1 AND u.id = v.id`), upd.args(a.org)...)
		b.Queue(a.s.sql(`UPDATE {S}.user_sources s SET source = v.source FROM unnest($2::text[], $3::bytea[]) AS v(id, source)
			WHERE s.org_id = $1 AND s.id = v.id AND s.source IS DISTINCT FROM v.source`), a.org, upd.id, upd.source)
	}
	insAt := -1
	if len(ins.id) > 0 && a.careful {
		insAt = b.Len()
		b.Queue(a.s.sql(`INSERT INTO {S}.users (`+userCols+`) SELECT $1, `+userValues+` FROM `+userUnnest+`
			ON CONFLICT DO NOTHING RETURNING id`), ins.args(a.org)...)
		b.Queue(a.s.sql(`INSERT INTO {S}.user_sources (org_id, id, source) SELECT $1, * FROM unnest($2::text[], $3::bytea[])`),
			a.org, ins.id, ins.source)
	}
	if a.careful {
		if len(side.word) > 0 {
			b.Queue(a.s.sql(`INSERT INTO {S}.user_words (org_id, user_id, k_last, word, lcp) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int2[])`),
				a.org, side.wordUser, side.wordKey, side.word, side.wordLCP)
		}
		if len(side.tagFValue) > 0 {
			b.Queue(a.s.sql(`INSERT INTO {S}.user_tags (org_id, user_id, k_last, field, f_value, value)
				SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`),
				a.org, side.tagUser, side.tagKey, side.tagField, side.tagFValue, side.tagValue)
		}
	}
	if b.Len() > 0 {
		if err := a.sendUsers(ctx, b, insAt, &ins, insIdx, writes, base); err != nil {
			return err
		}
	}
	if a.careful {
		return nil
	}
	// New rows go in by COPY, straight into the tables.
	if len(ins.id) > 0 {
		if err := a.copy(ctx, "users", splitCols(userCols), &userSource{org: a.org, ua: &ins}); err != nil {
			return err
		}
		if _, err := a.tx.CopyFrom(ctx, pgx.Identifier{a.s.cfg.Schema, "user_sources"}, []string{"org_id", "id", "source"},
			pgx.CopyFromSlice(len(ins.id), func(i int) ([]any, error) { return []any{a.org, ins.id[i], ins.source[i]}, nil })); err != nil {
			return applyErr("user", -1, "", interpretError(err))
		}
	}
	if len(side.word) > 0 {
		if err := a.copy(ctx, "user_words", []string{"org_id", "user_id", "k_last", "word", "lcp"},
			&columnsSource{org: a.org, cols: [][]string{side.wordUser, side.wordKey, side.word}, nums: side.wordLCP}); err != nil {
			return err
		}
	}
	if len(side.tagFValue) > 0 {
		if err := a.copy(ctx, "user_tags", []string{"org_id", "user_id", "k_last", "field", "f_value", "value"},
			&columnsSource{org: a.org, cols: [][]string{side.tagUser, side.tagKey, side.tagField, side.tagFValue, side.tagValue}}); err != nil {
			return err
		}
	}
	return nil
}

// copy COPYs rows into one of the store's tables; a unique violation is
// errCopyConflict, for Apply to retry on the careful path.
func (a *applier) copy(ctx context.Context, table string, cols []string, src pgx.CopyFromSource) error {
	if _, err := a.tx.CopyFrom(ctx, pgx.Identifier{a.s.cfg.Schema, table}, cols, src); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return fmt.Errorf("%w: %s: %w", errCopyConflict, table, err)
		}
		return applyErr("user", -1, "", interpretError(err))
	}
	return nil
}

// sendUsers runs the pipelined statements of a users chunk; the statement
// at insAt (if any) inserts ins and returns the IDs it inserted.
func (a *applier) sendUsers(ctx context.Context, b *pgx.Batch, insAt int, ins *userArrays, insIdx []int, writes []store.UserWrite, base int) error {
	br := a.tx.SendBatch(ctx, b)
	defer br.Close()
	for i := 0; i < b.Len(); i++ {
		if i == insAt {
			rows, err := br.Query()
			if err != nil {
				return applyErr("user", -1, "", interpretError(err))
			}
			got := make(map[string]struct{}, len(ins.id))
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return applyErr("user", -1, "", interpretError(err))
				}
				got[id] = struct{}{}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return applyErr("user", -1, "", interpretError(err))
			}
			if len(got) != len(ins.id) {
				for k, id := range ins.id {
					if _, ok := got[id]; !ok {
						u := &writes[insIdx[k]-base].User
						return applyErr("user", insIdx[k], id, fmt.Errorf("%w: the org has a user with ID %q or external ID %q in source %q",
							store.ErrConflict, id, u.ExternalID, u.SourceID))
					}
				}
			}
			continue
		}
		if _, err := br.Exec(); err != nil {
			return applyErr("user", -1, "", interpretError(err))
		}
	}
	return br.Close()
}

// readCurrent reads and locks the stored users among ids.
func (a *applier) readCurrent(ctx context.Context, ids []string) (map[string]*current, error) {
	rows, err := a.tx.Query(ctx, a.s.sql(`SELECT id, version, external_id, provider_updated_at, first_name, last_name, email, tags,
		department, division, office, active
		FROM {S}.users WHERE org_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`), a.org, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*current, len(ids))
	for rows.Next() {
		var id, first, last, email string
		var tags *string
		c := &current{}
		if err := rows.Scan(&id, &c.version, &c.externalID, &c.pua, &first, &last, &email, &tags,
			&c.dept, &c.div, &c.office, &c.active); err != nil {
			return nil, err
		}
		c.words = search.Words(first, last, email)
		c.kLast = search.SortKey(search.SortLastName, first, last, email)
		t, err := decodeTags(tags)
		if err != nil {
			return nil, err
		}
		c.tags = tagRows(t)
		out[id] = c
	}
	return out, rows.Err()
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func minusTags(a, b []tagRow) []tagRow {
	var out []tagRow
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y tagRow) bool { return x.field == y.field && x.fvalue == y.fvalue && x.value == y.value }) {
			out = append(out, x)
		}
	}
	return out
}

// groups applies group writes in request order, with per-row statements
// (groups are few).
func (a *applier) groups(ctx context.Context, writes []store.GroupWrite) error {
	ids := make([]string, 0, len(writes))
	for _, w := range writes {
		ids = append(ids, w.Group.ID)
	}
	rows, err := a.tx.Query(ctx, a.s.sql(`SELECT id, version FROM {S}.groups WHERE org_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`), a.org, ids)
	if err != nil {
		return applyErr("group", -1, "", interpretError(err))
	}
	versions := map[string]int64{}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return applyErr("group", -1, "", interpretError(err))
		}
		versions[id] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return applyErr("group", -1, "", interpretError(err))
	}
	b := &pgx.Batch{}
	var idx []int
	for i := range writes {
		w := &writes[i]
		g := &w.Group
		v, exists := versions[g.ID]
		switch {
		case w.ExpectVersion == 0 && w.Delete:
			return applyErr("group", i, g.ID, fmt.Errorf("%w: delete needs the expected version", store.ErrInvalid))
		case w.ExpectVersion == 0:
			if exists {
				return applyErr("group", i, g.ID, fmt.Errorf("%w: group %q exists", store.ErrConflict, g.ID))
			}
			b.Queue(a.s.sql(`INSERT INTO {S}.groups (org_id, id, source_id, external_id, name, f_name, version, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)`),
				a.org, g.ID, g.SourceID, g.ExternalID, g.Name, search.Fold(g.Name), a.now)
			versions[g.ID] = 1
		case !exists:
			return applyErr("group", i, g.ID, fmt.Errorf("%w: group %q does not exist (expected version %d)", store.ErrConflict, g.ID, w.ExpectVersion))
		case v != w.ExpectVersion:
			return applyErr("group", i, g.ID, fmt.Errorf("%w: group %q is at version %d, not %d", store.ErrConflict, g.ID, v, w.ExpectVersion))
		case w.Delete:
			b.Queue(a.s.sql(`DELETE FROM {S}.groups WHERE org_id = $1 AND id = $2`), a.org, g.ID)
			idx = append(idx, i)
			b.Queue(a.s.sql(`DELETE FROM {S}.memberships WHERE org_id = $1 AND group_id = $2`), a.org, g.ID)
			delete(versions, g.ID)
		default:
			b.Queue(a.s.sql(`UPDATE {S}.groups SET source_id = $3, external_id = $4, name = $5, f_name = $6, version = $7, updated_at = $8
				WHERE org_id = $1 AND id = $2`),
				a.org, g.ID, g.SourceID, g.ExternalID, g.Name, search.Fold(g.Name), v+1, a.now)
			versions[g.ID] = v + 1
		}
		for len(idx) < b.Len() {
			idx = append(idx, i)
		}
	}
	br := a.tx.SendBatch(ctx, b)
	defer br.Close()
	for k := 0; k < b.Len(); k++ {
		if _, err := br.Exec(); err != nil {
			i := idx[k]
			return applyErr("group", i, writes[i].Group.ID, interpretError(err))
		}
	}
	return br.Close()
}

// members applies membership writes. The last write of a pair wins, as if
// applied in order.
func (a *applier) members(ctx context.Context, writes []store.MemberWrite) error {
	type pair struct{ u, g string }
	final := map[pair]bool{}
	var order []pair
	var userIDs, groupIDs []string
	for _, w := range writes {
		p := pair{w.UserID, w.GroupID}
		if _, ok := final[p]; !ok {
			order = append(order, p)
			userIDs = append(userIDs, w.UserID)
			groupIDs = append(groupIDs, w.GroupID)
		}
		final[p] = !w.Remove
	}
	// Both ends must exist after the request's user and group writes.
	var missingUser, missingGroup *string
	err := a.tx.QueryRow(ctx, a.s.sql(`SELECT
		(SELECT min(x) FROM unnest($2::text[]) x WHERE NOT EXISTS (SELECT 1 FROM {S}.users u WHERE u.org_id = $1 AND u.id = x)),
		(SELECT min(x) FROM unnest($3::text[]) x WHERE NOT EXISTS (SELECT 1 FROM {S}.groups g WHERE g.org_id = $1 AND g.id = x))`),
		a.org, userIDs, groupIDs).Scan(&missingUser, &missingGroup)
	if err != nil {
		return applyErr("member", -1, "", interpretError(err))
	}
	if missingUser != nil || missingGroup != nil {
		for i, w := range writes {
			if missingUser != nil && w.UserID == *missingUser {
				return applyErr("member", i, w.UserID, fmt.Errorf("%w: the org has no user %q", store.ErrInvalid, w.UserID))
			}
			if missingGroup != nil && w.GroupID == *missingGroup {
				return applyErr("member", i, w.UserID, fmt.Errorf("%w: the org has no group %q", store.ErrInvalid, w.GroupID))
			}
		}
	}
	var addU, addG, delU, delG []string
	for _, p := range order {
		if final[p] {
			addU, addG = append(addU, p.u), append(addG, p.g)
		} else {
			delU, delG = append(delU, p.u), append(delG, p.g)
		}
	}
	if len(delU) > 0 {
		if _, err := a.tx.Exec(ctx, a.s.sql(`DELETE FROM {S}.memberships m USING unnest($2::text[], $3::text[]) AS d(user_id, group_id)
			WHERE m.org_id = $1 AND m.group_id = d.group_id AND m.user_id = d.user_id`), a.org, delU, delG); err != nil {
			return applyErr("member", -1, "", interpretError(err))
		}
	}
	if len(addU) > 0 {
		if _, err := a.tx.Exec(ctx, a.s.sql(`INSERT INTO {S}.memberships (org_id, user_id, group_id)
			SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT DO NOTHING`), a.org, addU, addG); err != nil {
			return applyErr("member", -1, "", interpretError(err))
		}
	}
	return nil
}

func (a *applier) tombstones(ctx context.Context, ts []store.Tombstone) error {
	// The last tombstone of a key wins.
	type key struct{ s, e string }
	last := map[key]int{}
	for i, t := range ts {
		last[key{t.SourceID, t.ExternalID}] = i
	}
	var src, ext []string
	var del, exp []*int64
	for i, t := range ts {
		if last[key{t.SourceID, t.ExternalID}] != i {
			continue
		}
		src, ext = append(src, t.SourceID), append(ext, t.ExternalID)
		del, exp = append(del, tsArg(t.DeletedAt)), append(exp, tsArg(t.ExpiresAt))
	}
	_, err := a.tx.Exec(ctx, a.s.sql(`INSERT INTO {S}.tombstones (org_id, source_id, external_id, deleted_at, expires_at)
		SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[])
		ON CONFLICT (org_id, source_id, external_id) DO UPDATE SET deleted_at = excluded.deleted_at, expires_at = excluded.expires_at`),
		a.org, src, ext, del, exp)
	if err != nil {
		return applyErr("tombstone", -1, "", interpretError(err))
	}
	return nil
}

// changes takes len(cs) numbers from the org's counter and writes the
// journal entries.
func (a *applier) changes(ctx context.Context, cs []store.Change) (first, last int64, err error) {
	n := int64(len(cs))
	err = a.tx.QueryRow(ctx, a.s.sql(`INSERT INTO {S}.counters AS c (org_id, seq) VALUES ($1, $2)
		ON CONFLICT (org_id) DO UPDATE SET seq = c.seq + excluded.seq RETURNING c.seq`), a.org, n).Scan(&last)
	if err != nil {
		return 0, 0, applyErr("change", -1, "", interpretError(err))
	}
	first = last - n + 1
	seqs := make([]int64, n)
	kinds := make([]string, n)
	subjects := make([]string, n)
	befores := make([]*string, n)
	afters := make([]*string, n)
	causes := make([]string, n)
	ats := make([]int64, n)
	for i, c := range cs {
		seqs[i] = first + int64(i)
		kinds[i] = string(c.Kind)
		subjects[i] = c.SubjectID
		befores[i] = encodeFields(c.Before)
		afters[i] = encodeFields(c.After)
		causes[i] = c.Cause
		if c.At.IsZero() {
			ats[i] = a.now
		} else {
			ats[i] = c.At.UnixNano()
		}
	}
	_, err = a.tx.CopyFrom(ctx, pgx.Identifier{a.s.cfg.Schema, "changes"},
		[]string{"org_id", "seq", "kind", "subject_id", "before", "after", "cause", "at"},
		pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
			return []any{a.org, seqs[i], kinds[i], subjects[i], befores[i], afters[i], causes[i], ats[i]}, nil
		}))
	if err != nil {
		return 0, 0, applyErr("change", -1, "", interpretError(err))
	}
	return first, last, nil
}

func encodeFields(m map[string]any) *string {
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		b = fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	s := string(b)
	return &s
}

// splitCols splits a column list.
func splitCols(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// userSource feeds userArrays to COPY.
type userSource struct {
	org string
	ua  *userArrays
	i   int
}

func (u *userSource) Next() bool { u.i++; return u.i <= len(u.ua.id) }
func (u *userSource) Err() error { return nil }
func (u *userSource) Values() ([]any, error) {
	k, ua := u.i-1, u.ua
	return []any{u.org, ua.id[k], ua.sourceID[k], ua.externalID[k], ua.idpID[k], ua.email[k], ua.first[k], ua.last[k],
		ua.dept[k], ua.div[k], ua.office[k], ua.title[k], ua.tags[k], ua.active[k], ua.sourceHash[k],
		ua.profileHash[k], ua.mappingVersion[k], ua.pua[k], ua.version[k], ua.created[k], ua.updated[k],
		ua.deactivated[k], ua.fEmail[k], ua.fDept[k], ua.fDiv[k], ua.fOffice[k], ua.kLast[k], ua.kFirst[k],
		ua.tagFields[k], ua.tagValues[k], ua.words[k]}, nil
}

// columnsSource feeds the org and parallel text columns to COPY.
type columnsSource struct {
	org  string
	cols [][]string
	nums []int16 // a last column, if not nil
	i    int
	row  []any
}

func (c *columnsSource) Next() bool { c.i++; return c.i <= len(c.cols[0]) }
func (c *columnsSource) Err() error { return nil }
func (c *columnsSource) Values() ([]any, error) {
	if c.row == nil {
		n := len(c.cols) + 1
		if c.nums != nil {
			n++
		}
		c.row = make([]any, n)
	}
	c.row[0] = c.org
	for j, col := range c.cols {
		c.row[j+1] = col[c.i-1]
	}
	if c.nums != nil {
		c.row[len(c.row)-1] = c.nums[c.i-1]
	}
	return c.row, nil
}
