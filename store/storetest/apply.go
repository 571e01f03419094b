package storetest

import "testing"

func (s *suite) applyCases(t testing.TB) {
}
