package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
	"github.com/fnmgr/fnmgr/deploy/local/seed"
)

// profileStack runs the stack of profile on free ports, with the fake
// fnmgr, and stops it at the end of the test.
func profileStack(t *testing.T, profile, prefix, eventPrefix string) *Stack {
	t.Helper()
	t.Setenv(fakeFnmgrEnv, "ok")
	exe, err := os.Executable()
	require.NoError(t, err)
	s, err := New(Options{
		Dir: t.TempDir(), FnmgrBin: exe, Console: io.Discard, Logger: slog.New(slog.DiscardHandler),
		StartTimeout: 30 * time.Second, StopTimeout: 5 * time.Second,
		Profile: profile, KafkaTopicPrefix: prefix, KafkaUserEventsTopicPrefix: eventPrefix,
	})
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() {
		require.NoError(t, s.Stop(context.Background()))
		require.Empty(t, actionrt.Cgroups(CgroupPrefix(s.opts.Dir)), "cgroups left after Stop")
	})
	return s
}

// owClient calls the controller as one subject.
type owClient struct {
	api, auth string
}

func (c owClient) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.api+path, rd)
	require.NoError(t, err)
	if c.auth != "" {
		u, p, _ := bytesCut(c.auth)
		req.SetBasicAuth(u, p)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func bytesCut(s string) (string, string, bool) {
	i := bytes.IndexByte([]byte(s), ':')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// invoke runs action blocking and returns the status and the activation.
func (c owClient) invoke(t *testing.T, action string) (int, activationView) {
	t.Helper()
	code, b := c.call(t, http.MethodPost, "/api/v1/namespaces/_/actions/"+action+"?blocking=true", map[string]any{})
	var v activationView
	_ = json.Unmarshal(b, &v)
	v.raw = string(b)
	return code, v
}

type activationView struct {
	Duration int64 `json:"duration"`
	Response struct {
		Status string          `json:"status"`
		Result json.RawMessage `json:"result"`
	} `json:"response"`
	Error string `json:"error"`
	raw   string
}

// putDoc writes an action document straight into CouchDB, as any tool or
// an old controller could.
func putDoc(t *testing.T, s *Stack, name, kind string, memory int) {
	t.Helper()
	db := couchDB(t, s, "whisks")
	a := entity.Action{
		DocMeta: entity.DocMeta{ID: "guest/" + name}, EntityType: entity.TypeAction, Namespace: "guest", Name: name,
		Version: "0.0.1", Limits: entity.Limits{Timeout: 60000, Memory: memory, Logs: 10, Concurrency: 1},
		Exec:        entity.Exec{Kind: kind, Code: entity.InlineCode("function main(){return {ok:true}}\ndef main(a):\n  return {}")},
		Annotations: entity.KeyValues{}.With("exec", kind), Parameters: entity.KeyValues{},
	}
	_, err := db.Put(t.Context(), a.ID, a)
	require.NoError(t, err)
}

func couchDB(t *testing.T, s *Stack, name string) *kivik.DB {
	t.Helper()
	cl, err := couch.NewClient(t.Context(), s.Endpoints().CouchDB, couch.ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	return cl.DB(DBPrefix + name)
}

// addSubject creates namespace ns with its own key and, when limits is
// set, its limits document (as `wskadmin user create` and `wskadmin limits
// set` write them), and returns a client for it.
func addSubject(t *testing.T, s *Stack, ns string, limits *entity.NamespaceLimits) owClient {
	t.Helper()
	db := couchDB(t, s, "subjects")
	uuid := fmt.Sprintf("%08d-0000-4000-8000-%012d", len(ns), time.Now().UnixNano()%1e12)
	key := "k" + strconv.FormatInt(time.Now().UnixNano(), 10) + "0123456789abcdef0123456789abcdef0123456789abcdef"
	_, err := db.Put(t.Context(), ns, entity.Subject{Subject: ns,
		Namespaces: []entity.SubjectNamespace{{Name: ns, UUID: uuid, Key: key}}})
	require.NoError(t, err)
	if limits != nil {
		_, err := db.Put(t.Context(), ns+"/limits", limits)
		require.NoError(t, err)
	}
	return owClient{api: s.Endpoints().APIHost, auth: uuid + ":" + key}
}

func (c owClient) putNode(t *testing.T, name, code string, memory int) {
	t.Helper()
	st, b := c.call(t, http.MethodPut, "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", map[string]any{
		"exec": map[string]any{"kind": "nodejs:default", "code": code}, "limits": map[string]any{"memory": memory}})
	require.Equal(t, http.StatusOK, st, "%s", b)
}

// topicRecords counts the records on topic, reading for up to wait (it
// returns as soon as one is there when want is true).
func topicRecords(t *testing.T, brokers []string, topic string, wait time.Duration) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	n := 0
	for ctx.Err() == nil && n == 0 {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(*kgo.Record) { n++ })
	}
	return n
}

// waitForMinuteRoom makes sure the next need seconds fall in one wall-clock
// minute: OpenWhisk's RateThrottler counts per minute of the clock.
func waitForMinuteRoom(t *testing.T, need time.Duration) {
	t.Helper()
	now := time.Now()
	next := now.Truncate(time.Minute).Add(time.Minute)
	if next.Sub(now) < need {
		t.Logf("waiting %s for the next minute", next.Sub(now).Round(time.Millisecond))
		select {
		case <-time.After(time.Until(next)):
		case <-t.Context().Done():
		}
	}
}

func median(v []int64) int64 {
	s := slices.Clone(v)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// cpuRuns runs a CPU-bound action at memory MB n times (after one cold
// run) and returns the medians of the activations' durations and of the
// share of a CPU each run got (the action's own CPU time over its
// duration).
func cpuRuns(t *testing.T, c owClient, memory, n int) (durationMs int64, cpuShare float64) {
	t.Helper()
	name := "cpu" + strconv.Itoa(memory)
	c.putNode(t, name, `function main(){const s=process.cpuUsage();let x=0;for(let i=0;i<10000000;i++){x=(x+i*7)%1000003};const d=process.cpuUsage(s);return {x,cpuMs:(d.user+d.system)/1000}}`, memory)
	var ds []int64
	var shares []float64
	for i := range n + 1 {
		st, a := c.invoke(t, name)
		require.Equal(t, http.StatusOK, st, "%s", a.raw)
		if i == 0 { // the first run starts the worker
			continue
		}
		var r struct {
			CPUMs float64 `json:"cpuMs"`
		}
		require.NoError(t, json.Unmarshal(a.Response.Result, &r))
		ds = append(ds, a.Duration)
		shares = append(shares, r.CPUMs/float64(max(a.Duration, 1)))
	}
	sort.Float64s(shares)
	return median(ds), shares[len(shares)/2]
}

// TestProfiles starts the stack under each deployment profile (SPEC.md
// section 5) and checks what it offers and how strictly it runs.
func TestProfiles(t *testing.T) {
	needServices(t)
	type tc struct {
		profile, prefix, eventPrefix string
		kinds, notKinds              []string // some of GET /'s kinds, and some it must not list
		defaults                     map[string]string
		guestPerMinute, guestConc    int
		nodeKind, unoffered          string
		unrunnable                   string // an offered kind this machine cannot run
		pings, events, shares        bool
	}
	cases := []tc{
		{profile: "default", prefix: "owd_",
			kinds: []string{"nodejs:20", "python:3"}, notKinds: []string{"nodejs:14", "java:8"},
			defaults:       map[string]string{"nodejs": "nodejs:20", "python": "python:3"},
			guestPerMinute: 100000, guestConc: 1000, nodeKind: "nodejs:20", unoffered: "nodejs:14",
			pings: true, events: true},
		{profile: "helm", prefix: "owh_",
			kinds:          []string{"nodejs:14", "nodejs:16", "python:3", "java:8", "php:7.4", "go:1.17", "ruby:2.5", "swift:4.2"},
			notKinds:       []string{"nodejs:20", "python:3.10"},
			defaults:       map[string]string{"nodejs": "nodejs:14", "python": "python:3", "java": "java:8"},
			guestPerMinute: 60, guestConc: 30, nodeKind: "nodejs:14", unoffered: "nodejs:20", unrunnable: "java:8",
			pings: true, shares: true},
		{profile: "scheduler", prefix: "owp_", eventPrefix: "owpe_",
			kinds:          []string{"nodejs:20", "nodejs:18", "python:3.10", "python:3.11", "java:8", "go:1.20"},
			notKinds:       []string{"python:3", "nodejs:14"},
			defaults:       map[string]string{"nodejs": "nodejs:20", "python": "python:3.10"},
			guestPerMinute: 60, guestConc: 30, nodeKind: "nodejs:20", unoffered: "python:3", unrunnable: "go:1.20",
			shares: true},
	}
	for _, tc := range cases {
		t.Run(tc.profile, func(t *testing.T) {
			s := profileStack(t, tc.profile, tc.prefix, tc.eventPrefix)
			e := s.Endpoints()
			require.Equal(t, tc.profile, e.Profile)
			guest := owClient{api: e.APIHost, auth: seed.GuestAuth}

			// GET /: the profile's runtimes and limits.
			st, b := owClient{api: e.APIHost}.call(t, http.MethodGet, "/", nil)
			require.Equal(t, http.StatusOK, st)
			var info entity.RootInfo
			require.NoError(t, json.Unmarshal(b, &info))
			offered := map[string]bool{}
			for fam, rts := range info.Runtimes {
				for _, r := range rts {
					offered[r.Kind] = true
					if want, ok := tc.defaults[fam]; ok && r.Default {
						require.Equal(t, want, r.Kind, "default of %s", fam)
					}
				}
			}
			for _, k := range tc.kinds {
				require.True(t, offered[k], "GET / offers %s", k)
			}
			for _, k := range tc.notKinds {
				require.False(t, offered[k], "GET / does not offer %s", k)
			}
			require.EqualValues(t, 512<<20, info.Limits.MaxActionMemory)
			require.EqualValues(t, 128<<20, info.Limits.MinActionMemory)
			require.Equal(t, 60, info.Limits.ActionsPerMinute)
			require.Equal(t, 30, info.Limits.ConcurrentActions)
			require.Equal(t, 60, info.Limits.TriggersPerMinute)

			// The guest's throttles, as GET …/limits answers them.
			st, b = guest.call(t, http.MethodGet, "/api/v1/namespaces/_/limits", nil)
			require.Equal(t, http.StatusOK, st, "%s", b)
			var lim struct {
				InvocationsPerMinute, ConcurrentInvocations, FiresPerMinute, MaxActionMemory, MinActionMemory int
			}
			require.NoError(t, json.Unmarshal(b, &lim))
			require.Equal(t, tc.guestPerMinute, lim.InvocationsPerMinute)
			require.Equal(t, tc.guestConc, lim.ConcurrentInvocations)
			require.Equal(t, 60, lim.FiresPerMinute)
			require.Equal(t, 512, lim.MaxActionMemory)
			require.Equal(t, 128, lim.MinActionMemory)

			// 1024 MB written straight into CouchDB: an application error
			// with OpenWhisk's message, on invoke.
			putDoc(t, s, "big", tc.nodeKind, 1024)
			st, a := guest.invoke(t, "big")
			require.Equal(t, http.StatusBadGateway, st, "%s", a.raw)
			require.Equal(t, "application error", a.Response.Status)
			require.JSONEq(t, `{"error":"memory size 1024 MB exceeds allowed threshold of 512 MB"}`, string(a.Response.Result))
			// …and the controller's own API refuses it.
			st, b = guest.call(t, http.MethodPut, "/api/v1/namespaces/_/actions/big2", map[string]any{
				"exec": map[string]any{"kind": tc.nodeKind, "code": "function main(){}"}, "limits": map[string]any{"memory": 1024}})
			require.Equal(t, http.StatusBadRequest, st)
			require.Contains(t, string(b), "memory size 1024 MB exceeds allowed threshold of 512 MB")

			// A kind the profile does not offer, written into CouchDB: the
			// document cannot be read.
			putDoc(t, s, "alien", tc.unoffered, 256)
			st, a = guest.invoke(t, "alien")
			require.Equal(t, http.StatusInternalServerError, st, "%s", a.raw)
			require.Equal(t, "Resource is corrupted and cannot be read.", a.Error)
			st, b = guest.call(t, http.MethodGet, "/api/v1/namespaces/_/actions/alien", nil)
			require.Equal(t, http.StatusInternalServerError, st)
			require.Contains(t, string(b), "Resource is corrupted and cannot be read.")

			// An offered kind with no runtime here: stored, and fails to run
			// as a container that cannot start.
			if tc.unrunnable != "" {
				st, b = guest.call(t, http.MethodPut, "/api/v1/namespaces/_/actions/jv", map[string]any{
					"exec": map[string]any{"kind": tc.unrunnable, "code": "UEsDBAoAAAAAAA==", "binary": true, "main": "Hello"}})
				require.Equal(t, http.StatusOK, st, "%s", b)
				st, a = guest.invoke(t, "jv")
				require.Equal(t, http.StatusInternalServerError, st, "%s", a.raw)
				require.Equal(t, "whisk internal error", a.Response.Status)
				require.JSONEq(t, `{"error":"Failed to provision resources to run the action."}`, string(a.Response.Result))
			}

			// CPU: shares ∝ memory do not slow a small action on an idle
			// node; a quota ∝ memory does.
			if len(actionrt.Cgroups(CgroupPrefix(s.opts.Dir))) == 0 {
				if os.Getenv("CI") != "" {
					t.Fatal("cgroups unavailable, but CI is set: the CPU model must be tested in CI")
				}
				t.Log("cgroups unavailable: CPU model not checked")
			} else {
				small, share := cpuRuns(t, guest, 128, 5)
				large, _ := cpuRuns(t, guest, 512, 5)
				t.Logf("%s: median duration %d ms at 128 MB (%.2f of a CPU), %d ms at 512 MB", tc.profile, small, share, large)
				if tc.shares {
					// Both sizes run alone: load slows them alike.
					require.LessOrEqual(t, float64(small), 1.5*float64(large)+20, "shares must not slow a 128 MB action on an idle node")
				} else {
					// A quota of 2 CPUs × 128/2048 = 0.125 CPU caps the run,
					// however idle the host (a busy one only lowers it).
					require.Less(t, share, 0.25, "a quota ∝ memory caps a 128 MB action at 0.125 CPU")
				}
			}

			// Topics: prefixed, pings and user events as the profile has them.
			eventTopic := tc.eventPrefix
			if eventTopic == "" {
				eventTopic = tc.prefix
			}
			eventTopic += "events"
			require.Zero(t, topicRecords(t, e.Kafka, "health", 300*time.Millisecond), "nothing on the unprefixed health topic")
			if tc.pings {
				require.Positive(t, topicRecords(t, e.Kafka, tc.prefix+"health", 10*time.Second), "pings on %shealth", tc.prefix)
			} else {
				require.Zero(t, topicRecords(t, e.Kafka, tc.prefix+"health", time.Second), "no pings under %s", tc.profile)
			}
			if tc.events {
				require.Positive(t, topicRecords(t, e.Kafka, eventTopic, 10*time.Second), "user events on %s", eventTopic)
			} else {
				require.Zero(t, topicRecords(t, e.Kafka, eventTopic, time.Second), "no user events under %s", tc.profile)
			}

			switch tc.profile {
			case "helm":
				// The real default path: a namespace without a limits
				// document gets 60 a minute; the 61st is refused.
				c := addSubject(t, s, "plain", nil)
				c.putNode(t, "tiny", "function main(){return {}}", 128)
				waitForMinuteRoom(t, 20*time.Second)
				for i := range 60 {
					st, a := c.invoke(t, "tiny")
					require.Equal(t, http.StatusOK, st, "call %d: %s", i+1, a.raw)
				}
				st, a := c.invoke(t, "tiny")
				require.Equal(t, http.StatusTooManyRequests, st)
				require.Equal(t, "Too many requests in the last minute (count: 61, allowed: 60).", a.Error)
			case "scheduler":
				// Limits documents lower the throttles, as `wskadmin limits
				// set` writes them.
				three, one := 3, 1
				c := addSubject(t, s, "rated", &entity.NamespaceLimits{InvocationsPerMinute: &three, FiresPerMinute: &one})
				c.putNode(t, "tiny", "function main(){return {}}", 128)
				waitForMinuteRoom(t, 10*time.Second)
				for range 3 {
					st, a := c.invoke(t, "tiny")
					require.Equal(t, http.StatusOK, st, "%s", a.raw)
				}
				st, a := c.invoke(t, "tiny")
				require.Equal(t, http.StatusTooManyRequests, st)
				require.Equal(t, "Too many requests in the last minute (count: 4, allowed: 3).", a.Error)
				st, _ = c.call(t, http.MethodPost, "/api/v1/namespaces/_/triggers/none", map[string]any{})
				require.Equal(t, http.StatusNotFound, st, "the first fire is allowed (and finds no trigger)")
				st, b := c.call(t, http.MethodPost, "/api/v1/namespaces/_/triggers/none", map[string]any{})
				require.Equal(t, http.StatusTooManyRequests, st)
				require.Contains(t, string(b), "Too many requests in the last minute (count: 2, allowed: 1).")

				c = addSubject(t, s, "single", &entity.NamespaceLimits{ConcurrentInvocations: &one})
				c.putNode(t, "slow", "function main(){return new Promise(r=>setTimeout(()=>r({}),3000))}", 128)
				st, b = c.call(t, http.MethodPost, "/api/v1/namespaces/_/actions/slow", map[string]any{})
				require.Equal(t, http.StatusAccepted, st, "%s", b)
				st, a = c.invoke(t, "slow")
				require.Equal(t, http.StatusTooManyRequests, st)
				require.Equal(t, "Too many concurrent requests in flight (count: 1, allowed: 1).", a.Error)
			}
		})
	}
}
