package preflight

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch/couchtest"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

func fakeController(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"api_paths":["/api/v1"],"description":"OpenWhisk"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func kafka(t *testing.T, topics ...string) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestRun(t *testing.T) {
	owDBs := []string{"test_whisks", "test_subjects", "test_activations"}
	allTopics := []string{"health", "events", "cacheInvalidation", "invoker0", "completed0"}
	ctl := fakeController(t)
	notController := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notController.Close)
	tests := []struct {
		name     string
		dbs      []string
		topics   []string
		couchURL func(srv *httptest.Server) string
		ctl      string
		failed   []string // "name target" of the failures
	}{
		{"everything there", owDBs, allTopics, nil, ctl.URL, nil},
		{"wrong prefix", []string{"whisk_local_whisks"}, allTopics, nil, ctl.URL,
			[]string{"couchdb database test_whisks", "couchdb database test_subjects", "couchdb database test_activations"}},
		{"wrong password", owDBs, allTopics, func(srv *httptest.Server) string {
			return strings.Replace(srv.URL, "http://", "http://whisk_admin:wrong@", 1)
		}, ctl.URL, []string{"couchdb "}},
		{"no user events", owDBs, []string{"health", "cacheInvalidation", "invoker0"}, nil, ctl.URL, []string{"kafka topic events"}},
		{"no invokers", owDBs, []string{"health", "events", "cacheInvalidation"}, nil, ctl.URL, []string{"kafka topic invoker*"}},
		{"not a controller", owDBs, allTopics, nil, notController.URL, []string{"controller "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			couch := couchtest.NewFake(t, couchtest.Options{DBs: tc.dbs, User: "whisk_admin", Password: "some_passw0rd"}).Server
			couchURL := strings.Replace(couch.URL, "http://", "http://whisk_admin:some_passw0rd@", 1)
			if tc.couchURL != nil {
				couchURL = tc.couchURL(couch)
			}
			cfg := config.Default()
			cfg.CouchURL = testkit.MustURL(t, couchURL)
			cfg.OWDBPrefix = "test_"
			cfg.KafkaBrokers = []string{kafka(t, tc.topics...)}
			cfg.Controllers = []*url.URL{testkit.MustURL(t, tc.ctl)}
			rs := Run(context.Background(), Options{Config: cfg, Timeout: 5 * time.Second})
			var failed []string
			for _, r := range rs {
				if !r.OK {
					failed = append(failed, r.Name+" "+r.Target)
					require.NotEmpty(t, r.Fix, "a failure says how to fix it: %+v", r)
				}
			}
			require.Equal(t, len(tc.failed), Failed(rs), "%v", failed)
			for i, f := range tc.failed {
				require.True(t, strings.HasPrefix(failed[i], f), "failure %d: %q, want %q", i, failed[i], f)
			}
			var out bytes.Buffer
			require.NoError(t, Print(&out, rs))
			require.NotContains(t, out.String(), "some_passw0rd")
			require.NotContains(t, out.String(), "wrong@")
		})
	}
}

// TestTopicPrefixAndActivity: with OpenWhisk's topic prefixes, the prefixed
// topics are the ones checked; a topic without a record in the last minute
// is a warning naming what turns it on, not a failure.
func TestTopicPrefixAndActivity(t *testing.T) {
	owDBs := []string{"test_whisks", "test_subjects", "test_activations"}
	tests := []struct {
		name        string
		topics      []string
		prefix, ue  string
		produce     []string // topics that get a record now
		failed      []string
		warned      []string // "name target" of the warnings
		warnMention map[string]string
	}{
		{"prefix, no activity", []string{"owp_health", "events", "owp_cacheInvalidation", "owp_invoker0"}, "owp_", "", nil,
			nil, []string{"kafka activity events", "kafka activity owp_health"},
			map[string]string{"owp_health": "--max-memory", "events": "metrics.userMetricsEnabled"}},
		{"prefix, pings and events", []string{"owp_health", "owe_events", "owp_cacheInvalidation", "owp_invoker0"}, "owp_", "owe_",
			[]string{"owp_health", "owe_events"}, nil, nil, nil},
		{"prefix not set", []string{"owp_health", "owp_events", "owp_cacheInvalidation", "owp_invoker0"}, "", "", nil,
			[]string{"kafka topic cacheInvalidation", "kafka topic events", "kafka topic health", "kafka topic invoker*"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			couch := couchtest.NewFake(t, couchtest.Options{DBs: owDBs}).Server
			addr := kafka(t, tc.topics...)
			if len(tc.produce) > 0 {
				cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
				require.NoError(t, err)
				for _, topic := range tc.produce {
					require.NoError(t, cl.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Value: []byte(`{}`)}).FirstErr())
				}
				cl.Close()
			}
			cfg := config.Default()
			cfg.CouchURL = testkit.MustURL(t, couch.URL)
			cfg.OWDBPrefix = "test_"
			cfg.KafkaBrokers = []string{addr}
			cfg.KafkaTopicPrefix, cfg.UserEventsTopicPrefix = tc.prefix, tc.ue
			cfg.Controllers = []*url.URL{testkit.MustURL(t, fakeController(t).URL)}
			rs := Run(t.Context(), Options{Config: cfg, Timeout: 5 * time.Second})
			var failed, warned []string
			for _, r := range rs {
				switch {
				case !r.OK:
					failed = append(failed, r.Name+" "+r.Target)
				case r.Warning:
					warned = append(warned, r.Name+" "+r.Target)
					require.Contains(t, r.Fix, tc.warnMention[r.Target], "the warning names the setting that turns it on")
				}
			}
			require.Equal(t, tc.failed, failed)
			require.Equal(t, tc.warned, warned)
			require.Equal(t, len(tc.warned), Warnings(rs))
			var out bytes.Buffer
			require.NoError(t, Print(&out, rs))
			if len(tc.warned) > 0 {
				require.Contains(t, out.String(), "warn  kafka activity")
			}
		})
	}
}
