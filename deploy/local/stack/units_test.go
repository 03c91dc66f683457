package stack

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/config"
)

func takePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// freePair finds two consecutive ports free on 127.0.0.1 and returns the
// first, closed again so that resolvePorts can check them itself (a fixed
// port may be in use on a shared CI machine).
func freePair(t *testing.T) int {
	t.Helper()
	for range 50 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		a.Close()
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports on 127.0.0.1")
	return 0
}

func TestResolvePorts(t *testing.T) {
	taken := takePort(t)
	pair := freePair(t)
	tests := []struct {
		name    string
		opts    Options
		wantErr []string
		check   func(t *testing.T, p ports)
	}{
		{"all zero: distinct free ports", Options{Controllers: 3}, nil, func(t *testing.T, p ports) {
			seen := map[int]bool{}
			for _, port := range append(p.controllers, p.gateway, p.admin, p.couchdb, p.kafka) {
				require.NotZero(t, port)
				require.False(t, seen[port], "port %d picked twice", port)
				seen[port] = true
			}
		}},
		{"controllers consecutive from the API host port", Options{Controllers: 2, APIHostPort: pair}, nil, func(t *testing.T, p ports) {
			require.Equal(t, []int{pair, pair + 1}, p.controllers)
		}},
		{"taken port names the port and the flag", Options{Controllers: 1, KafkaPort: taken}, []string{
			"port " + strconv.Itoa(taken) + " for Kafka is already in use", "--kafka-port (KAFKA_PORT)"}, nil},
		{"taken controller port", Options{Controllers: 2, APIHostPort: taken - 1}, []string{
			"port " + strconv.Itoa(taken) + " for controller 1", "--apihost-port (OW_APIHOST_PORT) + 1"}, nil},
		{"a second controller collides with the gateway", Options{Controllers: 2, APIHostPort: 43233, GatewayPort: 43234}, []string{
			"port 43234 is wanted by both controller 1", "--gateway-port (FNMGR_GATEWAY_PORT)"}, nil},
		{"every problem at once", Options{Controllers: 1, KafkaPort: taken, CouchDBPort: taken}, []string{
			"Kafka", "CouchDB"}, nil},
		{"out of range", Options{Controllers: 1, AdminPort: 70000}, []string{"70000", "--admin-port"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := resolvePorts(tc.opts)
			if tc.wantErr != nil {
				require.Error(t, err)
				for _, w := range tc.wantErr {
					require.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, p)
		})
	}
}

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(t *testing.T, o Options)
		wantErr string
	}{
		{"defaults", nil, nil, func(t *testing.T, o Options) {
			require.Equal(t, Options{Dir: ".local", APIHostPort: 3233, GatewayPort: 3234, AdminPort: 3235,
				CouchDBPort: 5984, KafkaPort: 9092, Controllers: 1, Invokers: 1}, o)
		}, ""},
		{"env", nil, map[string]string{"LOCAL_DIR": "/tmp/x", "OW_APIHOST_PORT": "0", "FNMGR_GATEWAY_PORT": "0",
			"FNMGR_ADMIN_PORT": "0", "COUCHDB_PORT": "0", "KAFKA_PORT": "0", "FNMGR_ADMIN_TOKEN": "tok-0123456789abcdef"},
			func(t *testing.T, o Options) {
				require.Equal(t, Options{Dir: "/tmp/x", Controllers: 1, Invokers: 1, AdminToken: "tok-0123456789abcdef"}, o)
			}, ""},
		{"flag wins", []string{"--apihost-port", "4000", "--controllers", "2"}, map[string]string{"OW_APIHOST_PORT": "5000"},
			func(t *testing.T, o Options) {
				require.Equal(t, 4000, o.APIHostPort)
				require.Equal(t, 2, o.Controllers)
			}, ""},
		{"bad env number", nil, map[string]string{"KAFKA_PORT": "ninety"}, nil, `KAFKA_PORT: "ninety" is not a number`},
		{"no controllers", []string{"--controllers", "0"}, nil, nil, "must be at least 1"},
		{"stray argument", []string{"now"}, nil, nil, `unexpected argument "now"`},
		{"profile and prefix from env", nil, map[string]string{"OW_PROFILE": "helm", "KAFKA_TOPIC_PREFIX": "owp_"},
			func(t *testing.T, o Options) {
				require.Equal(t, "helm", o.Profile)
				require.Equal(t, "owp_", o.KafkaTopicPrefix)
				require.Empty(t, o.KafkaUserEventsTopicPrefix, "defaults to the topic prefix in New")
			}, ""},
		{"profile flag wins", []string{"--profile", "scheduler", "--kafka-user-events-topic-prefix", "ev_"},
			map[string]string{"OW_PROFILE": "helm"},
			func(t *testing.T, o Options) {
				require.Equal(t, "scheduler", o.Profile)
				require.Equal(t, "ev_", o.KafkaUserEventsTopicPrefix)
			}, ""},
		{"unknown profile", []string{"--profile", "kube"}, nil, nil, `--profile (OW_PROFILE): unknown profile "kube"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseFlags("localstack", tc.args, env(tc.env), &bytes.Buffer{})
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.want(t, o)
		})
	}
	var help bytes.Buffer
	_, err := ParseFlags("localstack", []string{"-h"}, env(nil), &help)
	require.True(t, errors.Is(err, flag.ErrHelp))
	for f, e := range envOf {
		require.Contains(t, help.String(), "-"+f)
		require.Contains(t, help.String(), e)
	}
}

func TestEndpointsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), EndpointsFile)
	e := Endpoints{APIHost: "http://127.0.0.1:3233", Gateway: "http://127.0.0.1:3234", Admin: "http://127.0.0.1:3235",
		CouchDB: "http://127.0.0.1:5984", Kafka: []string{"127.0.0.1:9092"}, Namespace: "guest", Auth: "u:k", AdminToken: "t",
		Profile: "helm", KafkaTopicPrefix: "owp_", KafkaUserEventsTopicPrefix: "owp_"}
	require.NoError(t, writeEndpoints(path, e))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, `{"apihost":"http://127.0.0.1:3233","gateway":"http://127.0.0.1:3234","admin":"http://127.0.0.1:3235",
		"couchdb":"http://127.0.0.1:5984","kafka":["127.0.0.1:9092"],"namespace":"guest","auth":"u:k","adminToken":"t",
		"profile":"helm","kafkaTopicPrefix":"owp_","kafkaUserEventsTopicPrefix":"owp_"}`, string(b))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "it holds the admin token")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")

	e.AdminToken = "t2"
	require.NoError(t, writeEndpoints(path, e), "rewriting replaces the file")
	require.NoError(t, removeEndpoints(path))
	require.NoError(t, removeEndpoints(path), "removing twice is fine")
	require.NoFileExists(t, path)
}

func TestChildOutput(t *testing.T) {
	var file, console bytes.Buffer
	o := newChildOutput(&file, &console, "fnmgr | ")
	for _, chunk := range []string{"one\ntw", "o\n", "thr", "ee"} {
		n, err := o.Write([]byte(chunk))
		require.NoError(t, err)
		require.Equal(t, len(chunk), n)
	}
	o.flush()
	require.Equal(t, "one\ntwo\nthree", file.String(), "the log file gets the output as is")
	require.Equal(t, "fnmgr | one\nfnmgr | two\nfnmgr | three\n", console.String())
	require.Equal(t, "\none\ntwo\nthree", o.tail())
}

// TestOptionsProfile checks what New takes from the profile, and what it
// leaves to the caller.
func TestOptionsProfile(t *testing.T) {
	o, err := Options{Dir: t.TempDir(), FnmgrBin: "x", Profile: "scheduler", KafkaTopicPrefix: "owp_"}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, "scheduler", o.Profile)
	require.Equal(t, "owp_", o.KafkaUserEventsTopicPrefix, "ansible: the user-event prefix defaults to the topic prefix")
	require.Equal(t, 512, o.Limits.MaxMemoryMB)
	require.True(t, o.Limits.SharedConcurrency)
	require.Equal(t, 2048, o.UserMemoryMB)
	require.Nil(t, o.guestThrottles(), "the guest is not raised under scheduler")

	o, err = Options{Dir: t.TempDir(), FnmgrBin: "x", UserMemoryMB: 4096}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, "default", o.Profile)
	require.Equal(t, 4096, o.UserMemoryMB, "an explicit user memory wins")
	require.Equal(t, 100000, o.guestThrottles().InvocationsPerMinute)

	_, err = Options{Dir: t.TempDir(), FnmgrBin: "x", Profile: "nope"}.withDefaults()
	require.ErrorContains(t, err, `unknown profile "nope"`)
}

func TestFnmgrEnv(t *testing.T) {
	e := Endpoints{Admin: "http://127.0.0.1:1", Gateway: "http://127.0.0.1:2", Kafka: []string{"127.0.0.1:3"}, AdminToken: "tok"}
	env := fnmgrEnv([]string{"PATH=/bin", config.EnvAdminAddr + "=stale", config.EnvAdminTokenFile + "=/x", config.EnvLogLevel + "=debug",
		envFnmgrEventTopicPrefix + "=stale_"},
		e, []string{"http://127.0.0.1:4", "http://127.0.0.1:5"}, "http://127.0.0.1:6",
		topicEnv(Options{KafkaTopicPrefix: "owp_"}))
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		_, dup := m[k]
		require.False(t, dup, "%s set twice", k)
		m[k] = v
	}
	want := map[string]string{
		"PATH":                 "/bin",
		config.EnvLogLevel:     "debug",
		config.EnvAdminAddr:    "127.0.0.1:1",
		config.EnvGatewayAddr:  "127.0.0.1:2",
		config.EnvControllers:  "http://127.0.0.1:4,http://127.0.0.1:5",
		config.EnvCouchURL:     "http://127.0.0.1:6",
		config.EnvOWDBPrefix:   "whisk_local_",
		config.EnvKafkaBrokers: "127.0.0.1:3",
		config.EnvAdminToken:   "tok",
		// The prefix goes to fnmgr; an empty one removes an inherited one.
		envFnmgrTopicPrefix: "owp_",
	}
	require.Equal(t, want, m)
}
