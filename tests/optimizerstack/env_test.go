package optimizerstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/kafka/producer"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/plugin/app"
	"github.com/fnmgr/fnmgr/plugin/deployment"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// shared is the package's stack: bin/localstack as a child process.
var shared *stackenv.Env

func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{Process: true}, &shared)) }

// stackMaxMemoryMB is the local stack's invoker user memory (MAX_MEMORY in
// its health pings).
const stackMaxMemoryMB = 2048

// env wires an optimizer.Service to the shared local stack, with a
// registry database of its own.
type env struct {
	t       *testing.T
	ctx     context.Context
	stack   *stackenv.Env
	whisks  *kivik.DB
	reg     *registry.Store
	actions *openwhisk.Actions
	invoker *probe.Client
	svc     *optimizer.Service
	opts    optimizer.Options
}

// staticKey is the namespace key endpoints.json gives.
type staticKey string

func (k staticKey) KeyFor(context.Context, string) (string, error) { return string(k), nil }

func newEnv(t *testing.T) *env {
	t.Helper()
	stack := stackenv.Need(t, shared)
	ctx := context.Background()
	client, err := couch.NewClient(ctx, stack.EP.CouchDB, couch.ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	var b [4]byte
	_, _ = rand.Read(b[:])
	regName := "opttest_" + hex.EncodeToString(b[:])
	require.NoError(t, couch.EnsureDB(ctx, client, regName))
	e := &env{t: t, ctx: ctx, stack: stack, whisks: client.DB("whisk_local_whisks"), reg: registry.New(client.DB(regName))}
	prod := producer.NewLazy(producer.Options{Brokers: stack.EP.Kafka, InstanceID: "fnmgr-opttest"})
	t.Cleanup(func() { _ = prod.Close() })
	e.actions = openwhisk.NewActions(whiskdb.New(e.whisks), prod)
	e.invoker = probe.NewClient(probe.ClientOptions{APIHost: stack.EP.APIHost, Keys: staticKey(stack.EP.Auth)})
	dep := deployment.New(deployment.Options{ControllerURL: stack.EP.APIHost, MaxMemoryMB: stackMaxMemoryMB})
	// The core's adapters, as fnmgr serve wires them (plugin/app).
	e.opts = optimizer.Options{Functions: app.OptimizerFunctions{Registry: e.reg},
		Store: optimizer.CouchStore{DB: client.DB(regName)}, Actions: e.actions, Whisks: probe.DBLister{DB: e.whisks},
		Invoker: e.invoker, Deployment: app.OptimizerDeployment{Info: dep},
		Applier: app.OptimizerApplier{Registry: e.reg, Versions: versions.New(versions.Options{Registry: e.reg, Actions: e.actions}), Deployment: dep}}
	e.svc = e.service(e.opts)
	return e
}

func (e *env) service(o optimizer.Options) *optimizer.Service {
	svc, err := optimizer.New(o)
	require.NoError(e.t, err)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return svc
}

// rest sends a request to the stack's controller as the guest namespace.
func (e *env) rest(method, path, body string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.stack.EP.APIHost+"/api/v1/namespaces/guest/"+path, strings.NewReader(body))
	require.NoError(e.t, err)
	uuid, key, _ := strings.Cut(e.stack.EP.Auth, ":")
	req.SetBasicAuth(uuid, key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, out
}

// action creates (or replaces) nodejs action name at memoryMB and
// registers it as a LATEST function in the test's registry.
func (e *env) action(name, code string, memoryMB, timeoutMs int) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": code},
		"limits": map[string]any{"memory": memoryMB, "timeout": timeoutMs}})
	require.NoError(e.t, err)
	code2, resp := e.rest(http.MethodPut, "actions/"+name+"?overwrite=true", string(body))
	require.Equal(e.t, http.StatusOK, code2, string(resp))
	_, err = e.reg.Update(e.ctx, "guest", name, func(f *registry.Function) error {
		f.State = registry.Latest
		return nil
	})
	require.NoError(e.t, err)
}

// wait polls run id until it ends.
func (e *env) wait(svc *optimizer.Service, name, id string, within time.Duration) optimizer.Run {
	e.t.Helper()
	var r optimizer.Run
	require.Eventually(e.t, func() bool {
		var err error
		r, err = svc.Get(e.ctx, "guest", name, id)
		require.NoError(e.t, err)
		return r.Status.Done()
	}, within, 250*time.Millisecond, "optimization %s of %s did not end", id, name)
	return r
}

// probeCopies lists the probe copies of action name in the whisks database.
func (e *env) probeCopies(name string) []string {
	e.t.Helper()
	ids, err := probe.DBLister{DB: e.whisks}.IDs(e.ctx)
	require.NoError(e.t, err)
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, "guest/"+name+"@fnmgr-probe-") {
			out = append(out, id)
		}
	}
	return out
}

func unique(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s", prefix, hex.EncodeToString(b[:]))
}
