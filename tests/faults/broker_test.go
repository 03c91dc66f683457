package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// TestBrokerRestartResumes stops the Kafka broker at a random moment (with
// events produced and not yet all consumed) and starts it again after a
// random outage, in each run. The broker keeps its data across the
// restart, as a real one does. While it is down the listeners say they
// have left their groups (fnmgr's readiness reads that); after it they
// rejoin, resume from their committed offsets, and every event, from
// before and after the outage, is counted exactly once.
func TestBrokerRestartResumes(t *testing.T) {
	rng := rng(t)
	r := newKafkaRig(t, t.TempDir())
	ctx := t.Context()
	var outages []time.Duration
	counted := map[string]int64{} // events sent, by function
	for run := range count(6) {
		fqn := fqnOf(run, 0)
		events := func(from, n int) [][]byte {
			var out [][]byte
			for i := from; i < from+n; i++ {
				out = append(out, activationEvent(fqn, fmt.Sprintf("b%03d%028d", run, i), 0, 0))
			}
			return out
		}
		before, after := 1+rng.IntN(200), 1+rng.IntN(50)
		r.produce(t, message.TopicEvents, events(0, before))
		testkit.Pause(ctx, time.Duration(rng.IntN(150))*time.Millisecond) // the moment of the stop, drawn: consumption under way, or done
		r.b.Stop()
		r.waitJoined(t, false)
		testkit.Pause(ctx, time.Duration(rng.IntN(500))*time.Millisecond) // the outage's length, drawn
		restarted := time.Now()
		require.NoError(t, r.b.Start(ctx))
		r.waitJoined(t, true)
		outages = append(outages, time.Since(restarted))
		r.produce(t, message.TopicEvents, events(before, after))
		want := int64(before + after)
		require.Eventually(t, func() bool {
			st, _ := r.an.Stats(fqn)
			return st.Activations >= want
		}, r.deadline, 5*time.Millisecond, "run %d: every event arrives", run)
		// A redelivery would come before the last event (one partition, in
		// order): once the group has committed the topic's end, every
		// record, redelivered or not, has been counted.
		r.waitConsumed(t, message.TopicEvents)
		counted[fqn] = want
		for f, n := range counted { // earlier runs' events are not read again either
			st, _ := r.an.Stats(f)
			require.Equal(t, n, st.Activations, "run %d: every event of %s counted exactly once across the restart", run, f)
		}
		runs.Add(1)
	}
	t.Logf("rejoin after restart: %v", outages)
}

// TestBrokerRestartRejoinsPromptly restarts the broker again and again,
// after random outages: each time the listeners rejoin within a few
// seconds of the broker's return, however many outages came before (a
// reconnect backoff that only grows would leave fnmgr unready for its
// maximum, 10 s, after every later outage).
func TestBrokerRestartRejoinsPromptly(t *testing.T) {
	const within = 3 * time.Second
	rng := rng(t)
	r := newKafkaRig(t, t.TempDir())
	ctx := t.Context()
	for run := range count(8) {
		// A healthy stretch between outages.
		testkit.Pause(ctx, time.Duration(200+rng.IntN(800))*time.Millisecond) // its length, drawn
		r.b.Stop()
		r.waitJoined(t, false)
		testkit.Pause(ctx, time.Duration(rng.IntN(1500))*time.Millisecond) // the outage's length, drawn
		require.NoError(t, r.b.Start(ctx))
		back := time.Now()
		require.Eventually(t, func() bool {
			return r.groups[message.TopicEvents].Joined() && r.groups[message.TopicHealth].Joined()
		}, within, 5*time.Millisecond, "run %d: the listeners rejoin within %s of the broker's return", run, within)
		t.Logf("run %d: rejoined %s after the broker came back", run, time.Since(back).Round(time.Millisecond))
		runs.Add(1)
	}
}
