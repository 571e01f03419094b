// Package store defines the records directorysync keeps and the Store
// interface every database adapter implements.
//
// # Rules for implementers
//
// Every method is scoped by org and must never read, count, page into, lease
// or delete another org's data. Apply is atomic: rows, journal entries (with
// sequence numbers from a per-org counter taken inside the same transaction,
// strictly increasing and gap-free), the processed-event mark and unparking
// commit together or not at all. User and group writes are compare-and-set
// on the row version. Search and facets follow package search exactly: values
// are folded in Go with search.Fold and compared bytewise, never with the
// database's lower().
//
// The conformance suite store/storetest checks all of this; every adapter,
// including a third party's, runs it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) }, storetest.Features{})
//	}
package store
