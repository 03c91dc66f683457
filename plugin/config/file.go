package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// configFileArg finds --config FILE (or -config, or =FILE) in args before
// the flags are parsed, since the file's values come under the flags'.
func configFileArg(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return ""
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != FlagConfig {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// loadFile applies a JSON configuration file to r. The file is one object
// whose keys are flag names; a value is a string, a number, a boolean,
// (for the list settings) an array of strings, or (for dcgm-hostengines)
// an object of strings.
//
//	{"controllers": ["http://ow-controller:8080"], "log-level": "debug"}
//
// Unknown keys are an error, so a misspelt setting is not silently
// ignored. Errors never repeat values (the file may hold secrets).
func loadFile(path string, r *raw) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %s: read the configuration file: %w", named(FlagConfig), err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("config: %s: %s is not a JSON object: %v", named(FlagConfig), path, syntaxOnly(err))
	}
	var p problems
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, ok := settingByFlag(k)
		if !ok || k == FlagConfig {
			p.addf("%s: %s: unknown setting %q (the keys are the flag names without dashes, such as %q)", named(FlagConfig), path, k, FlagAdminAddr)
			continue
		}
		v, err := fileValue(k, obj[k])
		if err != nil {
			p.addf("%s: %s: %q %v", named(FlagConfig), path, k, err)
			continue
		}
		*s.field(r) = v
	}
	if err := p.err(); err != nil {
		return err
	}
	r.configFile = path
	return nil
}

// syntaxOnly keeps a JSON error's position but not the text around it.
func syntaxOnly(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if _, ok := err.(*json.UnmarshalTypeError); ok {
		return "the top level must be an object"
	}
	return "invalid JSON"
}

func fileValue(key string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("must be a list of strings")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		if key != FlagDCGMHostengines {
			break
		}
		// A map setting ({"invoker0": "10.0.0.5:5555"}): key=value pairs.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(x))
		for _, k := range keys {
			s, ok := x[k].(string)
			if !ok {
				return "", fmt.Errorf("must map names to strings")
			}
			parts = append(parts, k+"="+s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("must be a string, a number, a boolean or a list of strings")
}

func settingByFlag(name string) (setting, bool) {
	for _, s := range settings {
		if s.flag == name {
			return s, true
		}
	}
	return setting{}, false
}

// Setting describes one setting for documentation: docs/configuration.md
// is checked against Settings by a test.
type Setting struct {
	Flag    string // flag name, also the key in the --config file
	Env     string // environment variable
	Default string // built-in default ("" when none)
	Usage   string
	Secret  bool // its value is never printed
	// Reloadable settings are applied again when `fnmgr serve` gets SIGHUP;
	// the others need a restart.
	Reloadable bool
}

// Settings lists every setting, in the order --help shows them.
func Settings() []Setting {
	d := defaultRaw()
	out := make([]Setting, 0, len(settings))
	for _, s := range settings {
		out = append(out, Setting{Flag: s.flag, Env: s.env, Default: *s.field(&d), Usage: s.usage, Secret: s.secret, Reloadable: reloadable[s.flag]})
	}
	return out
}
