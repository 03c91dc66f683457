package invoker

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/kafka/message"
)

// TestInvokerWaitsForMemory fills a 256 MB pool with one 256 MB activation:
// the second one waits, and its waitTime says so.
func TestInvokerWaitsForMemory(t *testing.T) {
	st := startStack(t)
	st.startInvoker(t, 1, 256)
	a := st.putAction(t, "guest", "sleeper", "nodejs:20", nodeSleep, nil, nil)
	msgs := []*message.Activation{activationFor(t, a, true, `{}`), activationFor(t, a, true, `{}`)}
	for _, m := range msgs {
		st.send(t, 1, m)
	}
	var waits []float64
	for _, m := range msgs {
		r := st.await(t, m)
		require.Equal(t, 0, r.doc.Response.StatusCode)
		wait := annotation(t, r.doc, "waitTime").(float64)
		require.Equal(t, int64(wait), r.event.Activation.WaitTime)
		waits = append(waits, wait)
	}
	require.Len(t, waits, 2)
	longest := max(waits[0], waits[1])
	require.GreaterOrEqual(t, longest, float64(1000), "the second activation waited for the first: %v", waits)
}

// TestTwoInvokers runs two invokers side by side: each consumes its own
// topic and keeps its own workers.
func TestTwoInvokers(t *testing.T) {
	st := startStack(t)
	st.startInvoker(t, 0, 512)
	st.startInvoker(t, 1, 512)
	a := st.putAction(t, "guest", "hello", "nodejs:20", nodeHello, nil, nil)
	for _, id := range []int{0, 1, 0, 1} {
		msg := activationFor(t, a, true, `{"name":"two"}`)
		st.send(t, id, msg)
		r := st.await(t, msg)
		require.Equal(t, 0, r.doc.Response.StatusCode, "%s", r.doc.Response.Result)
		require.Equal(t, id, r.ack.Instance.Instance)
		require.Equal(t, "invoker"+strconv.Itoa(id), r.event.Source)
	}
}
