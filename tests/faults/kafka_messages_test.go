package faults

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/kafka/message"
)

// TestEventsDuplicatedReorderedGarbage sends, in each run, a batch of user
// events through a real broker to fnmgr's events listener: activation
// events of a few functions, some of them sent two or three times (as a
// producer's retry or a redelivery does), Metric events, and garbage, all
// in random order. Every activation is counted once (OpenWhisk's
// activation id identifies it), each garbage message is counted as
// malformed and skipped, and the listener goes on with the next run.
func TestEventsDuplicatedReorderedGarbage(t *testing.T) {
	rng := rng(t)
	r := newKafkaRig(t, "")
	type want struct{ n, errors, cold int64 }
	for run := range count(80) {
		wants := map[string]*want{}
		var values [][]byte
		fns := 1 + rng.IntN(3)
		for i := range 1 + rng.IntN(30) {
			fqn := fqnOf(run, rng.IntN(fns))
			status := []int{0, 0, 0, 1, 2}[rng.IntN(5)]
			var initTime int64
			if rng.IntN(4) == 0 {
				initTime = 1 + rng.Int64N(500)
			}
			v := activationEvent(fqn, fmt.Sprintf("%03d%029d", run, i), status, initTime)
			w := wants[fqn]
			if w == nil {
				w = &want{}
				wants[fqn] = w
			}
			w.n++
			if status != 0 {
				w.errors++
			}
			if initTime > 0 {
				w.cold++
			}
			values = append(values, v)
			if rng.IntN(3) == 0 {
				for range 1 + rng.IntN(2) {
					values = append(values, v)
				}
			}
		}
		for range rng.IntN(4) {
			values = append(values, metricEvent())
		}
		r.deliver(t, rng, message.TopicEvents, values, rng.IntN(6), fmt.Sprintf("run %d", run))
		for fqn, w := range wants {
			st, ok := r.an.Stats(fqn)
			require.True(t, ok, "run %d: %s seen", run, fqn)
			require.Equal(t, w.n, st.Activations, "run %d %s: each activation counted once, its duplicates not", run, fqn)
			require.Equal(t, w.errors, st.Errors, "run %d %s: errors", run, fqn)
			require.Equal(t, w.cold, st.ColdStarts, "run %d %s: cold starts", run, fqn)
		}
		runs.Add(1)
	}
}

// TestPingsDuplicatedReorderedGarbage does the same with invoker health
// pings: duplicates and reordering change nothing (a ping states, it does
// not count), garbage is counted and skipped, and MAX_MEMORY is always the
// largest user memory a valid ping reported.
func TestPingsDuplicatedReorderedGarbage(t *testing.T) {
	rng := rng(t)
	r := newKafkaRig(t, "")
	maxMB := 0
	instances := map[int]int{} // instance -> its memory
	for run := range count(60) {
		var values [][]byte
		for range 1 + rng.IntN(8) {
			inst := rng.IntN(6)
			mb, ok := instances[inst]
			if !ok || rng.IntN(10) == 0 { // an invoker reconfigured between runs
				mb = 128 * (1 + rng.IntN(32))
			}
			instances[inst] = mb
			for range 1 + rng.IntN(3) {
				values = append(values, ping(inst, mb))
			}
		}
		// An instance whose memory changed in this run keeps its last
		// value only; reordering inside a run must not mix two values.
		for i := range values {
			var p message.Ping
			require.NoError(t, message.Decode(values[i], &p))
			values[i] = ping(p.Name.Instance, instances[p.Name.Instance])
		}
		r.deliver(t, rng, message.TopicHealth, values, rng.IntN(5), fmt.Sprintf("run %d", run))
		for _, mb := range instances {
			maxMB = max(maxMB, mb)
		}
		require.Equal(t, maxMB, r.tr.MaxMemoryMB(), "run %d: MAX_MEMORY", run)
		var seen []int
		for _, inv := range r.tr.Invokers() {
			require.Equal(t, instances[inv.Instance], inv.UserMemoryMB, "run %d: invoker %d", run, inv.Instance)
			require.True(t, inv.Healthy, "run %d: invoker %d", run, inv.Instance)
			seen = append(seen, inv.Instance)
		}
		var want []int
		for inst := range instances {
			want = append(want, inst)
		}
		slices.Sort(want)
		require.Equal(t, want, seen, "run %d: each invoker once", run)
		runs.Add(1)
	}
}
