package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sourceFacts reads the repository's non-test Go sources and returns the
// metric names they define (Namespace_Subsystem_Name of every
// prometheus.*Opts literal, string constants resolved within the package)
// and their text, to look for log messages in.
func sourceFacts(t *testing.T) (metrics map[string]bool, literals string) {
	t.Helper()
	metrics = map[string]bool{}
	var lits strings.Builder
	pkgs := map[string][]*ast.File{} // by directory
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lits.Write(b)
		f, err := parser.ParseFile(fset, p, b, 0)
		if err != nil {
			return err
		}
		pkgs[filepath.Dir(p)] = append(pkgs[filepath.Dir(p)], f)
		return nil
	})
	require.NoError(t, err)
	for _, files := range pkgs {
		consts := map[string]string{}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == len(vs.Values) {
					for i, name := range vs.Names {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
				return true
			})
		}
		str := func(e ast.Expr) string {
			switch e := e.(type) {
			case *ast.BasicLit:
				s, _ := strconv.Unquote(e.Value)
				return s
			case *ast.Ident:
				return consts[e.Name]
			}
			return ""
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				cl, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				sel, ok := cl.Type.(*ast.SelectorExpr)
				if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
					return true
				}
				fields := map[string]string{}
				for _, el := range cl.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok {
							fields[k.Name] = str(kv.Value)
						}
					}
				}
				var parts []string
				for _, k := range []string{"Namespace", "Subsystem", "Name"} {
					if fields[k] != "" {
						parts = append(parts, fields[k])
					}
				}
				if fields["Name"] != "" {
					metrics[strings.Join(parts, "_")] = true
				}
				return true
			})
		}
	}
	return metrics, lits.String()
}

// TestFailuresHaveMetricsAndLogs: every failure operations.md names has a
// metric fnmgr defines and a log message fnmgr writes.
func TestFailuresHaveMetricsAndLogs(t *testing.T) {
	raw, err := os.ReadFile("operations.md")
	require.NoError(t, err)
	doc := string(raw)
	start := strings.Index(doc, "## When something fails")
	require.GreaterOrEqual(t, start, 0)
	metrics, src := sourceFacts(t)
	for _, known := range []string{"fnmgr_build_info", "fnmgr_feed_lag_seconds", "fnmgr_gateway_upstream_errors_total", "fnmgr_http_requests_total"} {
		require.True(t, metrics[known], "the source scan misses %s", known)
	}
	section := doc[start:]
	// The section ends at the next "## " heading (the local stack's
	// profile tables follow it).
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	tick := regexp.MustCompile("`([^`]+)`")
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| failure") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		require.Len(t, cells, 4, "row %q: failure | what happens | metric | log line", line)
		rows++
		failure := strings.TrimSpace(cells[0])
		t.Run(failure, func(t *testing.T) {
			ms, logs := tick.FindAllStringSubmatch(cells[2], -1), tick.FindAllStringSubmatch(cells[3], -1)
			require.NotEmpty(t, ms, "a metric")
			require.NotEmpty(t, logs, "a log line")
			for _, m := range ms {
				require.True(t, metrics[m[1]], "metric %s is defined nowhere in the code", m[1])
			}
			for _, l := range logs {
				require.Contains(t, src, `"`+l[1]+`"`, "no log call writes %q", l[1])
			}
		})
	}
	require.GreaterOrEqual(t, rows, 5, "the failure table was not found")
	for _, m := range tick.FindAllStringSubmatch(doc[start:], -1) {
		if name, _, _ := strings.Cut(m[1], "{"); strings.HasPrefix(name, "fnmgr_") {
			require.True(t, metrics[name], "operations.md names metric %s, which the code does not define", name)
		}
	}
}
