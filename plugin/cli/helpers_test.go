package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeAPI answers canned responses by "METHOD escaped-path" and records
// the requests.
type fakeAPI struct {
	mu       sync.Mutex
	answers  map[string][]answer // served in turn; the last one repeats
	requests []recorded
	srv      *httptest.Server
}

type answer struct {
	status int
	body   string
}

type recorded struct {
	method, path, query, auth, body string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{answers: map[string][]answer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.EscapedPath()
		f.mu.Lock()
		f.requests = append(f.requests, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), string(b)})
		as := f.answers[key]
		var a answer
		switch {
		case len(as) == 0:
			a = answer{404, `{"error":"no such route in the fake: ` + key + `","code":"fake404"}`}
		case len(as) == 1:
			a = as[0]
		default:
			a, f.answers[key] = as[0], as[1:]
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) on(key string, status int, body string) *fakeAPI {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[key] = append(f.answers[key], answer{status, body})
	return f
}

func (f *fakeAPI) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return recorded{}
	}
	return f.requests[len(f.requests)-1]
}

// runCLI runs the command line in-process with a temporary wskprops file
// holding props, and returns the exit status, stdout and stderr.
func runCLI(t *testing.T, props string, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wskprops")
	if err := os.WriteFile(path, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvWskConfig: path, "HOME": t.TempDir()}
	for k, v := range vars {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut, Version: "test",
		Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errOut.String()
}

// props is a wskprops file naming the fake's URL as FNMGR_ADMIN.
func (f *fakeAPI) props() string {
	return "APIHOST=http://127.0.0.1:1\nAUTH=23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secretkey\nNAMESPACE=guest\nFNMGR_ADMIN=" + f.srv.URL + "\n"
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// envExec makes the test binary run the CLI instead of the tests, so that a
// shell completion script can call it as fnmgr.
const envExec = "FNMGR_CLI_TEST_EXEC"

func TestMain(m *testing.M) {
	if os.Getenv(envExec) == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: "test"}))
	}
	os.Exit(m.Run())
}

// fnmgrOnPath is a PATH whose fnmgr is this test binary running the CLI
// (with envExec set).
func fnmgrOnPath(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, "fnmgr")); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}
