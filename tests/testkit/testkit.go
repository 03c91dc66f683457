// Package testkit holds the small helpers that tests all over the
// repository need: one copy of each instead of one per package.
package testkit

import (
	"encoding/json"
	"net"
	"net/url"
	"testing"
)

// ClosedAddr returns a loopback address ("127.0.0.1:port") nothing listens
// on: a dial to it is refused at once.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("testkit: close: %v", err)
	}
	return addr
}

// MustURL parses s, failing the test if it is no URL.
func MustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("testkit: parse %q: %v", s, err)
	}
	return u
}

// MustJSON encodes v, failing the test if it cannot be.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("testkit: encode %T: %v", v, err)
	}
	return b
}
