package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fnmgr/fnmgr/plugin/client"
)

// The optimizer owns its report's shape; the CLI shows any report. Its
// fields (nested objects flattened to "a.b" keys, two levels deep) are
// printed as "key: value" lines, and its list of measured settings (the
// first list of objects found, a list named "points" first) as a table
// whose columns are the entries' fields in the order the optimizer wrote
// them. --json prints the report as it came.

// member is one field of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers decodes a JSON object keeping its fields' order.
func objectMembers(raw json.RawMessage) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, member{key, v})
	}
	return out, true
}

// objects decodes a JSON array whose first element is an object.
func objects(v json.RawMessage) ([]json.RawMessage, bool) {
	var arr []json.RawMessage
	if json.Unmarshal(v, &arr) != nil || len(arr) == 0 {
		return nil, false
	}
	_, ok := objectMembers(arr[0])
	return arr, ok
}

// scalar formats a JSON string, number, boolean or null; ok is false for
// objects and arrays.
func scalar(v json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "", true
	}
	switch t[0] {
	case '{', '[':
		return "", false
	case '"':
		var s string
		_ = json.Unmarshal(t, &s)
		return s, true
	case 'n':
		return "-", true
	}
	return string(t), true
}

// flatten lists obj's fields as key/value pairs: nested objects as "a.b"
// down to depth levels, lists of scalars inline, lists of objects as a
// count. skip names a list left out (the one shown as the table).
func flatten(obj json.RawMessage, prefix string, depth int, skip string) [][2]string {
	ms, _ := objectMembers(obj)
	var out [][2]string
	for _, m := range ms {
		key := prefix + m.key
		if key == skip {
			continue
		}
		if s, ok := scalar(m.value); ok {
			out = append(out, [2]string{key, s})
			continue
		}
		if _, isObj := objectMembers(m.value); isObj {
			if depth > 1 {
				out = append(out, flatten(m.value, key+".", depth-1, skip)...)
			} else {
				out = append(out, [2]string{key, compact(m.value)})
			}
			continue
		}
		if arr, ok := objects(m.value); ok {
			out = append(out, [2]string{key, fmt.Sprintf("%d items (see --json)", len(arr))})
			continue
		}
		out = append(out, [2]string{key, compact(m.value)})
	}
	return out
}

// findTable returns the path and entries of the report's table: a list
// named "points" if there is one within two levels, else the first list of
// objects.
func findTable(report json.RawMessage) (string, []json.RawMessage) {
	var first string
	var firstRows []json.RawMessage
	var walk func(obj json.RawMessage, prefix string, depth int) (string, []json.RawMessage)
	walk = func(obj json.RawMessage, prefix string, depth int) (string, []json.RawMessage) {
		ms, _ := objectMembers(obj)
		for _, m := range ms {
			if rows, ok := objects(m.value); ok {
				if m.key == "points" {
					return prefix + m.key, rows
				}
				if first == "" {
					first, firstRows = prefix+m.key, rows
				}
			}
		}
		if depth > 1 {
			for _, m := range ms {
				if _, isObj := objectMembers(m.value); isObj {
					if p, rows := walk(m.value, prefix+m.key+".", depth-1); p != "" {
						return p, rows
					}
				}
			}
		}
		return "", nil
	}
	if p, rows := walk(report, "", 2); p != "" {
		return p, rows
	}
	return first, firstRows
}

// optimizationResult prints the run's outcome and report.
func optimizationResult(w io.Writer, name string, o client.Optimization) error {
	fmt.Fprintf(w, "optimization %s of %s: %s (%d/%d invocations)\n", o.ID, name, o.Status, o.Progress.Done, o.Progress.Total)
	if o.Error != "" {
		fmt.Fprintf(w, "error: %s\n", o.Error)
	}
	if _, ok := objectMembers(o.Report); !ok {
		return nil
	}
	tablePath, rows := findTable(o.Report)
	if kv := flatten(o.Report, "", 2, tablePath); len(kv) > 0 {
		if err := fields(w, kv); err != nil {
			return err
		}
	}
	if tablePath == "" {
		return nil
	}
	fmt.Fprintf(w, "\n%s\n", tablePath)
	var cols []string
	seen := map[string]bool{}
	cells := make([]map[string]string, 0, len(rows))
	for _, r := range rows {
		row := map[string]string{}
		for _, kv := range flatten(r, "", 2, "") {
			row[kv[0]] = kv[1]
			if !seen[kv[0]] {
				seen[kv[0]] = true
				cols = append(cols, kv[0])
			}
		}
		cells = append(cells, row)
	}
	out := make([][]string, 0, len(cells))
	for _, row := range cells {
		line := make([]string, len(cols))
		for i, c := range cols {
			line[i] = dash(row[c])
		}
		out = append(out, line)
	}
	return table(w, cols, out)
}

func compact(v json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return strings.TrimSpace(string(v))
	}
	return b.String()
}
