package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/limits"
)

func TestMergeLimits(t *testing.T) {
	base := entity.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1}
	cases := []struct {
		name string
		put  *entity.LimitsPut
		want entity.Limits
	}{
		{"nil keeps", nil, base},
		{"empty keeps", &entity.LimitsPut{}, base},
		{"memory only", &entity.LimitsPut{Memory: intp(512)}, entity.Limits{Timeout: 60000, Memory: 512, Logs: 10, Concurrency: 1}},
		{"timeout and logs", &entity.LimitsPut{Timeout: intp(3000), Logs: intp(0)}, entity.Limits{Timeout: 3000, Memory: 256, Logs: 0, Concurrency: 1}},
		{"instances", &entity.LimitsPut{Instances: intp(2)}, entity.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1, Instances: intp(2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, mergeLimits(base, c.put))
		})
	}
}

func TestLimitsDefaultsAndValidation(t *testing.T) {
	l := Limits{}.withDefaults()
	require.Equal(t, entity.DefaultLimits(), l.std())
	require.Equal(t, 60*time.Second, l.MaxBlockingWait)
	require.EqualValues(t, 1<<20, l.MaxPayloadBytes)
	require.Equal(t, 50, l.SequenceMaxLength)
	require.NoError(t, l.validate())
	bad := Limits{Ranges: limits.Ranges{MinMemoryMB: 600}}.withDefaults()
	require.Error(t, bad.validate())
}

func TestOptionsDefaults(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		err  bool
	}{
		{"minimal", Options{CouchURL: "http://127.0.0.1:5984", Brokers: []string{"127.0.0.1:9092"}}, false},
		{"no couch", Options{Brokers: []string{"x"}}, true},
		{"no brokers", Options{CouchURL: "http://x"}, true},
		{"bad apihost", Options{CouchURL: "http://x", Brokers: []string{"x"}, APIHost: "ftp://x"}, true},
		{"bad id", Options{ID: "a/b", CouchURL: "http://x", Brokers: []string{"x"}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := c.o.withDefaults()
			if c.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "0", o.ID)
			require.Equal(t, DefaultDBPrefix, o.DBPrefix)
			require.Equal(t, 1, o.Invokers)
			require.Len(t, o.Runtimes, 2)
		})
	}
}

func TestAmendAnnotations(t *testing.T) {
	cases := []struct {
		name   string
		in     entity.KeyValues
		create bool
		want   string
	}{
		{"create adds provide-api-key", nil, true, `[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}]`},
		{"create keeps a given key", entity.KeyValues{}.With("provide-api-key", true), true,
			`[{"key":"provide-api-key","value":true},{"key":"exec","value":"nodejs:20"}]`},
		{"exec is overridden", entity.KeyValues{}.With("exec", "bogus").With("web-export", true), true,
			`[{"key":"exec","value":"nodejs:20"},{"key":"web-export","value":true},{"key":"provide-api-key","value":false}]`},
		{"update adds nothing else", nil, false, `[{"key":"exec","value":"nodejs:20"}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := amendAnnotations(c.in, "nodejs:20", c.create)
			b, err := got.MarshalJSON()
			require.NoError(t, err)
			require.JSONEq(t, c.want, string(b))
		})
	}
}

func TestSemVer(t *testing.T) {
	cases := []struct {
		in, up string
		valid  bool
	}{
		{"0.0.1", "0.0.2", true},
		{"1.2.9", "1.2.10", true},
		{"0.0.0", "0.0.1", false},
		{"1.2", "0.0.1", false},
		{"x", "0.0.1", false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			require.Equal(t, c.valid, validSemVer(c.in))
			require.Equal(t, c.up, upPatch(c.in))
		})
	}
}

func TestRuntimes(t *testing.T) {
	rt, err := newRuntimes(DefaultRuntimes())
	require.NoError(t, err)
	cases := []struct {
		kind, want, msg string
	}{
		{"nodejs:default", "nodejs:20", ""},
		{"python:default", "python:3", ""},
		{"nodejs:20", "nodejs:20", ""},
		{"sequence", "sequence", ""},
		{"blackbox", "blackbox", ""},
		{"java:default", "", "The request content was malformed:\nkind 'java:default' not in Set(nodejs:20, python:3)"},
		{"nodejs:18", "", "The request content was malformed:\nkind 'nodejs:18' not in Set(nodejs:20, python:3)"},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			got, err := rt.resolve(c.kind)
			if c.msg != "" {
				require.Equal(t, c.msg, asAPIError(err).msg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	info := rt.info()
	require.True(t, info["nodejs"][0].Default)
	require.True(t, info["python"][0].Attached)
	for _, bad := range [][]Runtime{
		{{Kind: "nodejs"}},
		{{Kind: "nodejs:default"}},
		{{Kind: "a:1", Default: true}, {Kind: "a:2", Default: true}},
		{{Kind: "a:1"}, {Kind: "a:1"}},
	} {
		_, err := newRuntimes(bad)
		require.Error(t, err, "%v", bad)
	}
}
