package sqlitestore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"

	"github.com/directorysync/directorysync/mapping"
	"github.com/directorysync/directorysync/store"
)

// mockStep is one statement the apply below runs, in order.
type mockStep struct {
	op    string // the ApplyError's "op[index]" the failure must name
	query string
	// reused: the statement was prepared by an earlier step of the same
	// transaction, so this step only runs it.
	reused bool
	res    driver.Result    // for execs
	cols   []string         // column names of rows (to rebuild them per run)
	vals   [][]driver.Value // rows' values
}

var errInjected = errors.New("injected failure")

// failureRequest touches every kind of write Apply makes.
func failureRequest(now time.Time) store.ApplyRequest {
	return store.ApplyRequest{
		OrgID: "acme",
		Lease: &store.Lease{OrgID: "acme", Token: "tok"},
		Event: &store.EventMark{ID: "evt_1", Deactivations: 1},
		Users: []store.UserWrite{
			{User: store.User{OrgID: "acme", SourceID: "src", ID: "u1", ExternalID: "x1", FirstName: "Ann", Department: "Eng",
				Tags: []mapping.Tag{{Field: "team", Value: "Mobile"}}}},
			{User: store.User{OrgID: "acme", SourceID: "src", ID: "u2", ExternalID: "x2", FirstName: "Bob", Active: true}, ExpectVersion: 3},
			{User: narrowUser, ExpectVersion: 2},
		},
		Groups:     []store.GroupWrite{{Group: store.Group{OrgID: "acme", SourceID: "src", ID: "g1", ExternalID: "gx1", Name: "Eng"}}},
		Members:    []store.MemberWrite{{Membership: store.Membership{UserID: "u1", GroupID: "g1"}}},
		Changes:    []store.Change{{Kind: store.ChangeCreated, SubjectID: "u1", After: map[string]any{"first_name": "Ann"}, Cause: "evt_1"}},
		Tombstones: []store.Tombstone{{SourceID: "src", ExternalID: "x9", DeletedAt: now, ExpiresAt: now.Add(time.Hour)}},
		Unpark:     []string{"evt_0"},
	}
}

// narrowUser is failureRequest's update that keeps every indexed column
// (a new title), which Apply writes with qUserUpdateRow.
var narrowUser = store.User{OrgID: "acme", SourceID: "src", ID: "u3", ExternalID: "x3", FirstName: "Cy", LastName: "Dee",
	Title: "Lead", Active: true}

// userLoadCols are the columns qUserLoad returns.
var userLoadCols = []string{"uid", "version", "external_id", "provider_updated_at", "first_name", "last_name", "email", "tags",
	"department", "division", "office", "active", "source_id", "idp_id", "f_email", "f_department", "f_division", "f_office",
	"f_tags", "sk_last", "sk_first", "sk_email"}

// failureSteps lists the statements of failureRequest, in the order Apply
// runs them, with what each returns when it succeeds.
func failureSteps(now time.Time) []mockStep {
	future := now.Add(time.Hour).UnixNano()
	d, err := derive(&narrowUser)
	if err != nil {
		panic(err)
	}
	narrow := indexedOf(&narrowUser, &d)
	return []mockStep{
		{op: "apply lease", query: qLeaseCheck, cols: []string{"token", "expires_at"}, vals: [][]driver.Value{{"tok", future}}},
		{op: "apply event", query: qEventInsert, res: sqlmock.NewResult(1, 1)},
		{op: "apply user[0]", query: qUserInsert, res: sqlmock.NewResult(7, 1)},
		{op: "apply user[0]", query: qWordInsert, res: sqlmock.NewResult(1, 1)},
		{op: "apply user[0]", query: qTagInsert, res: sqlmock.NewResult(1, 1)},
		{op: "apply user[1]", query: qUserLoad, cols: userLoadCols,
			vals: [][]driver.Value{{int64(8), int64(3), "x2", nil, "Bob", "", "", "[]", "", "", "", true,
				"src", "", "", "", "", "", "[]", "", "", ""}}},
		{op: "apply user[1]", query: qUserUpdate, res: sqlmock.NewResult(0, 1)},
		{op: "apply user[2]", query: qUserLoad, cols: userLoadCols, reused: true,
			vals: [][]driver.Value{{int64(9), int64(2), "x3", nil, "Cy", "Dee", "", "[]", "", "", "", true,
				narrow[0], narrow[1], narrow[2], narrow[3], narrow[4], narrow[5], narrow[6], narrow[7], narrow[8], narrow[9]}}},
		{op: "apply user[2]", query: qUserUpdateRow, res: sqlmock.NewResult(0, 1)},
		// Facet counts: user[0]'s department, and team tag as a tag field
		// value and as a tag; then the department's pairs with the tag.
		{op: "apply user: update facet counts", query: qCountAdd, res: sqlmock.NewResult(0, 1)},
		{op: "apply user: update facet counts", query: qCountAdd, res: sqlmock.NewResult(0, 1), reused: true},
		{op: "apply user: update facet counts", query: qCountAdd, res: sqlmock.NewResult(0, 1), reused: true},
		{op: "apply user: update facet pairs", query: qPairAdd, res: sqlmock.NewResult(0, 1)},
		{op: "apply user: update facet pairs", query: qPairAdd, res: sqlmock.NewResult(0, 1), reused: true},
		{op: "apply group[0]", query: qGroupInsert, res: sqlmock.NewResult(1, 1)},
		{op: "apply member[0]", query: qMemberAdd, res: sqlmock.NewResult(1, 1)},
		{op: "apply change", query: qCounterBump, cols: []string{"seq"}, vals: [][]driver.Value{{int64(1)}}},
		{op: "apply change[0]", query: qChangeInsert, res: sqlmock.NewResult(1, 1)},
		{op: "apply tombstone[0]", query: qTombstoneUpsert, res: sqlmock.NewResult(1, 1)},
		{op: "apply unpark[0]", query: qUnpark, res: sqlmock.NewResult(0, 1)},
	}
}

// expect registers step st on mock; fail says whether the prepare or the
// statement itself returns errInjected.
func expect(mock sqlmock.Sqlmock, st mockStep, failPrepare, failRun bool) {
	q := regexp.QuoteMeta(st.query)
	if st.reused && st.cols != nil {
		e := mock.ExpectQuery(q)
		if failRun {
			e.WillReturnError(errInjected)
			return
		}
		e.WillReturnRows(mockRows(st))
		return
	}
	if st.reused {
		e := mock.ExpectExec(q)
		if failRun {
			e.WillReturnError(errInjected)
			return
		}
		e.WillReturnResult(st.res)
		return
	}
	p := mock.ExpectPrepare(q)
	if failPrepare {
		p.WillReturnError(errInjected)
		return
	}
	if st.cols != nil {
		e := p.ExpectQuery()
		if failRun {
			e.WillReturnError(errInjected)
			return
		}
		e.WillReturnRows(mockRows(st))
		return
	}
	e := p.ExpectExec()
	if failRun {
		e.WillReturnError(errInjected)
		return
	}
	e.WillReturnResult(st.res)
}

// mockRows are the rows a query step returns.
func mockRows(st mockStep) *sqlmock.Rows {
	rows := sqlmock.NewRows(st.cols)
	for _, v := range st.vals {
		rows.AddRow(v...)
	}
	return rows
}

func newMockStore(t *testing.T, now time.Time) (*Store, sqlmock.Sqlmock) {
	t.Helper()
	db, mock, err := sqlmock.New()
	if err != nil {
		t.Fatalf("sqlmock: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return newWithDB(db, db, Config{Now: func() time.Time { return now }}), mock
}

func TestApplySucceedsOnTheMockedStatementSequence(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, mock := newMockStore(t, now)
	mock.ExpectBegin()
	for _, st := range failureSteps(now) {
		expect(mock, st, false, false)
	}
	mock.ExpectCommit()
	res, err := s.Apply(context.Background(), failureRequest(now))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res.FirstSeq != 1 || res.LastSeq != 1 {
		t.Errorf("Apply assigned seq %d..%d, want 1..1", res.FirstSeq, res.LastSeq)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Error(err)
	}
}

func TestApplyRollsBackAndNamesTheStepWhenAStatementFails(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	steps := failureSteps(now)
	for i, failing := range steps {
		for _, phase := range []string{"prepare", "run"} {
			if phase == "prepare" && failing.reused {
				continue
			}
			t.Run(fmt.Sprintf("%02d_%s_%s", i, strings.ReplaceAll(failing.op, " ", "_"), phase), func(t *testing.T) {
				t.Parallel()
				s, mock := newMockStore(t, now)
				mock.ExpectBegin()
				for _, st := range steps[:i] {
					expect(mock, st, false, false)
				}
				expect(mock, failing, phase == "prepare", phase == "run")
				mock.ExpectRollback()
				_, err := s.Apply(context.Background(), failureRequest(now))
				if !errors.Is(err, errInjected) {
					t.Fatalf("Apply returned %v, want the injected error", err)
				}
				var ae *store.ApplyError
				if !errors.As(err, &ae) {
					t.Fatalf("Apply returned %T (%v), want a *store.ApplyError", err, err)
				}
				if !strings.Contains(err.Error(), failing.op) {
					t.Errorf("error %q does not name the failing step %q", err, failing.op)
				}
				// Every expectation met means: no statement ran after the
				// failure, nothing was committed, and the transaction was
				// rolled back.
				if err := mock.ExpectationsWereMet(); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func TestApplyReportsAFailedCommit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, mock := newMockStore(t, now)
	mock.ExpectBegin()
	for _, st := range failureSteps(now) {
		expect(mock, st, false, false)
	}
	mock.ExpectCommit().WillReturnError(errInjected)
	_, err := s.Apply(context.Background(), failureRequest(now))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "commit") {
		t.Fatalf("Apply returned %v, want the injected commit error naming the commit", err)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Error(err)
	}
}

func TestApplyReportsAFailedBegin(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, mock := newMockStore(t, now)
	mock.ExpectBegin().WillReturnError(errInjected)
	_, err := s.Apply(context.Background(), failureRequest(now))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "begin") {
		t.Fatalf("Apply returned %v, want the injected begin error naming the begin", err)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Error(err)
	}
}
