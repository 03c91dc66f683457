package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
)

// Fakes of the invoker's edges.

type fakeSource struct {
	mu      sync.Mutex
	revs    map[string]map[string]entity.Action // docid → rev → action; rev "" = latest
	code    []byte
	getErr  error
	gets    int
	codeErr error
}

func (f *fakeSource) GetAction(_ context.Context, docid, rev string) (entity.Action, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.getErr != nil {
		return entity.Action{}, f.getErr
	}
	a, ok := f.revs[docid][rev]
	if !ok {
		return entity.Action{}, fmt.Errorf("fake: %s@%s: %w", docid, rev, whiskdb.ErrNotFound)
	}
	return a, nil
}

func (f *fakeSource) ActionCode(context.Context, entity.Action) ([]byte, error) {
	return f.code, f.codeErr
}

type fakeRunner struct {
	mu     sync.Mutex
	run    func(ctx context.Context, a actionrt.Action, params json.RawMessage) (actionrt.Result, error)
	specs  []actionrt.Action
	params []json.RawMessage
}

func (f *fakeRunner) Run(ctx context.Context, a actionrt.Action, params json.RawMessage) (actionrt.Result, error) {
	f.mu.Lock()
	f.specs = append(f.specs, a)
	f.params = append(f.params, params)
	f.mu.Unlock()
	return f.run(ctx, a, params)
}

func (f *fakeRunner) Close(context.Context) error { return nil }

type statusErr int

func (e statusErr) Error() string   { return fmt.Sprintf("fake couch: status %d", int(e)) }
func (e statusErr) HTTPStatus() int { return int(e) }

type fakeDocs struct {
	mu   sync.Mutex
	errs []error // returned by successive Puts, then nil
	puts int
	docs map[string][]byte
}

func (f *fakeDocs) Put(_ context.Context, docID string, doc any, _ ...kivik.Option) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return "", err
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	if f.docs == nil {
		f.docs = map[string][]byte{}
	}
	f.docs[docID] = b
	return "1-x", nil
}

type sent struct {
	topic string
	value []byte
}

type fakePublisher struct {
	mu   sync.Mutex
	sent []sent
}

func (f *fakePublisher) Publish(_ context.Context, topic string, value []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sent{topic, value})
	return nil
}

func (f *fakePublisher) on(topic string) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for _, s := range f.sent {
		if s.topic == topic {
			out = append(out, s.value)
		}
	}
	return out
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
