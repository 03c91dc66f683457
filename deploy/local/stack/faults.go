package stack

import (
	"context"
	"fmt"
)

// The methods below let tests inject the faults of a real deployment: a
// CouchDB crash, a Kafka outage. fnmgr and the OpenWhisk parts are left
// running through them, as they would be.

// KillCouchDB kills pouchdb-server (SIGKILL), as a crash would.
// StartCouchDB brings it back on the same port and data.
func (s *Stack) KillCouchDB() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.couch == nil {
		return fmt.Errorf("stack: kill couchdb: %w", errNotRunning)
	}
	if err := s.couch.Kill(); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	s.log.Info("couchdb killed")
	return nil
}

// StartCouchDB starts pouchdb-server again after KillCouchDB and waits
// until it answers.
func (s *Stack) StartCouchDB(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.couch == nil {
		return fmt.Errorf("stack: start couchdb: %w", errNotRunning)
	}
	if err := s.couch.Start(ctx); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}

// StopBroker stops the Kafka broker: every connection is closed. Its data
// stays in <Dir>/kafka, as a real broker's log does: StartBroker brings it
// back on the same address with the same topics (and topic ids), records,
// groups and committed offsets, and the clients of the controllers, the
// invokers and fnmgr reconnect by themselves.
func (s *Stack) StopBroker() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broker != nil {
		s.broker.Stop()
	}
}

// StartBroker starts the Kafka broker again after StopBroker.
func (s *Stack) StartBroker(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broker == nil {
		return fmt.Errorf("stack: start kafka: %w", errNotRunning)
	}
	if err := s.broker.Start(ctx); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}

// FnmgrPID is fnmgr's process id, 0 while it is not running (for tests
// and load programs that read its /proc entry).
func (s *Stack) FnmgrPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fnmgr == nil {
		return 0
	}
	return s.fnmgr.cmd.Process.Pid
}
