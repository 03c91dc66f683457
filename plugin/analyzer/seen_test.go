package analyzer

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestSeenSetHoldsNoPointers: the 200,000 remembered ids must stay out of
// the garbage collector's scan (a map or ring of strings cost a third of
// the events listener's time on one core, docs/benchmarks.md).
func TestSeenSetHoldsNoPointers(t *testing.T) {
	s := newSeenSet(4)
	for _, typ := range []reflect.Type{
		reflect.TypeOf(s.keys).Key(),
		reflect.TypeOf(s.keys).Elem(),
		reflect.TypeOf(s.order).Elem(),
	} {
		if hasPointers(typ) {
			t.Errorf("%v holds pointers: the collector scans the whole set on every cycle", typ)
		}
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true // strings, slices, maps, pointers, interfaces, funcs, chans
}

// TestSeenSet is the set's contract as a string set had it: an id is new
// once, ids are compared exactly (case included, whatever their form), and
// once full the oldest id is forgotten first.
func TestSeenSet(t *testing.T) {
	hex := func(i int) string { return fmt.Sprintf("%032x", i) }
	cases := []struct {
		name  string
		limit int
		ids   []string
		want  []bool // add's answers, in order
	}{
		{"hex id redelivered", 4, []string{hex(1), hex(1)}, []bool{true, false}},
		{"other id redelivered", 4, []string{"aaaa", "aaaa"}, []bool{true, false}},
		{"case matters", 4, []string{hex(10), strings.ToUpper(hex(10)), strings.ToUpper(hex(10))}, []bool{true, true, false}},
		{"31 and 33 chars are not hex ids", 4, []string{hex(1)[1:], hex(1) + "0", hex(1)[1:], hex(1) + "0"}, []bool{true, true, false, false}},
		{"not hex", 4, []string{strings.Repeat("g", 32), strings.Repeat("g", 32)}, []bool{true, false}},
		{"distinct ids", 3, []string{hex(1), hex(2), "x", "y"}, []bool{true, true, true, true}},
		{"oldest forgotten first", 2, []string{hex(1), hex(2), hex(3), hex(3), hex(2), hex(1)}, []bool{true, true, true, false, false, true}},
		{"ring wraps", 2, []string{"a", "b", "c", "d", "c", "d", "a", "b"}, []bool{true, true, true, true, false, false, true, true}},
		{"after wrap the next oldest goes", 3, []string{"a", "b", "c", "d", "e", "c", "b"}, []bool{true, true, true, true, true, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSeenSet(c.limit)
			for i, id := range c.ids {
				if got := s.add(id); got != c.want[i] {
					t.Fatalf("add #%d (%q) = %v, want %v", i, id, got, c.want[i])
				}
				if len(s.keys) > c.limit || len(s.order) > c.limit {
					t.Fatalf("the set holds %d keys, %d in order, more than %d", len(s.keys), len(s.order), c.limit)
				}
			}
		})
	}
}

// TestDuplicateAfterEviction: through Handle, an id redelivered within the
// last ids remembered is counted once; one older than that counts again
// (a set of 3 here; New remembers seenCap).
func TestDuplicateAfterEviction(t *testing.T) {
	a := New(nil, nil)
	if a.seen.limit != seenCap {
		t.Fatalf("New remembers %d ids, want %d", a.seen.limit, seenCap)
	}
	a.seen = newSeenSet(3)
	handle := func(id string) {
		ev := `{"source":"invoker0","body":{"name":"guest/e","activationId":"` + id + `","statusCode":0,"duration":5,"waitTime":0,"initTime":0,"kind":"nodejs:20","conductor":false,"memory":128},"subject":"guest","namespace":"guest","userId":"u","eventType":"Activation","timestamp":1}`
		if err := a.Handle(context.Background(), "events", []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	id := func(i int) string { return fmt.Sprintf("%032x", i) }
	steps := []struct {
		id   string
		want int64 // activations counted after it
	}{
		{id(0), 1}, {id(0), 1}, {id(1), 2}, {id(2), 3},
		{id(0), 3},          // still among the last 3
		{id(3), 4},          // id(0) is forgotten now
		{id(0), 5},          // so it counts again
		{id(3), 5},          // remembered
		{"not-a-hex-id", 6}, // other ids alike
		{"not-a-hex-id", 6},
	}
	for i, s := range steps {
		handle(s.id)
		if st, _ := a.Stats("guest/e"); st.Activations != s.want {
			t.Fatalf("step %d (%s): activations = %d, want %d", i, s.id, st.Activations, s.want)
		}
	}
}
