package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// globals are the flags every command takes.
type globals struct {
	admin, auth, adminToken, namespace string
	json                               bool
	timeout                            time.Duration
	set                                map[string]bool // globals given on the command line
}

// globalNames are the names of the global flags (shorthands included).
var globalNames = map[string]bool{"admin": true, "auth": true, "u": true, "admin-token": true,
	"namespace": true, "json": true, "request-timeout": true}

// shorthands maps a one-letter flag to the flag it stands for.
var shorthands = map[string]string{"u": "auth", "p": "param", "a": "annotation"}

func addGlobals(fs *flag.FlagSet) *globals {
	g := &globals{}
	fs.StringVar(&g.admin, "admin", "", "the admin API's `URL` (env FNMGR_ADMIN, wskprops FNMGR_ADMIN; default http://127.0.0.1:3235)")
	fs.StringVar(&g.auth, "auth", "", "OpenWhisk `KEY` uuid:key to authenticate with (env FNMGR_AUTH; default AUTH of the wskprops file)")
	fs.StringVar(&g.auth, "u", "", "shorthand for --auth")
	fs.StringVar(&g.adminToken, "admin-token", "", "the admin `TOKEN`, which reaches every namespace (env FNMGR_ADMIN_TOKEN)")
	fs.StringVar(&g.namespace, "namespace", "", "the `NAMESPACE` (env FNMGR_NAMESPACE; default NAMESPACE of the wskprops file, else your own)")
	fs.BoolVar(&g.json, "json", false, "print the API's JSON instead of a table")
	fs.DurationVar(&g.timeout, "request-timeout", 30*time.Second, "how long one request to the admin API may take, as a Go `DURATION`")
	return g
}

// parseInterspersed parses flags placed anywhere among the positional
// arguments, as wsk does, and returns the positional ones. A flag whose
// value is a *pairList takes two arguments (--param KEY VALUE).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	args = joinPairs(fs, args)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// joinPairs turns "--param KEY VALUE" into "--param KEY\x00VALUE".
func joinPairs(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if _, ok := f.Value.(*pairList); ok && i+2 < len(args) {
			out = append(out, args[i+1]+"\x00"+args[i+2])
			i += 2
		} else if ok && i+1 < len(args) {
			// Only a key: Set reports it.
			out = append(out, args[i+1])
			i++
		}
	}
	return out
}

// pairList collects KEY VALUE pairs: VALUE is JSON when it parses as JSON,
// else a string, as wsk reads --param.
type pairList struct{ kv entity.KeyValues }

func (p *pairList) String() string { return "" }

func (p *pairList) Set(s string) error {
	k, v, ok := strings.Cut(s, "\x00")
	if !ok || k == "" {
		return fmt.Errorf("takes two arguments, KEY VALUE")
	}
	p.kv = append(p.kv, entity.KeyValue{Key: k, Value: jsonValue(v)})
	return nil
}

// jsonValue is v as JSON when it is valid JSON, else v as a JSON string.
func jsonValue(v string) json.RawMessage {
	if json.Valid([]byte(v)) {
		return json.RawMessage(strings.TrimSpace(v))
	}
	b, _ := json.Marshal(v)
	return b
}

// intFlag is an optional integer: Set tells whether it was given.
type intFlag struct {
	v   int
	set bool
}

func (f *intFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.Itoa(f.v)
}

func (f *intFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	f.v, f.set = n, true
	return nil
}

func (f *intFlag) ptr() *int {
	if !f.set {
		return nil
	}
	v := f.v
	return &v
}

// stringsFlag collects a repeatable string flag.
type stringsFlag []string

func (f *stringsFlag) String() string { return strings.Join(*f, ",") }

func (f *stringsFlag) Set(s string) error { *f = append(*f, s); return nil }

// printFlags writes fs's flags, own or global ones, aligned.
func printFlags(w io.Writer, fs *flag.FlagSet, global bool) {
	type line struct{ name, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		if globalNames[f.Name] != global || len(f.Name) == 1 {
			return
		}
		placeholder, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		for short, long := range shorthands {
			if long == f.Name && fs.Lookup(short) != nil {
				name = "-" + short + ", " + name
			}
		}
		if _, ok := f.Value.(*pairList); ok {
			placeholder = "KEY VALUE"
		}
		if _, ok := f.Value.(*intFlag); ok && placeholder == "value" {
			placeholder = "N"
		}
		if placeholder != "" {
			name += " " + placeholder
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, line{name, usage})
		width = max(width, len(name))
	})
	sort.Slice(lines, func(i, j int) bool {
		return strings.TrimLeft(lines[i].name[strings.LastIndex(lines[i].name, "--"):], "-") <
			strings.TrimLeft(lines[j].name[strings.LastIndex(lines[j].name, "--"):], "-")
	})
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s   %s\n", width, l.name, l.usage)
	}
}
