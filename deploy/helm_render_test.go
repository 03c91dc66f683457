package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// The chart is rendered as `helm template` does, with the template
// functions below (the subset of Helm's and sprig's that the chart uses,
// with their semantics). A function the chart starts using without adding
// it here fails the render, so the chart stays renderable by this test.

const chartDir = "helm/fnmgr"

func chartFuncs(root **template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b bytes.Buffer
			err := (*root).ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"default": func(def any, given ...any) any {
			if len(given) == 0 || empty(given[0]) {
				return def
			}
			return given[0]
		},
		"quote":      func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
		"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"sha256sum":  func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
		"trunc":      func(n int, s string) string { return s[:min(n, len(s))] },
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"indent":     indent,
		"nindent":    func(n int, s string) string { return "\n" + indent(n, s) },
		"join": func(sep string, v any) string {
			var parts []string
			for _, e := range v.([]any) {
				parts = append(parts, fmt.Sprint(e))
			}
			return strings.Join(parts, sep)
		},
		"toYaml": func(v any) (string, error) {
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2) // as Helm writes it
			err := enc.Encode(v)
			return strings.TrimSuffix(b.String(), "\n"), err
		},
		"int": func(v any) (int, error) {
			switch n := v.(type) {
			case int:
				return n, nil
			case float64:
				return int(n), nil
			}
			return strconv.Atoi(fmt.Sprint(v))
		},
		"toJson": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}
}

// chartFiles is Helm's .Files: Get returns a file of the chart as text
// ("" when it does not exist, as Helm does).
type chartFiles string

func (d chartFiles) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(string(d), name))
	if err != nil {
		return ""
	}
	return string(b)
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// empty is sprig's notion of an empty value.
func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return r.Int() == 0
	case reflect.Float64:
		return r.Float() == 0
	}
	return false
}

// merge lays over onto base (maps merge, other values replace).
func merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, ok1 := out[k].(map[string]any)
		om, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = merge(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// manifest is one rendered Kubernetes object.
type manifest map[string]any

func (m manifest) kind() string { return fmt.Sprint(m["kind"]) }

func (m manifest) name() string {
	meta, _ := m["metadata"].(map[string]any)
	return fmt.Sprint(meta["name"])
}

// render renders the chart as release "owdev" in namespace "openwhisk"
// with values overrides, and returns its objects and its text.
func render(t *testing.T, overrides map[string]any) ([]manifest, string) {
	t.Helper()
	chart := readYAML(t, filepath.Join(chartDir, "Chart.yaml"))
	values := merge(readYAML(t, filepath.Join(chartDir, "values.yaml")), overrides)
	data := map[string]any{
		"Values":  values,
		"Release": map[string]any{"Name": "owdev", "Namespace": "openwhisk", "Service": "Helm", "IsInstall": true},
		"Chart":   map[string]any{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
		"Files":   chartFiles(chartDir),
	}
	var root *template.Template
	root = template.New("chart").Option("missingkey=error").Funcs(chartFuncs(&root))
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.New(filepath.Base(f)).Parse(string(b)); err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
	}
	var all strings.Builder
	var out []manifest
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "_") || !strings.HasSuffix(base, ".yaml") {
			continue
		}
		var b bytes.Buffer
		if err := root.ExecuteTemplate(&b, base, data); err != nil {
			t.Fatalf("render %s: %v", base, err)
		}
		fmt.Fprintf(&all, "---\n# Source: fnmgr/templates/%s\n%s\n", base, b.String())
		dec := yaml.NewDecoder(bytes.NewReader(b.Bytes()))
		for {
			var m map[string]any // not manifest: yaml.v3 would give nested maps that type too
			err := dec.Decode(&m)
			if err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s is not valid YAML: %v\n%s", base, err, b.String())
			}
			if len(m) > 0 {
				out = append(out, manifest(m))
			}
		}
	}
	return out, all.String()
}
