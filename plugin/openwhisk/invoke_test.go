package openwhisk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/subjects"
)

// staticKeys is a KeySource over a map; it records Forget.
type staticKeys struct {
	mu      sync.Mutex
	keys    map[string]string
	forgot  []string
	lookups int
}

func (k *staticKeys) KeyFor(_ context.Context, ns string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lookups++
	key, ok := k.keys[ns]
	if !ok {
		return "", subjects.ErrNoKey
	}
	return key, nil
}

func (k *staticKeys) Forget(ns string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forgot = append(k.forgot, ns)
}

const secretKey = "k3y-that-must-never-show"

// fakeController answers like OpenWhisk's controller for one namespace
// (guest, key u:secretKey).
func fakeController(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, k, ok := r.BasicAuth(); !ok || u != "u" || k != secretKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"The supplied authentication is invalid.","code":"x1"}`)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestInvoke(t *testing.T) {
	cases := []struct {
		name      string
		keys      map[string]string
		action    string
		status    int
		body      string
		want      string // result, or a substring of the error
		wantErr   bool
		wantPath  string
		wantForgo bool
	}{
		{"success", map[string]string{"guest": "u:" + secretKey}, "hello", 200,
			`{"activationId":"a1","response":{"status":"success","success":true,"result":{"v":1}}}`, `{"v":1}`, false,
			"/api/v1/namespaces/guest/actions/hello", false},
		{"packaged and versioned", map[string]string{"guest": "u:" + secretKey}, "pkg/hello@fnmgr-update", 200,
			`{"activationId":"a1","response":{"status":"success","success":true,"result":{}}}`, `{}`, false,
			"/api/v1/namespaces/guest/actions/pkg/hello@fnmgr-update", false},
		{"developer error", map[string]string{"guest": "u:" + secretKey}, "hello", 502,
			`{"activationId":"a2","response":{"status":"application error","success":false,"result":{"error":"boom"}}}`,
			`ended with application error: "boom"`, true, "", false},
		{"rotated key: refused and forgotten", map[string]string{"guest": "u:old"}, "hello", 0, "", "401", true, "", true},
		{"no key for the namespace", map[string]string{}, "hello", 0, "", "no subject owns", true, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var gotPath, gotQuery string
			host := fakeController(t, func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotQuery = r.URL.Path, r.URL.RawQuery
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			})
			keys := &staticKeys{keys: c.keys}
			inv := &Invoker{APIHost: host, Keys: keys}
			res, err := inv.Invoke(context.Background(), "guest", c.action, nil)
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Invoke = %s, %v; want an error saying %q", res, err, c.want)
				}
				if strings.Contains(err.Error(), secretKey) || strings.Contains(err.Error(), "u:old") {
					t.Fatalf("the error shows the key: %v", err)
				}
			} else if err != nil || string(res) != c.want {
				t.Fatalf("Invoke = %s, %v; want %s", res, err, c.want)
			}
			if c.wantPath != "" && (gotPath != c.wantPath || gotQuery != "blocking=true") {
				t.Fatalf("invoked %s?%s, want %s?blocking=true", gotPath, gotQuery, c.wantPath)
			}
			if forgot := len(keys.forgot) > 0; forgot != c.wantForgo {
				t.Fatalf("key forgotten: %v, want %v", forgot, c.wantForgo)
			}
		})
	}
}

// TestControllerCode: code kept outside CouchDB is read through the
// controller's API with ?code=true as the action's root namespace, binary
// code decoded, and a refusal reported with the controller's status.
func TestControllerCode(t *testing.T) {
	zip := []byte("PK\x03\x04 binary")
	cases := []struct {
		name     string
		action   entity.Action
		reply    func(w http.ResponseWriter)
		want     []byte
		wantErr  string
		wantPath string
	}{
		{"text", entity.Action{Namespace: "guest", Name: "big"}, func(w http.ResponseWriter) {
			_ = json.NewEncoder(w).Encode(map[string]any{"namespace": "guest", "name": "big",
				"exec": map[string]any{"kind": "nodejs:20", "code": "function main(){}", "binary": false}})
		}, []byte("function main(){}"), "", "/api/v1/namespaces/guest/actions/big"},
		{"binary in a package", entity.Action{Namespace: "guest/pkg", Name: "z ip"}, func(w http.ResponseWriter) {
			_ = json.NewEncoder(w).Encode(map[string]any{"namespace": "guest/pkg", "name": "z ip",
				"exec": map[string]any{"kind": "python:3", "code": base64.StdEncoding.EncodeToString(zip), "binary": true}})
		}, zip, "", "/api/v1/namespaces/guest/actions/pkg/z ip"},
		{"the controller cannot read it either", entity.Action{Namespace: "guest", Name: "big"}, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"An internal error occurred.","code":"c1"}`)
		}, nil, "500 Internal Server Error: An internal error occurred.", ""},
		{"no code in the answer", entity.Action{Namespace: "guest", Name: "big"}, func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"namespace":"guest","name":"big","exec":{"kind":"nodejs:20"}}`)
		}, nil, "holds no code", ""},
		{"no key", entity.Action{Namespace: "other", Name: "big"}, func(w http.ResponseWriter) {}, nil, "no subject owns", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var gotPath, gotQuery string
			host := fakeController(t, func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotQuery = r.URL.Path, r.URL.RawQuery
				c.reply(w)
			})
			src := &ControllerCode{APIHost: host, Keys: &staticKeys{keys: map[string]string{"guest": "u:" + secretKey}}}
			got, err := src.ExternalCode(context.Background(), c.action)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), secretKey) {
					t.Fatalf("ExternalCode = %q, %v; want an error saying %q (without the key)", got, err, c.wantErr)
				}
				return
			}
			if err != nil || string(got) != string(c.want) {
				t.Fatalf("ExternalCode = %q, %v; want %q", got, err, c.want)
			}
			if gotPath != c.wantPath || gotQuery != "code=true" {
				t.Fatalf("asked %s?%s, want %s?code=true", gotPath, gotQuery, c.wantPath)
			}
		})
	}
}
