package analyzer

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// BenchmarkHandle is the events listener's per-message work without Kafka:
// decoding one user event and recording it (run with -cpu 1 for one
// core; tests/load/eventsrate measures it through a real consumer). Every
// event has an activation id of its own, as real events do.
func BenchmarkHandle(b *testing.B) {
	a := New(func(string, string) (registry.State, bool) { return registry.Latest, true }, prometheus.NewRegistry())
	values := make([][]byte, 1024)
	for i := range values {
		values[i] = []byte(fmt.Sprintf(`{"source":"invoker0","body":{"name":"guest/fn%03d","activationId":"%032x","statusCode":0,"duration":%d,"waitTime":3,"initTime":0,"kind":"nodejs:20","conductor":false,"memory":256},"subject":"guest","namespace":"guest","userId":"u","eventType":"Activation","timestamp":1}`,
			i%100, 0, 5+i%50))
	}
	at := bytes.Index(values[0], []byte(`"activationId":"`)) + len(`"activationId":"`)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var id [8]byte
	for i := 0; b.Loop(); i++ {
		v := values[i%len(values)]
		binary.BigEndian.PutUint64(id[:], uint64(i))
		hex.Encode(v[at:at+16], id[:]) // a new activation id, in place
		if err := a.Handle(ctx, "events", v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
