package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/client"
)

// kindsByExt maps a code file's extension to its runtime kind, as wsk
// action update does.
var kindsByExt = map[string]string{
	".js": "nodejs:default", ".py": "python:default", ".swift": "swift:default", ".jar": "java:default",
	".go": "go:default", ".php": "php:default", ".rb": "ruby:default", ".rs": "rust:default",
	".ps1": "powershell:default", ".bal": "ballerina:default", ".cs": "dotnet:default",
}

// knownKinds are the kinds of kindsByExt, sorted, for completion.
func knownKinds() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range kindsByExt {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// binaryExts are read as bytes and sent base64-encoded.
var binaryExts = map[string]bool{".zip": true, ".jar": true, ".bal": true}

func updateCommand() *Command {
	return &Command{Name: "update", Args: "NAME [FILE]", Summary: "update a function's code, limits, parameters or annotations",
		Long: "Updates function NAME like `wsk action update`, under the UPDATING state (its\n" +
			"invocations are refused meanwhile); it returns to LATEST with the update in place,\n" +
			"or, when the update (or its --test invocation) fails, as it was before.\n\n" +
			"FILE is the new code; its kind comes from its extension (.js nodejs, .py python,\n" +
			".go, .php, .rb, .swift, .jar java; a .zip needs --kind). --param and --annotation\n" +
			"replace the whole list, as wsk does; a VALUE that is JSON is sent as JSON.",
		Example: "fnmgr update hello hello.js\n" +
			"fnmgr update hello --memory 512 --timeout 30000\n" +
			"fnmgr update hello hello.py -p greeting hi --test '{\"name\":\"probe\"}'",
		Flags: func(fs *pflag.FlagSet) Action {
			kind := fs.String("kind", "", "the runtime `KIND` of FILE (default: from its extension)")
			completeValues(fs, "kind", knownKinds()...)
			mainFn := fs.String("main", "", "the `FUNCTION` to run in FILE")
			docker := fs.String("docker", "", "a blackbox `IMAGE` to run (FILE, if any, is its code)")
			var mem, timeout, logs, conc intFlag
			fs.Var(&mem, "memory", "memory limit in `MB`")
			fs.Var(&timeout, "timeout", "time limit in `MS` (milliseconds)")
			fs.Var(&logs, "logsize", "log size limit in `MB`")
			fs.Var(&conc, "concurrency", "`N` concurrent activations per container")
			params, annots := &pairList{}, &pairList{}
			fs.VarP(params, "param", "p", "a parameter (replaces the list)")
			fs.VarP(annots, "annotation", "a", "an annotation (replaces the list)")
			paramFile := fs.String("param-file", "", "parameters from a JSON object in `FILE`")
			annotFile := fs.String("annotation-file", "", "annotations from a JSON object in `FILE`")
			test := fs.String("test", "", "a `JSON` object to invoke the updated code with before it takes effect")
			return func(ctx context.Context, s *Session, args []string) error {
				if len(args) == 0 {
					return need(s, args, "NAME")
				}
				if len(args) > 2 {
					return need(s, args, "NAME", "FILE")
				}
				req := client.UpdateRequest{}
				if len(args) == 2 || *docker != "" {
					file := ""
					if len(args) == 2 {
						file = args[1]
					}
					exec, err := readExec(file, *kind, *mainFn, *docker)
					if err != nil {
						return err
					}
					req.Exec = exec
				} else if *kind != "" || *mainFn != "" {
					return fmt.Errorf("%w: --kind and --main go with a code FILE", ErrUsage)
				}
				if mem.set || timeout.set || logs.set || conc.set {
					req.Limits = &entity.LimitsPut{Memory: mem.ptr(), Timeout: timeout.ptr(), Logs: logs.ptr(), Concurrency: conc.ptr()}
				}
				var err error
				if req.Parameters, err = keyValues(params.kv, *paramFile, "--param-file"); err != nil {
					return err
				}
				if req.Annotations, err = keyValues(annots.kv, *annotFile, "--annotation-file"); err != nil {
					return err
				}
				if *test != "" {
					if !json.Valid([]byte(*test)) || !strings.HasPrefix(strings.TrimSpace(*test), "{") {
						return fmt.Errorf("%w: --test must be a JSON object, such as '{\"name\":\"probe\"}'", ErrUsage)
					}
					req.Test = json.RawMessage(*test)
				}
				if req.Exec == nil && req.Limits == nil && req.Parameters == nil && req.Annotations == nil {
					return fmt.Errorf("%w: nothing to update: give a code FILE, a limit (--memory, --timeout, …), --param or --annotation", ErrUsage)
				}
				f, err := s.client.Update(ctx, args[0], req)
				if err != nil {
					return err
				}
				return changed(s, "updated", args[0], f)
			}
		}}
}

// readExec builds the exec of an update from a code file.
func readExec(file, kind, mainFn, image string) (*entity.ExecPut, error) {
	exec := &entity.ExecPut{Kind: kind, Main: mainFn}
	if image != "" {
		exec.Kind, exec.Image = "blackbox", image
	}
	if file == "" {
		return exec, nil
	}
	ext := strings.ToLower(filepath.Ext(file))
	if exec.Kind == "" {
		exec.Kind = kindsByExt[ext]
	}
	if exec.Kind == "" {
		return nil, fmt.Errorf("%w: the kind of %s cannot be told from its extension: give --kind (such as nodejs:20)", ErrUsage, file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the code: %w", err)
	}
	code := string(b)
	binary := binaryExts[ext]
	if binary {
		code = base64.StdEncoding.EncodeToString(b)
	}
	exec.Code, exec.Binary = &code, &binary
	return exec, nil
}

// keyValues merges KEY VALUE flags with a JSON object file (the file first).
func keyValues(kv entity.KeyValues, file, flagName string) (entity.KeyValues, error) {
	if file == "" {
		return kv, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("%w: %s %s: not a JSON object: %v", ErrUsage, flagName, file, err)
	}
	var out entity.KeyValues
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, entity.KeyValue{Key: k, Value: obj[k]})
	}
	return append(out, kv...), nil
}
