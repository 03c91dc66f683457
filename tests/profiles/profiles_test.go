// Package profiles runs a smoke of every fnmgr capability (versions, the
// lifecycle on every path, the gateway, the optimizer) on the local stack
// as it plays real OpenWhisk deployments (SPEC.md section 5): `helm`
// (openwhisk-deploy-kube: max_action_memory 512 MB, nodejs:14/16, user
// events off) and `scheduler` (ansible master with the scheduler: no health
// pings), each with a Kafka topic prefix, plus issue 12's Done-when checks
// that concern fnmgr. Each profile starts a stack of its own
// (bin/localstack with OW_PROFILE and KAFKA_TOPIC_PREFIX, which it hands to
// fnmgr as FNMGR_KAFKA_TOPIC_PREFIX).
//
//	go test -race -count=1 ./tests/profiles/ -profiles=helm,scheduler
package profiles

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// profilesFlag picks the profiles to smoke; CI runs helm and scheduler
// (default runs the whole e2e suite instead).
var profilesFlag = flag.String("profiles", "helm,scheduler", "comma-separated local stack profiles to smoke")

// topicPrefix is the Kafka topic prefix every smoked stack runs with.
const topicPrefix = "owp_"

var httpClient = &http.Client{Timeout: 90 * time.Second}

func TestProfileSmoke(t *testing.T) {
	for _, profile := range strings.Split(*profilesFlag, ",") {
		t.Run(profile, func(t *testing.T) { smoke(t, strings.TrimSpace(profile)) })
	}
}

// env is one profile's running stack.
type env struct {
	stack.Endpoints
	fnmgrBin string // the fnmgr the stack runs
	profile  string
	prefix   string // the Kafka topic prefix (none on the default profile)
	root     entity.RootInfo
	c, gw    *whisk.Client
}

func start(t *testing.T, profile string) *env {
	t.Helper()
	// localstack (and fnmgr under it) inherit these.
	t.Setenv("OW_PROFILE", profile)
	if profile != "default" {
		t.Setenv("KAFKA_TOPIC_PREFIX", topicPrefix)
	}
	h := stackenv.Start(t, stackenv.Options{Process: true})
	if h.EP.Profile != profile && (profile != "default" || h.EP.Profile != "") {
		t.Skipf("this local stack does not play profile %q (endpoints.json says %q): deploy/local has no profiles yet", profile, h.EP.Profile)
	}
	e := &env{Endpoints: h.EP, fnmgrBin: h.FnmgrBin, profile: profile, prefix: topicPrefix}
	if profile == "default" {
		e.prefix = ""
	}
	code, body := e.call(t, "GET", e.APIHost+"/", nil)
	require.Equal(t, 200, code, "%s", body)
	require.NoError(t, json.Unmarshal(body, &e.root))
	e.c, e.gw = h.Wsk(t, e.APIHost, e.Auth), h.Wsk(t, e.Gateway, e.Auth)
	return e
}

func (e *env) call(t *testing.T, method, u string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(u, e.Admin) || strings.HasPrefix(u, e.Gateway) {
		user, key, _ := strings.Cut(e.Auth, ":")
		req.SetBasicAuth(user, key)
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func (e *env) admin(t *testing.T, method, fn, path string, body, out any) int {
	t.Helper()
	code, b := e.call(t, method, e.Admin+"/v1/namespaces/guest/functions/"+url.PathEscape(fn)+path, body)
	if out != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, out), "%s %s%s: %s", method, fn, path, b)
	}
	return code
}

type fnView struct {
	State string `json:"state"`
	Head  struct {
		Revision int `json:"revision"`
	} `json:"head"`
}

func (e *env) waitRevision(t *testing.T, name string, rev int) {
	t.Helper()
	var f fnView
	require.Eventually(t, func() bool {
		f = fnView{}
		return e.admin(t, "GET", name, "", nil, &f) == 200 && f.Head.Revision >= rev
	}, 10*time.Second, 20*time.Millisecond, "%s reaches revision %d: %+v", name, rev, f)
}

// create inserts (or updates) a nodejs action.
func (e *env) create(t *testing.T, name, code string, memory int, overwrite bool, ann whisk.KeyValueArr) {
	t.Helper()
	a := &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}, Annotations: ann}
	if memory > 0 {
		a.Limits = &whisk.Limits{Memory: &memory}
	}
	_, resp, err := e.c.Actions.Insert(a, overwrite)
	require.NoError(t, err, "insert %s: %v", name, resp)
}

func invoke(c *whisk.Client, name string) (map[string]any, error) {
	res, _, err := c.Actions.Invoke(name, map[string]any{}, true, true)
	m, _ := res.(map[string]any)
	return m, err
}

// waitInvoke polls (every 100 ms: the namespace's throttle counts each
// call) until invoking name satisfies ok; it returns how long that took.
func waitInvoke(t *testing.T, c *whisk.Client, name string, within time.Duration, ok func(error) bool) time.Duration {
	t.Helper()
	began := time.Now()
	var last error
	require.Eventually(t, func() bool {
		_, last = invoke(c, name)
		return ok(last)
	}, within, 100*time.Millisecond, "invoking %s: last error %v", name, last)
	return time.Since(began)
}

func blocked(err error) bool { return err != nil && strings.Contains(err.Error(), "BLOCKED") }

func smoke(t *testing.T, profile string) {
	e := start(t, profile)
	maxMB := int(e.root.Limits.MaxActionMemory >> 20)
	require.Positive(t, maxMB, "GET / names max_action_memory")

	t.Run("ready", func(t *testing.T) { e.checkReady(t) })
	t.Run("limits", func(t *testing.T) { e.checkLimits(t, maxMB) })
	t.Run("versions and gateway", func(t *testing.T) { e.checkVersions(t) })
	t.Run("lifecycle on every path", func(t *testing.T) { e.checkLifecycle(t) })
	t.Run("stub kind", func(t *testing.T) { e.checkStubKind(t) })
	t.Run("optimizer within the deployment", func(t *testing.T) { e.checkOptimizer(t, maxMB) })
	t.Run("fnmgr check and --stub-kind", func(t *testing.T) { e.checkCommand(t) })
}

// checkCommand: `fnmgr check` passes with the deployment's prefixes and
// warns about what is off; `fnmgr serve` with a --stub-kind the controller
// does not offer stops at start with a clear error.
func (e *env) checkCommand(t *testing.T) {
	bin := e.fnmgrBin
	run := func(vars map[string]string, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "FNMGR_COUCHDB_URL=" + e.CouchDB, "FNMGR_KAFKA_BROKERS=" + strings.Join(e.Kafka, ","),
			"FNMGR_CONTROLLERS=" + e.APIHost, "FNMGR_KAFKA_TOPIC_PREFIX=" + e.prefix, "FNMGR_KAFKA_USER_EVENTS_TOPIC_PREFIX=" + e.prefix}
		for k, v := range vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := run(nil, "check")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ok: all ")
	switch e.profile {
	case "helm":
		require.Regexp(t, `(?m)^warn  kafka activity +`+e.prefix+`events: no activation event in the last minute`, out)
	case "scheduler":
		require.Regexp(t, `(?m)^warn  kafka activity +`+e.prefix+`health: no invoker health ping in the last minute`, out)
	}

	code, out = run(map[string]string{"FNMGR_STUB_KIND": "nodejs:99", "FNMGR_DB_PREFIX": "smoke_",
		"FNMGR_ADMIN_ADDR": "127.0.0.1:0", "FNMGR_GATEWAY_ADDR": "127.0.0.1:0"}, "serve")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "stub kind nodejs:99 (--stub-kind, FNMGR_STUB_KIND) is not a kind the controller offers")
}

// checkReady: fnmgr is ready however the deployment runs (user events off
// on helm, no pings on scheduler); /readyz warns naming what to turn on.
func (e *env) checkReady(t *testing.T) {
	var st struct {
		Status   string   `json:"status"`
		Warnings []string `json:"warnings"`
	}
	require.Eventually(t, func() bool {
		code, b := e.call(t, "GET", e.Admin+"/readyz", nil)
		st.Warnings = nil
		return code == 200 && json.Unmarshal(b, &st) == nil && st.Status == "ready"
	}, 30*time.Second, 50*time.Millisecond, "fnmgr is ready")
	all := strings.Join(st.Warnings, "\n")
	switch e.profile {
	case "helm":
		// Helm's metrics.userMetricsEnabled is false: no events, ever.
		require.Contains(t, all, "no activation event on ")
		require.Contains(t, all, "metrics.userMetricsEnabled=true")
	case "scheduler":
		require.Contains(t, all, "no invoker health ping on "+e.prefix+"health")
		require.Contains(t, all, "--max-memory")
	}
}

// checkLimits: a memory size above the controller's max_action_memory is
// a 400 in OpenWhisk's error shape naming the bound and where it comes
// from, and changes nothing.
func (e *env) checkLimits(t *testing.T, maxMB int) {
	name := "smoke-limits"
	e.create(t, name, "function main(){ return {ok: true} }", 256, false, nil)
	e.waitRevision(t, name, 1)
	var body struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	code := e.admin(t, "PUT", name, "/config", map[string]any{"memorySize": 1024}, &body)
	require.Equal(t, 400, code, "%+v", body)
	require.Equal(t, fmt.Sprintf("memorySize 1024 MB exceeds %d MB, the controller's max_action_memory (GET /).", maxMB), body.Error)
	require.NotEmpty(t, body.Code, "the request id")
	require.Equal(t, 200, e.admin(t, "PUT", name, "/config", map[string]any{"memorySize": maxMB}, nil), "the bound itself is allowed")
	a, _, err := e.c.Actions.Get(name, false)
	require.NoError(t, err)
	require.Equal(t, maxMB, *a.Limits.Memory)
}

// checkVersions: update → revision; publish → name@1 runs, through the
// controller and the gateway.
func (e *env) checkVersions(t *testing.T) {
	name := "smoke-versions"
	e.create(t, name, "function main(){ return {v: 1} }", 256, false, nil)
	e.waitRevision(t, name, 1)
	e.create(t, name, "function main(){ return {v: 2} }", 256, true, nil)
	e.waitRevision(t, name, 2)
	var pub struct {
		Version int `json:"version"`
	}
	require.Equal(t, 201, e.admin(t, "POST", name, "/versions", map[string]any{"description": "smoke"}, &pub))
	require.Equal(t, 1, pub.Version)
	var res map[string]any
	var err error
	require.Eventually(t, func() bool {
		res, err = invoke(e.c, name+"@1")
		return err == nil
	}, 5*time.Second, 200*time.Millisecond, "%s@1 runs: %v", name, err)
	require.Equal(t, "2", fmt.Sprint(res["v"]))
	res, err = invoke(e.gw, name)
	require.NoError(t, err, "through the gateway")
	require.Equal(t, "2", fmt.Sprint(res["v"]))
}

// checkLifecycle: while blocked, the controller's invoke, a trigger's
// rule, a sequence and a web action all refuse naming BLOCKED, the gateway
// answers 423; the block is effective on the controller within 1 s (fnmgr's
// cache invalidation on the prefixed topic); unblock restores.
func (e *env) checkLifecycle(t *testing.T) {
	name := "smoke-life"
	e.create(t, name, "function main(){ return {ok: true} }", 256, false,
		whisk.KeyValueArr{{Key: "web-export", Value: true}, {Key: "final", Value: true}})
	e.waitRevision(t, name, 1)
	_, _, err := e.c.Actions.Insert(&whisk.Action{Name: name + "-seq", Namespace: "_",
		Exec: &whisk.Exec{Kind: "sequence", Components: []string{"/_/" + name}}}, false)
	require.NoError(t, err)
	_, _, err = e.c.Triggers.Insert(&whisk.Trigger{Name: name + "-trigger", Namespace: "_"}, false)
	require.NoError(t, err)
	_, _, err = e.c.Rules.Insert(&whisk.Rule{Name: name + "-rule", Trigger: "/_/" + name + "-trigger", Action: "/_/" + name}, false)
	require.NoError(t, err)
	_, err = invoke(e.c, name)
	require.NoError(t, err)

	// fnmgr's invalidation of the action must reach the prefixed topic.
	inval := e.watchInvalidations(t)

	require.Equal(t, 200, e.admin(t, "POST", name, "/block", map[string]any{"reason": "smoke"}, nil))
	// Effective on the controller: it serves the stub (its cache of the
	// action invalidated) rather than the code it read before the block.
	// Reads, not invocations: they do not count against the throttle, nor
	// time a container's start.
	began := time.Now()
	var served string
	require.Eventually(t, func() bool {
		a, _, err := e.c.Actions.Get(name, true)
		if err != nil || a.Exec == nil || a.Exec.Code == nil {
			return false
		}
		served = *a.Exec.Code
		return strings.Contains(served, "BLOCKED")
	}, 3*time.Second, 10*time.Millisecond, "the controller serves the stub: last %q", served)
	took := time.Since(began)
	t.Logf("%s: the block was effective on the controller after %v", e.profile, took)
	if e.profile == "scheduler" {
		require.Less(t, took, time.Second, "a block is effective on the controller within 1 s")
	}
	waitInvoke(t, e.c, name, 3*time.Second, blocked)
	require.Eventually(t, func() bool {
		for {
			select {
			case id := <-inval:
				if id == "guest/"+name {
					return true
				}
			default:
				return false
			}
		}
	}, 10*time.Second, 20*time.Millisecond, "fnmgr's cache invalidation of guest/%s on %scacheInvalidation", name, e.prefix)

	_, err = invoke(e.c, name+"-seq")
	require.True(t, blocked(err), "sequence: %v", err)
	code, body := e.call(t, "GET", e.APIHost+"/api/v1/web/guest/default/"+name, nil)
	require.Equal(t, 423, code, "web action: %s", body)
	require.Contains(t, string(body), "BLOCKED")
	code, body = e.call(t, "POST", e.Gateway+"/api/v1/namespaces/_/actions/"+name+"?blocking=true", map[string]any{})
	require.Equal(t, 423, code, "gateway: %s", body)
	since := time.Now().UnixMilli()
	_, _, err = e.c.Triggers.Fire(name+"-trigger", map[string]any{})
	require.NoError(t, err)
	var act *whisk.Activation
	require.Eventually(t, func() bool {
		list, _, err := e.c.Activations.List(&whisk.ActivationListOptions{Name: name, Since: since, Docs: true, Limit: 10})
		e.c.Namespace = "_"
		for i := range list {
			if len(list[i].Annotations) > 0 && list[i].Start >= since && list[i].Cause == "" {
				act = &list[i]
				return err == nil
			}
		}
		return false
	}, 20*time.Second, 250*time.Millisecond, "the rule's activation of %s", name)
	require.False(t, act.Response.Success, "the rule's activation is refused")
	require.Contains(t, fmt.Sprint(act.Response.Result), "BLOCKED")

	require.Equal(t, 200, e.admin(t, "POST", name, "/unblock", nil, nil))
	waitInvoke(t, e.c, name, 3*time.Second, func(err error) bool { return err == nil })
}

// watchInvalidations reads the prefixed cacheInvalidation topic from its
// end and sends the id of each invalidation fnmgr writes.
func (e *env) watchInvalidations(t *testing.T) <-chan string {
	t.Helper()
	topic := e.prefix + message.TopicCacheInvalidation
	// From the start: the topic holds only what this stack wrote, and the
	// test looks for one document's invalidation.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Kafka...), kgo.ConsumeTopics(topic))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	out := make(chan string, 1024)
	go func() {
		for {
			fs := cl.PollFetches(t.Context())
			if fs.IsClientClosed() || t.Context().Err() != nil {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				// fnmgr's replicas write instanceId "fnmgr-<replica id>".
				var m message.CacheInvalidation
				if json.Unmarshal(r.Value, &m) == nil && strings.HasPrefix(m.InstanceID, "fnmgr") {
					select {
					case out <- m.Key.MainID:
					default:
					}
				}
			})
		}
	}()
	return out
}

// checkStubKind: a blocked java:8 action (a kind fnmgr cannot stub in
// its own language) gets a stub of a kind the controller offers, and
// invoking it names BLOCKED.
func (e *env) checkStubKind(t *testing.T) {
	offered := func(kind string) bool {
		for _, rs := range e.root.Runtimes {
			for _, r := range rs {
				if r.Kind == kind {
					return true
				}
			}
		}
		return false
	}
	if !offered("java:8") {
		t.Skipf("profile %s offers no java:8", e.profile)
	}
	name := "smoke-java"
	jar := "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==" // an empty zip: never run
	main := "Hello"
	_, resp, err := e.c.Actions.Insert(&whisk.Action{Name: name, Namespace: "_",
		Exec: &whisk.Exec{Kind: "java:8", Code: &jar, Main: main}}, false)
	require.NoError(t, err, "%v", resp)
	e.waitRevision(t, name, 1)
	require.Equal(t, 200, e.admin(t, "POST", name, "/block", map[string]any{"reason": "smoke"}, nil))
	a, _, err := e.c.Actions.Get(name, false)
	require.NoError(t, err, "the stub is readable")
	want := ""
	for _, r := range e.root.Runtimes["nodejs"] {
		if r.Default {
			want = r.Kind
		}
	}
	require.True(t, offered(a.Exec.Kind), "stub kind %s is one the controller offers", a.Exec.Kind)
	require.Equal(t, want, a.Exec.Kind, "the controller's default nodejs kind")
	t.Logf("%s: the stub of a blocked java:8 action is %s", e.profile, a.Exec.Kind)
	waitInvoke(t, e.c, name, 3*time.Second, blocked)
}

// checkOptimizer: a short optimization of a 100 ms sleeper neither tries
// nor applies a size above the deployment's max_action_memory.
func (e *env) checkOptimizer(t *testing.T, maxMB int) {
	name := "smoke-sleeper"
	e.create(t, name, "function main(){ return new Promise(r => setTimeout(() => r({ok: true}), 100)) }", 256, false, nil)
	e.waitRevision(t, name, 1)
	var started struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	require.Equal(t, 202, e.admin(t, "POST", name, "/optimizations", map[string]any{
		"payloads": []map[string]any{{}}, "objective": "min-resources", "maxInvocations": 6, "apply": true}, &started), started.Error)
	var run struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Report struct {
			Active struct {
				Points []struct {
					MemoryMB int `json:"memoryMB"`
				} `json:"points"`
			} `json:"active"`
			Recommendation struct {
				MemoryMB int `json:"memoryMB"`
			} `json:"recommendation"`
		} `json:"report"`
	}
	require.Eventually(t, func() bool {
		e.admin(t, "GET", name, "/optimizations/"+started.ID, nil, &run)
		return !slices.Contains([]string{"", "queued", "running"}, run.Status)
	}, 90*time.Second, 250*time.Millisecond, "the optimization ends")
	require.Equal(t, "succeeded", run.Status, run.Error)
	require.NotEmpty(t, run.Report.Active.Points)
	for _, p := range run.Report.Active.Points {
		require.LessOrEqual(t, p.MemoryMB, maxMB, "tried %d MB", p.MemoryMB)
	}
	require.LessOrEqual(t, run.Report.Recommendation.MemoryMB, maxMB)
	a, _, err := e.c.Actions.Get(name, false)
	require.NoError(t, err)
	require.LessOrEqual(t, *a.Limits.Memory, maxMB, "applied")
}
