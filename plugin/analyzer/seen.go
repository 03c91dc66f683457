package analyzer

import (
	"encoding/binary"
	"hash/maphash"
)

// seenKey is an activation id as a value without pointers, so that neither
// the set's map nor its ring is scanned by the garbage collector. An id of
// 32 lowercase hex characters (every id OpenWhisk makes) is its 16 bytes;
// any other id is a 128-bit maphash of it, marked hashed so that it never
// equals a decoded id.
type seenKey struct {
	b      [16]byte
	hashed bool
}

// seenSet remembers the last limit activation ids, forgetting the oldest
// first. It is not safe for concurrent use: the Analyzer's mutex guards it.
type seenSet struct {
	limit  int
	keys   map[seenKey]struct{}
	order  []seenKey // a ring once full; next is the oldest
	next   int
	s1, s2 maphash.Seed
}

func newSeenSet(limit int) *seenSet {
	return &seenSet{limit: limit, keys: map[seenKey]struct{}{}, s1: maphash.MakeSeed(), s2: maphash.MakeSeed()}
}

// add records id and reports whether it was new (false: seen before, a
// redelivery).
func (s *seenSet) add(id string) bool {
	k := s.key(id)
	if _, dup := s.keys[k]; dup {
		return false
	}
	if len(s.order) < s.limit {
		s.order = append(s.order, k)
	} else {
		delete(s.keys, s.order[s.next])
		s.order[s.next] = k
		s.next = (s.next + 1) % s.limit
	}
	s.keys[k] = struct{}{}
	return true
}

func (s *seenSet) key(id string) seenKey {
	var k seenKey
	if decodeLowerHex(k.b[:], id) {
		return k
	}
	binary.LittleEndian.PutUint64(k.b[:8], maphash.String(s.s1, id))
	binary.LittleEndian.PutUint64(k.b[8:], maphash.String(s.s2, id))
	k.hashed = true
	return k
}

// decodeLowerHex decodes id into dst if id is exactly 2*len(dst) lowercase
// hex characters. Uppercase is refused so that ids differing only in case
// stay different ids, as they were as strings.
func decodeLowerHex(dst []byte, id string) bool {
	if len(id) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := lowerHexNibble(id[2*i])
		lo, ok2 := lowerHexNibble(id[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func lowerHexNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
