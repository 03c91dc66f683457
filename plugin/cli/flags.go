package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// globals are the flags every command takes.
type globals struct {
	admin, auth, adminToken, namespace string
	json                               bool
	timeout                            time.Duration
}

// globalAnnotation marks a flag of addGlobals, so that help lists it under
// "Global flags".
const globalAnnotation = "fnmgr_global"

// addGlobals declares the global flags on a command's flag set.
func addGlobals(fs *pflag.FlagSet) *globals {
	g := &globals{}
	fs.StringVar(&g.admin, "admin", "", "the admin API's `URL` (env FNMGR_ADMIN, wskprops FNMGR_ADMIN; default http://127.0.0.1:3235)")
	fs.StringVarP(&g.auth, "auth", "u", "", "OpenWhisk `KEY` uuid:key to authenticate with (env FNMGR_AUTH; default AUTH of the wskprops file)")
	fs.StringVar(&g.adminToken, "admin-token", "", "the admin `TOKEN`, which reaches every namespace (env FNMGR_ADMIN_TOKEN)")
	fs.StringVar(&g.namespace, "namespace", "", "the `NAMESPACE` (env FNMGR_NAMESPACE; default NAMESPACE of the wskprops file, else your own)")
	fs.BoolVar(&g.json, "json", false, "print the API's JSON instead of a table")
	fs.DurationVar(&g.timeout, "request-timeout", 30*time.Second, "how long one request to the admin API may take, as a Go `DURATION`")
	for _, n := range []string{"admin", "auth", "admin-token", "namespace", "json", "request-timeout"} {
		_ = fs.SetAnnotation(n, globalAnnotation, nil)
	}
	return g
}

func isGlobal(f *pflag.Flag) bool {
	_, ok := f.Annotations[globalAnnotation]
	return ok
}

// valuesAnnotation holds the values a flag's completion offers (see
// completeValues).
const valuesAnnotation = "fnmgr_values"

// completeValues makes shell completion offer vals for flag name's value;
// build registers them with cobra's RegisterFlagCompletionFunc.
func completeValues(fs *pflag.FlagSet, name string, vals ...string) {
	_ = fs.SetAnnotation(name, valuesAnnotation, vals)
}

// joinPairs turns "--param KEY VALUE" into "--param KEY\x00VALUE" for the
// flags of fs whose value is a *pairList, which pflag then parses as a flag
// of one argument. wsk itself takes -p/--param and -a/--annotation with
// their two arguments out of the command line before cobra parses it
// (openwhisk-cli commands/commands.go parseArgs and getKeyValueArgs); here
// pflag still parses them, so that their errors, help and completion are
// pflag's. The values of the other flags are passed over (--reason -p is a
// reason), and nothing after "--" is touched.
func joinPairs(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		var f *pflag.Flag
		switch {
		case strings.Contains(a, "="):
		case strings.HasPrefix(a, "--"):
			f = fs.Lookup(a[2:])
		case len(a) == 2 && a[0] == '-':
			f = fs.ShorthandLookup(a[1:])
		}
		if f == nil {
			continue
		}
		_, pair := f.Value.(*pairList)
		switch {
		case pair && i+2 < len(args):
			out = append(out, args[i+1]+"\x00"+args[i+2])
			i += 2
		case i+1 < len(args) && f.NoOptDefVal == "":
			// The flag's value, or a pair's lone KEY (Set reports it).
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

func (p *pairList) Type() string { return "pairs" }

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

func (f *intFlag) Type() string { return "N" }

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

// stringsFlag collects a repeatable string flag. Its type ends in "Array"
// so that completion offers it again once given (cobra's rule).
type stringsFlag []string

func (f *stringsFlag) String() string { return strings.Join(*f, ",") }

func (f *stringsFlag) Type() string { return "stringArray" }

func (f *stringsFlag) Set(s string) error { *f = append(*f, s); return nil }

// placeholderAnnotation holds the word help shows for a flag's value.
const placeholderAnnotation = "fnmgr_placeholder"

// unquoteUsages moves the placeholder of each flag of fs out of its usage
// (the usage's `WORD`, else the value's type: pflag's UnquoteUsage) into
// an annotation, so that completion, which shows usages as they are,
// reads "the `NAMESPACE`" as "the NAMESPACE", and help still says
// --namespace NAMESPACE.
func unquoteUsages(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if _, done := f.Annotations[placeholderAnnotation]; done {
			return
		}
		placeholder, usage := pflag.UnquoteUsage(f)
		if _, ok := f.Value.(*pairList); ok {
			placeholder = "KEY VALUE"
		}
		f.Usage = usage
		_ = fs.SetAnnotation(f.Name, placeholderAnnotation, []string{placeholder})
	})
}

// printFlags writes fs's flags, own or global ones, aligned: "-p, --param
// KEY VALUE   usage", with the default when it is not the zero value.
func printFlags(w io.Writer, fs *pflag.FlagSet, global bool) {
	type line struct{ long, name, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || isGlobal(f) != global {
			return
		}
		name, usage := "--"+f.Name, f.Usage
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		}
		if p := f.Annotations[placeholderAnnotation]; len(p) == 1 && p[0] != "" {
			name += " " + p[0]
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, line{f.Name, name, usage})
		width = max(width, len(name))
	})
	sort.Slice(lines, func(i, j int) bool { return lines[i].long < lines[j].long })
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s   %s\n", width, l.name, l.usage)
	}
}
