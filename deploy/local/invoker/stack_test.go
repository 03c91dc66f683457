package invoker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
	"github.com/fnmgr/fnmgr/deploy/local/broker"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

// The integration tests run the invoker against pouchdb-server and a kfake
// broker, with real node and python workers.

const (
	guestUUID   = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	guestAPIKey = guestUUID + ":123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	waitLong    = 60 * time.Second
)

type stack struct {
	couchURL    string
	prefix      string
	brokers     []string
	store       *whiskdb.Store
	activations *kivik.DB
	producer    *kgo.Client
	watch       *watcher
	logs        *lockedWriter
}

func TestMain(m *testing.M) { couchtest.Main(m) }

// startStack gives a test the package's pouchdb-server with databases of its
// own and a fresh broker.
func startStack(t *testing.T) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	ctx := t.Context()
	logs := &lockedWriter{w: &bytes.Buffer{}}
	client := couchtest.Client(t)
	prefix := couchtest.Prefix(t)
	b, err := broker.Start(ctx, broker.Options{Topics: broker.DefaultTopics(2, 1)})
	require.NoError(t, err)
	t.Cleanup(b.Stop)
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerLinger(0))
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	st := &stack{
		couchURL: couchtest.URL(t), prefix: prefix, brokers: b.Addrs(), logs: logs,
		store:       whiskdb.New(couchtest.DB(t, client, prefix+"whisks")),
		activations: couchtest.DB(t, client, prefix+"activations"),
		producer:    prod,
	}
	st.watch = newWatcher(t, b.Addrs())
	return st
}

// startInvoker starts invoker id with userMemoryMB of pool and stops it at
// the end of the test, checking that its cgroup is gone.
func (st *stack) startInvoker(t *testing.T, id, userMemoryMB int) *Invoker {
	t.Helper()
	cgroup := fmt.Sprintf("fnmgr-invoker-test-%d-%d", os.Getpid(), id)
	inv, err := New(t.Context(), Options{
		ID: id, CouchURL: st.couchURL, DBPrefix: st.prefix, Brokers: st.brokers,
		UserMemoryMB: userMemoryMB, UserCPUs: 2, CgroupName: cgroup, APIHost: "http://127.0.0.1:3233",
		PingInterval: 200 * time.Millisecond, UserEvents: true, WorkDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	require.NoError(t, inv.Start(t.Context()))
	if cgroupsEnabled(inv) {
		_, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", cgroup))
		require.NoError(t, err, "the pool's parent cgroup exists while it runs")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, inv.Stop(ctx))
		for _, ctrl := range []string{"memory", "cpu"} {
			_, err := os.Stat(filepath.Join("/sys/fs/cgroup", ctrl, cgroup))
			require.True(t, errors.Is(err, os.ErrNotExist), "cgroup %s/%s left behind", ctrl, cgroup)
		}
		for _, secret := range []string{guestAPIKey, "123zO3xZCLrMN6v2", "PARAM-SECRET", "RESULT-SECRET"} {
			require.NotContains(t, st.logs.String(), secret, "logs leak a secret")
		}
	})
	return inv
}

func cgroupsEnabled(inv *Invoker) bool {
	p, ok := inv.pool.(*actionrt.Pool)
	return ok && p.CgroupsEnabled()
}

// putAction stores an action the way OpenWhisk's controller would.
func (st *stack) putAction(t *testing.T, ns, name, kind, code string, limits func(*entity.Limits), anns entity.KeyValues) entity.Action {
	t.Helper()
	l := entity.DefaultLimits()
	if limits != nil {
		limits(&l)
	}
	a := entity.Action{Namespace: ns, Name: name, Version: "0.0.1", Limits: l,
		Exec:        entity.Exec{Kind: kind},
		Annotations: entity.KeyValues{}.With("exec", kind).Merge(anns)}
	stored, err := st.store.PutAction(t.Context(), a, []byte(code), entity.TextContentType)
	require.NoError(t, err)
	return stored
}

func newActivationID(t *testing.T) string {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// message is the ActivationMessage a controller would send for a.
func activationFor(t *testing.T, a entity.Action, blocking bool, params string) *message.Activation {
	return &message.Activation{
		TransID:  message.NewTransID(newActivationID(t), time.Now()),
		Action:   entity.FullyQualifiedName{Path: a.Namespace, Name: a.Name, Version: a.Version},
		Revision: a.Rev,
		User: message.Identity{Subject: "guest", Namespace: message.Namespace{Name: "guest", UUID: guestUUID},
			AuthKey: message.AuthKey{APIKey: guestAPIKey}, Rights: []string{"READ", "PUT", "DELETE", "ACTIVATE"},
			Limits: json.RawMessage(`{}`)},
		ActivationID:        newActivationID(t),
		RootControllerIndex: message.ControllerInstance{AsString: "0", InstanceType: "controller"},
		Blocking:            blocking,
		Content:             json.RawMessage(params),
		InitArgs:            []string{},
		LockedArgs:          map[string]string{},
	}
}

func (st *stack) send(t *testing.T, invoker int, msg *message.Activation) {
	t.Helper()
	b, err := json.Marshal(msg)
	require.NoError(t, err)
	st.sendRaw(t, invoker, b)
}

func (st *stack) sendRaw(t *testing.T, invoker int, value []byte) {
	t.Helper()
	rec := &kgo.Record{Topic: message.InvokerTopic(invoker), Value: value}
	require.NoError(t, st.producer.ProduceSync(t.Context(), rec).FirstErr())
}

// result is everything an activation produced.
type result struct {
	ack   message.Ack
	doc   entity.Activation
	event *message.Event
}

// await waits for the acknowledgement of msg, then reads the stored
// activation (written before the ack) and waits for its user event.
func (st *stack) await(t *testing.T, msg *message.Activation) result {
	t.Helper()
	var r result
	r.ack = st.watch.ack(t, msg.ActivationID)
	err := st.activations.Get(t.Context(), msg.User.Namespace.Name+"/"+msg.ActivationID).ScanDoc(&r.doc)
	require.NoError(t, err, "activation stored before the ack")
	r.event = st.watch.event(t, msg.ActivationID)
	return r
}

// watcher reads completed0, events and health from their beginning.
type watcher struct {
	mu      sync.Mutex
	changed chan struct{}
	acks    map[string]message.Ack
	rawAcks map[string][]byte
	events  map[string]message.Event
	pings   []message.Ping
}

func newWatcher(t *testing.T, brokers []string) *watcher {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(message.CompletedTopic("0"), message.TopicEvents, message.TopicHealth),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	require.NoError(t, err)
	w := &watcher{changed: make(chan struct{}), acks: map[string]message.Ack{}, rawAcks: map[string][]byte{},
		events: map[string]message.Event{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { w.add(t, r) })
		}
	}()
	return w
}

func (w *watcher) add(t *testing.T, r *kgo.Record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r.Topic {
	case message.TopicHealth:
		var p message.Ping
		if err := json.Unmarshal(r.Value, &p); err != nil {
			t.Errorf("bad ping %s: %v", r.Value, err)
			return
		}
		w.pings = append(w.pings, p)
	case message.TopicEvents:
		var e message.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Errorf("bad event %s: %v", r.Value, err)
			return
		}
		w.events[e.Activation.ActivationID] = e
	default:
		var a message.Ack
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Errorf("bad ack %s: %v", r.Value, err)
			return
		}
		w.acks[a.ID()] = a
		w.rawAcks[a.ID()] = r.Value
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// waitFor waits until cond (called with w.mu held) holds.
func (w *watcher) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLong)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok, ch := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

func (w *watcher) ack(t *testing.T, id string) message.Ack {
	t.Helper()
	var a message.Ack
	w.waitFor(t, "the ack of "+id, func() bool { var ok bool; a, ok = w.acks[id]; return ok })
	return a
}

func (w *watcher) event(t *testing.T, id string) *message.Event {
	t.Helper()
	var e message.Event
	w.waitFor(t, "the event of "+id, func() bool { var ok bool; e, ok = w.events[id]; return ok })
	return &e
}

func (w *watcher) ping(t *testing.T, instance int) message.Ping {
	t.Helper()
	var p message.Ping
	w.waitFor(t, fmt.Sprintf("a ping of invoker%d", instance), func() bool {
		for _, q := range w.pings {
			if q.Name.Instance == instance {
				p = q
				return true
			}
		}
		return false
	})
	return p
}
