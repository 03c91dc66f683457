package versions

import "sync"

// seenRevs remembers, per action document, the newest OpenWhisk revision
// fnmgr handled that matched the function's head without being recorded
// (its own annotation writes coming back through the feed, a touch that
// changed nothing fnmgr keeps). The registry's Head.OWRev is left alone
// for those, which saves a write per echo; missedRevisions counts them as
// seen. The memory is only an optimisation: after a restart, or once it is
// full and cleared, the revision history is read instead.
type seenRevs struct {
	mu  sync.Mutex
	rev map[string]string
}

// maxSeen bounds the documents remembered.
const maxSeen = 200_000

func newSeenRevs() *seenRevs { return &seenRevs{rev: map[string]string{}} }

// note records rev of docid when it is newer than what is remembered.
func (s *seenRevs) note(docid, rev string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.rev[docid]; ok && generation(old) >= generation(rev) {
		return
	}
	if len(s.rev) >= maxSeen {
		clear(s.rev)
	}
	s.rev[docid] = rev
}

// latest returns the newer of head and what is remembered of docid.
func (s *seenRevs) latest(docid, head string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rev[docid]; ok && generation(r) > generation(head) {
		return r
	}
	return head
}

// forget drops docid (a revision was recorded: the head is current).
func (s *seenRevs) forget(docid string) {
	s.mu.Lock()
	delete(s.rev, docid)
	s.mu.Unlock()
}
