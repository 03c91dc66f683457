package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// TestCouchDBRestartUnderLoad kills CouchDB (SIGKILL) at random moments
// while writers update actions in whisks as OpenWhisk's controller does,
// and starts it again after a random outage. Writes carry on after each
// restart (a writer retries what failed, as a user would); fnmgr's change
// feed reconnects and resumes from where it was; in the end every
// committed update is exactly one revision, none lost, none duplicated,
// and the feed read no more than the database's own changes.
func TestCouchDBRestartUnderLoad(t *testing.T) {
	e := stackenv.Need(t, env)
	rng := rng(t)
	const writers, perWriter, maxRevisions = 4, 5, 40 // fnmgr keeps 50 revisions
	whisks := whiskdb.New(e.DB(t, "whisks"))
	seq0 := updateSeq(t, e)
	changes0 := e.Metric(t, "fnmgr_feed_changes_total")
	reconnects0 := e.Metric(t, "fnmgr_feed_reconnects_total")

	// Stopping the load lets every write in flight finish: a write cut off
	// by a cancelled context may still be committed, unknown to its writer.
	var stopping atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var mu sync.Mutex
	committed := map[string][]string{} // action -> digests of its committed codes, in order
	var afterLastRestart int
	var lastRestart time.Time
	var wg sync.WaitGroup
	var writersLeft atomic.Int32
	writersLeft.Store(writers)
	for w := range writers {
		wr := rand.New(rand.NewPCG(rng.Uint64(), uint64(w))) // one source per goroutine
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer writersLeft.Add(-1)
			for i := 0; !stopping.Load(); i++ {
				name := fmt.Sprintf("couchload-%d-%d", w, i%perWriter)
				if i/perWriter >= maxRevisions {
					return
				}
				code := fmt.Sprintf("function main(){ return {w: %d, i: %d} }", w, i)
				if !writeAction(ctx, whisks, name, code) {
					return
				}
				mu.Lock()
				committed[name] = append(committed[name], entity.Digest([]byte(code)))
				if !lastRestart.IsZero() && time.Now().After(lastRestart) {
					afterLastRestart++
				}
				mu.Unlock()
				testkit.Pause(ctx, time.Duration(20+wr.IntN(60))*time.Millisecond) // a writer's pace, drawn
			}
		}()
	}

	restarts := count(5)
	for run := range restarts {
		testkit.Pause(ctx, time.Duration(300+rng.IntN(1500))*time.Millisecond) // the moment of the kill, drawn
		require.NoError(t, e.Stack.KillCouchDB())
		testkit.Pause(ctx, time.Duration(rng.IntN(800))*time.Millisecond) // the outage's length, drawn
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		require.NoError(t, e.Stack.StartCouchDB(sctx), "run %d", run)
		cancel()
		mu.Lock()
		lastRestart = time.Now()
		mu.Unlock()
		runs.Add(1)
	}
	// Writes go on after the last restart: each writer commits one more,
	// unless it has written all it had to.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return afterLastRestart >= writers || writersLeft.Load() == 0
	}, time.Minute, 20*time.Millisecond, "writes after CouchDB came back")
	stopping.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Positive(t, afterLastRestart, "writes to whisks continue after CouchDB came back")

	e.WaitReady(t, time.Minute)
	for name, digests := range committed {
		var revs []revisionView
		require.Eventually(t, func() bool {
			revs = nil
			return e.Admin(t, stackenv.AsAdmin, "GET", stackenv.FnPath("guest", name)+"/revisions", nil, &revs) == http.StatusOK &&
				len(revs) >= len(digests)
		}, time.Minute, 50*time.Millisecond, "%s: %d committed updates recorded", name, len(digests))
		require.Len(t, revs, len(digests), "%s: no revision duplicated:\n%s", name, revisionTable(t, e, name, digests))
		var got []string
		for i, r := range revs { // newest first
			require.Equal(t, len(revs)-i, r.Revision, "%s: revisions numbered without a gap", name)
			got = append([]string{r.Snapshot.Exec.CodeDigest}, got...)
		}
		require.Equal(t, digests, got, "%s: every committed update is a revision, in order", name)
	}
	require.GreaterOrEqual(t, e.Metric(t, "fnmgr_feed_reconnects_total")-reconnects0, float64(restarts),
		"the feed noticed every outage")
	// Resumed from where it was: it read about as many changes as the
	// database made (a batch cut by the crash is read again), not the
	// whole database after every restart.
	read, made := e.Metric(t, "fnmgr_feed_changes_total")-changes0, updateSeq(t, e)-seq0
	t.Logf("%d restarts, %d actions, feed read %.0f changes for %d database updates", restarts, len(committed), read, made)
	require.LessOrEqual(t, read, float64(made+50*restarts), "the feed resumes from its checkpoint")
}

// writeAction writes guest/name with code as OpenWhisk's controller does
// (the current revision read first), retrying conflicts and outages until
// it is committed or ctx ends (then it reports false, and the write may or
// may not be committed). A write whose answer was lost may be
// committed twice with the same code: the same content, one revision.
func writeAction(ctx context.Context, whisks *whiskdb.Store, name, code string) bool {
	a := entity.Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: entity.Exec{Kind: "nodejs:20"},
		Limits: entity.DefaultLimits(), Annotations: entity.KeyValues{}.With("exec", "nodejs:20")}
	for ctx.Err() == nil {
		cur, err := whisks.GetAction(ctx, "guest/"+name, "")
		switch {
		case err == nil:
			a.Rev = cur.Rev
		case errors.Is(err, whiskdb.ErrNotFound):
			a.Rev = ""
		default:
			testkit.Pause(ctx, 20*time.Millisecond) // CouchDB is away: retry, as a user would
			continue
		}
		a.Updated = time.Now().UnixMilli()
		if _, err := whisks.PutAction(ctx, a, []byte(code), entity.TextContentType); err == nil {
			return true
		}
		testkit.Pause(ctx, 20*time.Millisecond) // a conflict or an outage: retry, as a user would
	}
	return false
}

// updateSeq is the whisks database's update sequence (pouchdb-server
// counts updates in it).
func updateSeq(t *testing.T, e *stackenv.Env) int {
	t.Helper()
	status, b := e.Call(t, stackenv.AsNone, "GET", e.EP.CouchDB, "/whisk_local_whisks", nil)
	require.Equal(t, http.StatusOK, status, "%s", b)
	var info struct {
		UpdateSeq json.Number `json:"update_seq"`
	}
	require.NoError(t, json.Unmarshal(b, &info))
	n, err := info.UpdateSeq.Int64()
	require.NoError(t, err, "pouchdb-server's update_seq is a number: %s", info.UpdateSeq)
	return int(n)
}

// revisionView is an item of GET …/revisions.
type revisionView struct {
	Revision int `json:"revision"`
	Snapshot struct {
		Exec struct {
			CodeDigest string `json:"codeDigest"`
		} `json:"exec"`
	} `json:"snapshot"`
}

// revisionTable shows the registry's revisions of guest/name against the
// committed code digests, for a failure's message.
func revisionTable(t *testing.T, e *stackenv.Env, name string, committed []string) string {
	revs, err := registry.New(e.Couch(t).DB("fnmgr_registry")).Revisions(context.Background(), "guest", name, 0, 0)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, r := range revs {
		fmt.Fprintf(&b, "revision %d owRev %s observed %s source %s code %.20s… is update #%d\n", r.Revision, r.OWRev,
			r.Observed.Format("15:04:05.000"), r.Source, r.Snapshot.Exec.CodeDigest, slices.Index(committed, r.Snapshot.Exec.CodeDigest))
	}
	return b.String()
}
