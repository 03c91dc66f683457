package controller

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

func TestCacheInvalidation(t *testing.T) {
	e := newEnv(t)
	fi := e.startFakeInvoker(echo, ackCombined)
	inval := e.consumer(message.TopicCacheInvalidation)
	e.putHello("hello", whisk.KeyValueArr{{Key: "v", Value: 1}}, nil)
	invoke := func() message.Activation {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello?blocking=true", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		return fi.next(t)
	}

	t.Run("writes are announced", func(t *testing.T) {
		b := inval.next(t, func(b []byte) bool { return true })
		require.JSONEq(t, `{"key":{"mainId":"guest/hello"},"instanceId":"controller0"}`, string(b))
	})

	first := invoke()
	// Someone writes CouchDB directly.
	db := e.couch.DB(e.prefix + "whisks")
	var doc map[string]any
	require.NoError(t, db.Get(t.Context(), "guest/hello").ScanDoc(&doc))
	doc["parameters"] = []map[string]any{{"key": "v", "value": 2}}
	rev, err := db.Put(t.Context(), "guest/hello", doc)
	require.NoError(t, err)

	t.Run("without a message the cached copy stays", func(t *testing.T) {
		msg := invoke()
		require.Equal(t, first.Revision, msg.Revision)
		require.JSONEq(t, `{"v":1}`, string(msg.Content))
	})

	t.Run("a message from another instance drops it", func(t *testing.T) {
		prod, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ProducerLinger(0))
		require.NoError(t, err)
		defer prod.Close()
		b, _ := json.Marshal(message.CacheInvalidation{Key: message.CacheKey{MainID: "guest/hello"}, InstanceID: "cache-invalidator"})
		require.NoError(t, prod.ProduceSync(t.Context(), &kgo.Record{Topic: message.TopicCacheInvalidation, Value: b}).FirstErr())
		require.Eventually(t, func() bool {
			_, ok := e.ctl.cache.get("guest/hello")
			return !ok
		}, 10*time.Second, 10*time.Millisecond)
		msg := invoke()
		require.Equal(t, rev, msg.Revision)
		require.JSONEq(t, `{"v":2}`, string(msg.Content))
	})
}

func TestUserEventsAndActivations(t *testing.T) {
	e := newEnv(t)
	fi := e.startFakeInvoker(echo, ackCombined)
	events := e.consumer(message.TopicEvents)
	e.putHello("hello", nil, nil)
	_, _, err := e.wsk.Packages.Insert(&whisk.Package{Name: "demo"}, false)
	require.NoError(t, err)
	code := helloJS
	_, _, err = e.wsk.Actions.Insert(&whisk.Action{Name: "demo/hi", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}}, false)
	require.NoError(t, err)

	var ids []string
	for i, name := range []string{"hello", "demo/hi", "hello"} {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/"+name+"?blocking=true", map[string]any{"i": i})
		require.Equal(t, http.StatusOK, r.status)
		ids = append(ids, r.header.Get(activationIDHeader))
		fi.next(t)
	}

	t.Run("ConcurrentInvocations metric", func(t *testing.T) {
		b := events.next(t, func(b []byte) bool {
			var ev message.Event
			return json.Unmarshal(b, &ev) == nil && ev.Metric != nil
		})
		var ev message.Event
		require.NoError(t, json.Unmarshal(b, &ev))
		require.Equal(t, "controller0", ev.Source)
		require.Equal(t, "ConcurrentInvocations", ev.Metric.MetricName)
		require.EqualValues(t, 1, ev.Metric.MetricValue)
		require.Equal(t, "guest", ev.Namespace)
		require.Equal(t, "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", ev.UserID)
	})

	t.Run("list newest first", func(t *testing.T) {
		r := e.guest(http.MethodGet, "/api/v1/namespaces/_/activations?limit=30&skip=0", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var list []map[string]any
		r.json(t, &list)
		require.Len(t, list, 3)
		require.Equal(t, ids[2], list[0]["activationId"])
		require.Equal(t, ids[0], list[2]["activationId"])
		require.EqualValues(t, 0, list[0]["statusCode"])
		require.NotContains(t, list[0], "response")
		acts, _, err := e.wsk.Activations.List(&whisk.ActivationListOptions{Limit: 1, Skip: 1})
		require.NoError(t, err)
		require.Len(t, acts, 1)
		require.Equal(t, ids[1], acts[0].ActivationID)
	})

	t.Run("filters", func(t *testing.T) {
		cases := []struct {
			query string
			want  []string
		}{
			{"name=hello", []string{ids[2], ids[0]}},
			{"name=demo/hi", []string{ids[1]}},
			{"name=nothing", nil},
		}
		for _, c := range cases {
			t.Run(c.query, func(t *testing.T) {
				r := e.guest(http.MethodGet, "/api/v1/namespaces/_/activations?"+c.query, nil)
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				var list []entity.ActivationSummary
				r.json(t, &list)
				var got []string
				for _, a := range list {
					got = append(got, a.ActivationID)
				}
				require.Equal(t, c.want, got)
			})
		}
		r := e.guest(http.MethodGet, "/api/v1/namespaces/_/activations?count=true&name=hello", nil)
		require.JSONEq(t, `{"activations":2}`, string(r.body))
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/activations?count=true&docs=true", nil)
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, msgDocsWithCount, r.errorBody(t))
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/activations?docs=true&limit=1", nil)
		var views []entity.ActivationView
		r.json(t, &views)
		require.Len(t, views, 1)
		require.Equal(t, "success", views[0].Response.Status)
		first, err := e.ctl.getActivation(t.Context(), "guest", ids[1])
		require.NoError(t, err)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/activations?upto="+itoa64(first.Start), nil)
		var list []entity.ActivationSummary
		r.json(t, &list)
		require.Len(t, list, 2)
	})

	t.Run("get, result and logs", func(t *testing.T) {
		r := e.guest(http.MethodGet, "/api/v1/namespaces/_/activations/"+ids[0], nil)
		require.Equal(t, http.StatusOK, r.status)
		require.NotContains(t, string(r.body), `"statusCode"`)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/activations/"+ids[0]+"/result", nil)
		require.JSONEq(t, `{"result":{"i":0},"size":7,"success":true,"status":"success"}`, string(r.body))
		logs, _, err := e.wsk.Activations.Logs(ids[0])
		require.NoError(t, err)
		require.Len(t, logs.Logs, 1)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/activations/xyz", nil)
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, "ID length is 3 but must be 32.", r.errorBody(t))
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/activations/0123456789abcdef0123456789abcdef", nil)
		require.Equal(t, http.StatusNotFound, r.status)
	})
}

func itoa64(n int64) string { b, _ := json.Marshal(n); return string(b) }
