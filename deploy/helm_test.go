package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// dns1123 is a Kubernetes object name.
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func find(t *testing.T, ms []manifest, kind string) manifest {
	t.Helper()
	for _, m := range ms {
		if m.kind() == kind {
			return m
		}
	}
	t.Fatalf("no %s rendered", kind)
	return nil
}

// path walks a manifest: path(m, "spec", "template", "spec", "containers", 0).
func path(t *testing.T, v any, keys ...any) any {
	t.Helper()
	if m, ok := v.(manifest); ok {
		v = map[string]any(m)
	}
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "at %q: not an object", k)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok && len(l) > k, "at %d: not a list", k)
			v = l[k]
		}
	}
	return v
}

func envOf(t *testing.T, d manifest) map[string]any {
	out := map[string]any{}
	for _, e := range path(t, d, "spec", "template", "spec", "containers", 0, "env").([]any) {
		m := e.(map[string]any)
		if v, ok := m["value"]; ok {
			out[m["name"].(string)] = v
		} else {
			out[m["name"].(string)] = m["valueFrom"]
		}
	}
	return out
}

// TestHelmTemplate renders the chart with its defaults and checks it is
// valid Kubernetes YAML pointing at the openwhisk-deploy-kube services of
// release owdev.
func TestHelmTemplate(t *testing.T) {
	ms, text := render(t, nil)
	kinds := map[string]int{}
	for _, m := range ms {
		kinds[m.kind()]++
		require.NotEmpty(t, m["apiVersion"], "%s has an apiVersion", m.kind())
		require.True(t, dns1123.MatchString(m.name()), "%s name %q", m.kind(), m.name())
		labels := path(t, m, "metadata", "labels").(map[string]any)
		require.Equal(t, "fnmgr", labels["app.kubernetes.io/name"])
	}
	require.Equal(t, map[string]int{"Deployment": 1, "Service": 1, "ServiceAccount": 1, "Secret": 1, "PodDisruptionBudget": 1, "ConfigMap": 1}, kinds,
		"no ServiceMonitor or PrometheusRule by default, no admin token secret without a token")

	d := find(t, ms, "Deployment")
	require.Equal(t, "owdev-fnmgr", d.name())
	env := envOf(t, d)
	require.Equal(t, "http://owdev-controller:8080", env["FNMGR_CONTROLLERS"])
	require.Equal(t, "owdev-kafka:9092", env["FNMGR_KAFKA_BROKERS"])
	require.Equal(t, "http://$(COUCHDB_USER):$(COUCHDB_PASSWORD)@owdev-couchdb:5984", env["FNMGR_COUCHDB_URL"])
	require.Equal(t, "test_", env["FNMGR_OW_DB_PREFIX"])
	require.Equal(t, "0.0.0.0:3235", env["FNMGR_ADMIN_ADDR"])
	require.NotContains(t, env, "FNMGR_ADMIN_TOKEN")
	require.Equal(t, "owdev-fnmgr-couchdb", path(t, env["COUCHDB_PASSWORD"], "secretKeyRef", "name"))
	require.NotContains(t, text, "some_passw0rd", "the password is only in the secret, base64")

	c := path(t, d, "spec", "template", "spec", "containers", 0)
	require.Equal(t, "/healthz", path(t, c, "livenessProbe", "httpGet", "path"))
	require.Equal(t, "/readyz", path(t, c, "readinessProbe", "httpGet", "path"))
	require.Equal(t, "admin", path(t, c, "readinessProbe", "httpGet", "port"))
	require.Equal(t, 3234, path(t, c, "ports", 0, "containerPort"))
	require.Equal(t, 3235, path(t, c, "ports", 1, "containerPort"))
	require.Equal(t, false, path(t, c, "securityContext", "allowPrivilegeEscalation"))
	require.Equal(t, true, path(t, d, "spec", "template", "spec", "securityContext", "runAsNonRoot"))
	require.Equal(t, "fnmgr:0.1.0", path(t, c, "image"))
	require.Equal(t, "owdev-fnmgr", path(t, d, "spec", "template", "spec", "serviceAccountName"))

	s := find(t, ms, "Secret")
	require.Equal(t, "d2hpc2tfYWRtaW4=", path(t, s, "data", "db_username"), "whisk_admin")
	require.Equal(t, "c29tZV9wYXNzdzByZA==", path(t, s, "data", "db_password"), "some_passw0rd")

	svc := find(t, ms, "Service")
	require.Equal(t, "gateway", path(t, svc, "spec", "ports", 0, "name"))
	require.Equal(t, path(t, d, "spec", "selector", "matchLabels"), path(t, svc, "spec", "selector"))
}

// TestHelmReplicas: three replicas by default, upgraded one pod at a
// time without ever having fewer ready (maxUnavailable 0, readiness on
// /readyz), spread over nodes, kept by a PodDisruptionBudget during
// drains, each with its pod name as replica id and its own address as
// the admin URL the others forward writes to.
func TestHelmReplicas(t *testing.T) {
	ms, _ := render(t, nil)
	d := find(t, ms, "Deployment")
	require.Equal(t, 3, path(t, d, "spec", "replicas"))
	require.Equal(t, "RollingUpdate", path(t, d, "spec", "strategy", "type"))
	require.Equal(t, 0, path(t, d, "spec", "strategy", "rollingUpdate", "maxUnavailable"))
	require.Equal(t, 1, path(t, d, "spec", "strategy", "rollingUpdate", "maxSurge"))
	term := path(t, d, "spec", "template", "spec", "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "podAffinityTerm")
	require.Equal(t, "kubernetes.io/hostname", path(t, term, "topologyKey"))
	require.Equal(t, path(t, d, "spec", "selector", "matchLabels"), path(t, term, "labelSelector", "matchLabels"))
	env := envOf(t, d)
	require.Equal(t, "$(POD_NAME)", env["FNMGR_REPLICA_ID"])
	require.Equal(t, "http://$(POD_IP):3235", env["FNMGR_ADVERTISE_ADMIN_URL"])
	require.Equal(t, "metadata.name", path(t, env["POD_NAME"], "fieldRef", "fieldPath"))
	require.Equal(t, "5s", env["FNMGR_LEASE_TTL"])

	pdb := find(t, ms, "PodDisruptionBudget")
	require.Equal(t, "policy/v1", pdb["apiVersion"])
	require.Equal(t, 2, path(t, pdb, "spec", "minAvailable"))
	require.Equal(t, path(t, d, "spec", "selector", "matchLabels"), path(t, pdb, "spec", "selector", "matchLabels"))

	cm := find(t, ms, "ConfigMap")
	require.Equal(t, "1", path(t, cm, "metadata", "labels", "grafana_dashboard"), "Grafana's sidecar picks it by this label")
	dash, err := os.ReadFile("helm/fnmgr/files/fnmgr-dashboard.json")
	require.NoError(t, err)
	require.JSONEq(t, string(dash), path(t, cm, "data", "fnmgr-dashboard.json").(string))

	one, _ := render(t, map[string]any{"replicaCount": 1})
	for _, m := range one {
		require.NotEqual(t, "PodDisruptionBudget", m.kind(), "no PodDisruptionBudget for one replica (it would block every drain)")
	}

	pr, _ := render(t, map[string]any{"prometheusRule": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}})
	rule := find(t, pr, "PrometheusRule")
	require.Equal(t, "monitoring.coreos.com/v1", rule["apiVersion"])
	require.Equal(t, "prom", path(t, rule, "metadata", "labels", "release"))
	var file map[string]any
	raw, err := os.ReadFile("helm/fnmgr/files/fnmgr-rules.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, &file))
	require.Equal(t, file["groups"], path(t, rule, "spec", "groups"), "the PrometheusRule carries files/fnmgr-rules.yaml")
}

// TestHelmValues renders the chart with other values.
func TestHelmValues(t *testing.T) {
	tests := []struct {
		name   string
		values string
		check  func(t *testing.T, ms []manifest, text string)
	}{
		{"OpenWhisk under another release, its own db secret", `
openwhisk:
  releaseName: ow
  couchdb: {auth: {existingSecret: ow-db.auth}}`, func(t *testing.T, ms []manifest, text string) {
			env := envOf(t, find(t, ms, "Deployment"))
			require.Equal(t, "http://ow-controller:8080", env["FNMGR_CONTROLLERS"])
			require.Equal(t, "ow-kafka:9092", env["FNMGR_KAFKA_BROKERS"])
			require.Contains(t, env["FNMGR_COUCHDB_URL"], "@ow-couchdb:5984")
			require.Equal(t, "ow-db.auth", path(t, env["COUCHDB_USER"], "secretKeyRef", "name"))
			for _, m := range ms {
				require.NotEqual(t, "Secret", m.kind(), "no secret of ours")
			}
		}},
		{"admin token and ServiceMonitor", `
fnmgr: {adminToken: "0123456789abcdef0123"}
serviceMonitor: {enabled: true, labels: {release: prom}}`, func(t *testing.T, ms []manifest, text string) {
			sm := find(t, ms, "ServiceMonitor")
			require.Equal(t, "monitoring.coreos.com/v1", sm["apiVersion"])
			require.Equal(t, "/metrics", path(t, sm, "spec", "endpoints", 0, "path"))
			require.Equal(t, "admin", path(t, sm, "spec", "endpoints", 0, "port"))
			require.Equal(t, "prom", path(t, sm, "metadata", "labels", "release"))
			env := envOf(t, find(t, ms, "Deployment"))
			require.Equal(t, "owdev-fnmgr-admin-token", path(t, env["FNMGR_ADMIN_TOKEN"], "secretKeyRef", "name"))
			require.NotContains(t, text, "0123456789abcdef0123")
		}},
		{"several controllers and brokers, extra env", `
openwhisk:
  controller: {urls: ["http://owdev-controller-0.owdev-controller:8080", "http://owdev-controller-1.owdev-controller:8080"]}
  kafka: {brokers: ["owdev-kafka-0.owdev-kafka:9092"]}
fnmgr: {extraEnv: [{name: FNMGR_STORAGE, value: bucket}]}`, func(t *testing.T, ms []manifest, text string) {
			env := envOf(t, find(t, ms, "Deployment"))
			require.Equal(t, "http://owdev-controller-0.owdev-controller:8080,http://owdev-controller-1.owdev-controller:8080", env["FNMGR_CONTROLLERS"])
			require.Equal(t, "owdev-kafka-0.owdev-kafka:9092", env["FNMGR_KAFKA_BROKERS"])
			require.Equal(t, "bucket", env["FNMGR_STORAGE"])
		}},
		{"GPU nodes and the optimizer's bounds", `
fnmgr: {dcgmHostengines: {invoker1: "10.0.0.6:5555", invoker0: "10.0.0.5:5555"}, optimizeThrottleShare: 0.25}`, func(t *testing.T, ms []manifest, text string) {
			env := envOf(t, find(t, ms, "Deployment"))
			require.Equal(t, "invoker0=10.0.0.5:5555,invoker1=10.0.0.6:5555", env["FNMGR_DCGM_HOSTENGINES"])
			require.Equal(t, "0.25", env["FNMGR_OPTIMIZE_THROTTLE_SHARE"])
			require.Equal(t, "30s", env["FNMGR_OPTIMIZE_PROBE_MARGIN"])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var over map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(tc.values), &over))
			ms, text := render(t, over)
			tc.check(t, ms, text)
		})
	}
}

// TestHelmSettingsExist: every FNMGR_* variable the chart sets is a
// setting fnmgr knows.
func TestHelmSettingsExist(t *testing.T) {
	ms, _ := render(t, map[string]any{"fnmgr": map[string]any{"adminToken": "0123456789abcdef0123"}})
	known := knownEnv()
	for name := range envOf(t, find(t, ms, "Deployment")) {
		if strings.HasPrefix(name, "FNMGR_") {
			require.True(t, known[name], "%s is not a setting of fnmgr", name)
		}
	}
}
