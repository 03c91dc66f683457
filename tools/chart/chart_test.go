// Package chart checks fnmgr's Helm chart (deploy/helm/fnmgr) with the real
// Helm: `helm lint`, then `helm template` under several sets of values,
// every rendered object decoded strictly (an unknown or misspelt field
// fails) into Kubernetes' own API types. It lives in the tools module so
// that the product's module does not depend on Kubernetes' libraries.
package chart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var chartDir = filepath.Join("..", "..", "deploy", "helm", "fnmgr")

// helm runs the helm binary ($FNMGR_HELM, else bin/helm of this checkout,
// built by `make bin/helm`). Without one the test skips, except in CI,
// where it fails.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	bin := os.Getenv("FNMGR_HELM")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "helm")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no helm binary at %s (make bin/helm builds it): %v", bin, err)
		}
		t.Skipf("no helm binary at %s: run make bin/helm", bin)
	}
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "helm %s:\n%s", strings.Join(args, " "), out.String())
	return out.String()
}

// valueSets are the values the chart is rendered with: its defaults and
// every optional part switched on.
var valueSets = map[string]string{
	"defaults": "",
	"everything on": `
fnmgr: {adminToken: "0123456789abcdef0123", extraEnv: [{name: FNMGR_STORAGE, value: bucket}]}
serviceMonitor: {enabled: true, labels: {release: prom}}
openwhisk:
  releaseName: ow
  couchdb: {auth: {existingSecret: ow-db.auth}}
  controller: {urls: ["http://ow-controller-0.ow-controller:8080"]}
  kafka: {brokers: ["ow-kafka-0.ow-kafka:9092"]}
`,
}

// TestLint: helm lint passes, warnings included.
func TestLint(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir}
			if values != "" {
				args = append(args, "--values", valuesFile(t, values))
			}
			out := helm(t, args...)
			require.Contains(t, out, "1 chart(s) linted, 0 chart(s) failed")
		})
	}
}

// TestTemplateDecodesStrictly renders the chart and decodes every object
// into its Kubernetes type, refusing unknown fields.
func TestTemplateDecodesStrictly(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", "owdev", chartDir, "--namespace", "openwhisk"}
			if values != "" {
				args = append(args, "--values", valuesFile(t, values))
			}
			out := helm(t, args...)
			kinds := map[string]int{}
			for _, doc := range strings.Split(out, "\n---") {
				if strings.TrimSpace(stripComments(doc)) == "" {
					continue
				}
				var head metav1.TypeMeta
				require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
				kinds[head.Kind]++
				obj, ok := typed(head)
				require.True(t, ok, "%s %s: no Kubernetes type known to this test; add it to typed", head.APIVersion, head.Kind)
				require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s:\n%s", head.Kind, doc)
				meta := objectMeta(obj)
				require.NotEmpty(t, meta.Name, "%s has a name", head.Kind)
				require.Equal(t, "fnmgr", meta.Labels["app.kubernetes.io/name"], "%s %s is labelled", head.Kind, meta.Name)
			}
			require.Equal(t, 1, kinds["Deployment"], "one Deployment: %v", kinds)
			require.Equal(t, 1, kinds["Service"], "one Service: %v", kinds)
		})
	}
}

// typed returns a value of the Go type of an object of kind head.
func typed(head metav1.TypeMeta) (any, bool) {
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "rbac.authorization.k8s.io/v1 Role":
		return &rbacv1.Role{}, true
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		return &rbacv1.RoleBinding{}, true
	case "monitoring.coreos.com/v1 ServiceMonitor", "monitoring.coreos.com/v1 PrometheusRule":
		// prometheus-operator's resources are not in k8s.io/api: their
		// metadata is checked strictly, their spec is the operator's.
		return &customResource{}, true
	}
	return nil, false
}

// customResource is an object of a CustomResourceDefinition.
type customResource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              map[string]any `json:"spec"`
}

func objectMeta(obj any) metav1.ObjectMeta {
	if o, ok := obj.(interface{ GetObjectMeta() metav1.Object }); ok {
		m := o.GetObjectMeta()
		return metav1.ObjectMeta{Name: m.GetName(), Labels: m.GetLabels()}
	}
	return obj.(*customResource).ObjectMeta
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			fmt.Fprintln(&b, line)
		}
	}
	return b.String()
}

func valuesFile(t *testing.T, values string) string {
	t.Helper()
	// Not t.TempDir: helm splits --values at commas, which test names
	// may carry.
	dir, err := os.MkdirTemp("", "fnmgr-helm-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	f := filepath.Join(dir, "values.yaml")
	require.NoError(t, os.WriteFile(f, []byte(values), 0o600))
	return f
}
