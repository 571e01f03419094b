package sqlitestore

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/directorysync/directorysync/store"
)

// interpretError maps SQLite's native errors to the store's sentinel errors:
// a missing row is store.ErrNotFound, a unique or primary key violation is
// store.ErrConflict, a foreign key violation store.ErrInvalid. The native
// error stays in the chain; other errors pass through unchanged.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK:
			return fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
	}
	return err
}

// isBusy reports whether err is SQLite's "database is locked" (SQLITE_BUSY,
// any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Times are stored as Unix nanoseconds in UTC; NULL is the zero time.

func toNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func toNanosPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return toNanos(*t)
}

// orderNanos is t's position for comparisons: the zero time sorts before
// every stored time, as in Go.
func orderNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

func fromNanosPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64).UTC()
	return &t
}

// checkTime refuses times that Unix nanoseconds cannot hold.
func checkTime(name string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Year() < 1678 || t.Year() > 2261 {
		return fmt.Errorf("%w: %s %s is outside the years 1678 to 2261 this store can keep", store.ErrInvalid, name, t.Format(time.RFC3339))
	}
	return nil
}
