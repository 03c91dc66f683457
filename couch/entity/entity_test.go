package entity_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/contract"
)

// sampleTypes maps every couch-* and rest-* sample of the contract to the Go
// type that must decode it and encode it back unchanged.
var sampleTypes = map[string]func() any{
	"couch-action-attached-couch.json":              func() any { return &entity.Action{} },
	"couch-action-attached-mem.json":                func() any { return &entity.Action{} },
	"couch-action-inline.json":                      func() any { return &entity.Action{} },
	"couch-action-packaged.json":                    func() any { return &entity.Action{} },
	"couch-action-sequence.json":                    func() any { return &entity.Action{} },
	"couch-activation-oom.json":                     func() any { return &entity.Activation{} },
	"couch-activation-sequence.json":                func() any { return &entity.Activation{} },
	"couch-activation-timeout.json":                 func() any { return &entity.Activation{} },
	"couch-activation-trigger.json":                 func() any { return &entity.Activation{} },
	"couch-activation.json":                         func() any { return &entity.Activation{} },
	"couch-changes-feed-sample.json":                func() any { return &changes{} },
	"couch-namespace-limits.json":                   func() any { return &entity.NamespaceLimits{} },
	"couch-package-binding.json":                    func() any { return &entity.Package{} },
	"couch-package.json":                            func() any { return &entity.Package{} },
	"couch-rule.json":                               func() any { return &entity.Rule{} },
	"couch-subject-guest.json":                      func() any { return &entity.Subject{} },
	"couch-trigger.json":                            func() any { return &entity.Trigger{} },
	"rest-action-get-response.json":                 func() any { return &entity.ActionView{} },
	"rest-action-put-request.json":                  func() any { return &entity.ActionPut{} },
	"rest-actions-list-response.json":               func() any { return &[]entity.ActionSummary{} },
	"rest-activation-get-response.json":             func() any { return &entity.ActivationView{} },
	"rest-activations-list-response.json":           func() any { return &[]entity.ActivationSummary{} },
	"rest-invoke-blocking-200.json":                 func() any { return &entity.ActivationView{} },
	"rest-invoke-blocking-502-developer-error.json": func() any { return &entity.ActivationView{} },
	"rest-activation-result-response.json":          func() any { return &entity.RESTResponse{} },
	"rest-namespace-limits-response.json":           func() any { return &entity.NamespaceLimits{} },
	"rest-rule-put-request.json":                    func() any { return &entity.RulePut{} },
	"rest-rule-response.json":                       func() any { return &entity.RuleView{} },
	"rest-error.json":                               func() any { return &entity.Error{} },
	"rest-root-info.json":                           func() any { return &entity.RootInfo{} },
	"rest-api-v1-info.json":                         func() any { return &entity.APIInfo{} },
	"rest-activation-logs-response.json":            func() any { return &entity.Logs{} },
	"rest-invoke-nonblocking-202.json":              func() any { return &entity.ActivationID{} },
	"rest-trigger-fire-202.json":                    func() any { return &entity.ActivationID{} },
	"rest-rule-state-request.json":                  func() any { return &entity.RulePut{} },
	"rest-namespaces-response.json":                 func() any { return &[]string{} },
}

type changes struct {
	Results []struct {
		Seq     json.RawMessage `json:"seq"`
		ID      string          `json:"id"`
		Changes []struct {
			Rev string `json:"rev"`
		} `json:"changes"`
		Deleted bool            `json:"deleted,omitempty"`
		Doc     json.RawMessage `json:"doc,omitempty"`
	} `json:"results"`
	LastSeq json.RawMessage `json:"last_seq"`
	Pending int             `json:"pending"`
}

func TestContractSamplesRoundTrip(t *testing.T) {
	contract.RoundTrip(t, sampleTypes, "couch-", "rest-")
}

func TestMemAttachmentMatchesContract(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(contract.Dir(t), "couch-action-attached-mem.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a entity.Action
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	ref := a.Exec.Code.Ref
	code, err := entity.DecodeMemName(ref.AttachmentName)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(code), "function main") {
		t.Fatalf("decoded code = %q", code)
	}
	if got := entity.Digest(code); got != ref.Digest {
		t.Errorf("Digest = %s, contract says %s", got, ref.Digest)
	}
	if got := entity.MemName(code); got != ref.AttachmentName {
		t.Errorf("MemName = %s, contract says %s", got, ref.AttachmentName)
	}
	if int64(len(code)) != *ref.Length {
		t.Errorf("length %d, contract says %d", len(code), *ref.Length)
	}
}

func TestIsBinaryCode(t *testing.T) {
	cases := []struct {
		name string
		code string
		want bool
	}{
		{"javascript", "function main() { return {} }", false},
		{"base64 zip", "UEsDBBQAAAAIAA==", true},
		{"empty", "", false},
		{"not multiple of four", "abc", false},
		{"padded twice", "QQ==", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := entity.IsBinaryCode(c.code); got != c.want {
				t.Fatalf("IsBinaryCode(%q) = %v, want %v", c.code, got, c.want)
			}
		})
	}
}

func TestKeyValues(t *testing.T) {
	kv := entity.KeyValues{}.With("a", 1).With("b", "x").With("a", true)
	if string(kv.Object()) != `{"a":true,"b":"x"}` {
		t.Fatalf("Object = %s", kv.Object())
	}
	if !kv.Bool("a") {
		t.Fatal("Bool(a) = false")
	}
	if s, ok := kv.String("b"); !ok || s != "x" {
		t.Fatalf("String(b) = %q %v", s, ok)
	}
	if len(kv.Without("a")) != 1 {
		t.Fatal("Without did not remove a")
	}
	var nilKV entity.KeyValues
	b, _ := json.Marshal(struct {
		P entity.KeyValues `json:"p"`
	}{nilKV})
	if string(b) != `{"p":[]}` {
		t.Fatalf("nil KeyValues encodes as %s", b)
	}
}

func TestKeyValuesValue(t *testing.T) {
	kv := entity.KeyValues{}.With("int", 7).With("float", 1.5).With("str", "x")
	cases := []struct {
		name string
		got  func() (any, bool)
		want any
		ok   bool
	}{
		{"int64 of an integer", func() (any, bool) { return entity.Value[int64](kv, "int") }, int64(7), true},
		{"float64 of an integer", func() (any, bool) { return entity.Value[float64](kv, "int") }, 7.0, true},
		{"float64 of a float", func() (any, bool) { return entity.Value[float64](kv, "float") }, 1.5, true},
		{"int64 of a float", func() (any, bool) { return entity.Value[int64](kv, "float") }, int64(0), false},
		{"int64 of a string", func() (any, bool) { return entity.Value[int64](kv, "str") }, int64(0), false},
		{"string of an integer", func() (any, bool) { return entity.Value[string](kv, "int") }, "", false},
		{"absent", func() (any, bool) { return entity.Value[int64](kv, "nope") }, int64(0), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := c.got()
			if got != c.want || ok != c.ok {
				t.Fatalf("got %v %v, want %v %v", got, ok, c.want, c.ok)
			}
		})
	}
}
