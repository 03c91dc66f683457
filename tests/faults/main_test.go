// Package faults breaks what fnmgr stands on, at random moments and in
// random ways, and checks after each fault that nothing was lost: CouchDB
// killed and restarted under load, the Kafka broker stopped and started,
// concurrent writers on one function, duplicated, reordered and garbage
// Kafka messages, malformed whisks documents.
//
// Every randomized test draws from one seed, logged at the start and on
// failure; rerun a failure with
//
//	go test ./tests/faults -run TestName -faults.seed=N
//
// Tests that need the whole local stack run it in this process
// (tests/stackenv) and skip where it cannot run; the others start a Kafka
// broker or use the stack's CouchDB as they need.
package faults

import (
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

var (
	env      *stackenv.Env
	seedFlag = flag.Uint64("faults.seed", 0, "seed of the randomized fault runs (0: from the clock)")
	seed     uint64
	// runs counts the randomized fault runs (one fault and its checks).
	runs atomic.Int64
)

func TestMain(m *testing.M) {
	flag.Parse()
	seed = *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("faults: seed %d (rerun with -faults.seed=%d)\n", seed, seed)
	code := stackenv.Run(m, stackenv.Options{}, &env)
	fmt.Printf("faults: %d randomized fault runs, seed %d\n", runs.Load(), seed)
	os.Exit(code)
}

// rng is the test's random source: the suite's seed mixed with the test's
// name, so that each test replays alone with the same -faults.seed.
func rng(t *testing.T) *rand.Rand {
	t.Helper()
	h := fnv.New64a()
	_, _ = h.Write([]byte(t.Name()))
	t.Logf("seed %d (rerun with -run '^%s$' -faults.seed=%d)", seed, t.Name(), seed)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// count returns n, or a fifth of it (at least 1) in -short runs.
func count(n int) int {
	if testing.Short() {
		return max(1, n/5)
	}
	return n
}
