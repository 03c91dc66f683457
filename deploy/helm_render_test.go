package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The chart is rendered by the real Helm (`helm template`), built from the
// tools module (tools/go.mod) into bin/helm by `make bin/helm` (make test
// does it first). tools/chart lints the chart and decodes what it renders
// strictly into Kubernetes' own types; these tests read the rendered
// values.

const chartDir = "helm/fnmgr"

// helmBin is the helm binary: $FNMGR_HELM, else bin/helm of this checkout.
// Without one the chart tests skip, except in CI, where they fail.
func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FNMGR_HELM")
	if bin == "" {
		bin = filepath.Join("..", "bin", "helm")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no helm binary at %s (make bin/helm builds it): %v", bin, err)
		}
		t.Skipf("no helm binary at %s: run make bin/helm", bin)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// manifest is one rendered Kubernetes object.
type manifest map[string]any

func (m manifest) kind() string { return fmt.Sprint(m["kind"]) }

func (m manifest) name() string {
	meta, _ := m["metadata"].(map[string]any)
	return fmt.Sprint(meta["name"])
}

// render renders the chart as release "owdev" in namespace "openwhisk"
// with values overrides (merged over values.yaml as helm's -f does), and
// returns its objects and its text.
func render(t *testing.T, overrides map[string]any) ([]manifest, string) {
	t.Helper()
	args := []string{"template", "owdev", chartDir, "--namespace", "openwhisk"}
	if overrides != nil {
		b, err := yaml.Marshal(overrides)
		if err != nil {
			t.Fatal(err)
		}
		// Not t.TempDir: helm splits --values at commas, which subtest
		// names carry.
		dir, err := os.MkdirTemp("", "fnmgr-helm-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		f := filepath.Join(dir, "values.yaml")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", f)
	}
	cmd := exec.CommandContext(t.Context(), helmBin(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var ms []manifest
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var m map[string]any // not manifest: yaml.v3 would give nested maps that type too
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template gave invalid YAML: %v\n%s", err, out)
		}
		if len(m) > 0 {
			ms = append(ms, manifest(m))
		}
	}
	return ms, string(out)
}
