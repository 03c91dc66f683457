package actionrt

import (
	"strings"
	"testing"
)

// TestRunResults is the result contract: how each thing an action can
// do maps to an OpenWhisk status code and result.
func TestRunResults(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.UserMemoryMB = 8192
	p := newTestPool(t, o)

	withZip := func(a Action, files map[string]string) Action {
		a.Code, a.Binary = zipOf(t, files), true
		return a
	}
	withMain := func(a Action, main string) Action { a.Main = main; return a }
	withEnv := func(a Action) Action {
		a.Env = map[string]string{"__OW_ACTION_NAME": "/guest/env", "__OW_ACTIVATION_ID": "abc123"}
		return a
	}
	cases := []struct {
		name   string
		action Action
		params string
		status int
		result string // exact compact JSON, or the prefix of result.error when errPrefix
		prefix bool
	}{
		{"node hello", node("nh", `function main(params) { return {payload: 'Hello, ' + (params.name || 'World')}; }`), "", 0, `{"payload":"Hello, World"}`, false},
		{"node params", node("np", `function main(params) { return {payload: 'Hello, ' + params.name, n: params.n + 1}; }`), `{"name":"fnmgr","n":41}`, 0, `{"payload":"Hello, fnmgr","n":42}`, false},
		{"node async", node("na", `async function main(p) { await new Promise(r => setTimeout(r, 5)); return {async: true}; }`), "", 0, `{"async":true}`, false},
		{"node promise", node("npr", `function main() { return new Promise(r => setImmediate(() => r({done: 1}))); }`), "", 0, `{"done":1}`, false},
		{"node array", node("narr", `function main() { return [1, {a: 2}]; }`), "", 0, `[1,{"a":2}]`, false},
		{"node undefined is empty object", node("nu", `function main() {}`), "", 0, `{}`, false},
		{"node exports style", node("nexp", `exports.main = () => ({style: 'exports'});`), "", 0, `{"style":"exports"}`, false},
		{"node require works", node("nreq", `const os = require('os'); function main() { return {ok: typeof os.hostname() === 'string'}; }`), "", 0, `{"ok":true}`, false},
		{"node env", withEnv(node("nenv", `function main() { return {name: process.env.__OW_ACTION_NAME, id: process.env.__OW_ACTIVATION_ID}; }`)), "", 0, `{"name":"/guest/env","id":"abc123"}`, false},
		{"node application error", node("nae", `function main() { return {error: 'bad input'}; }`), "", 1, `{"error":"bad input"}`, false},
		{"node rejected promise", node("nrej", `function main() { return Promise.reject(new Error('nope')); }`), "", 1, `{"error":{"name":"Error","message":"nope"`, true},
		{"node exception", node("nex", `function main() { throw new Error('boom'); }`), "", 2, "An error has occurred: Error: boom", true},
		{"node string result", node("nstr", `function main() { return 'hello'; }`), "", 2, `The action did not produce a valid JSON or JSON Array response: "hello"`, true},
		{"node number result", node("nnum", `function main() { return 42; }`), "", 2, `The action did not produce a valid JSON or JSON Array response: 42`, true},
		{"node syntax error", node("nsyn", `function main( {`), "", 2, "The action failed during initialization: SyntaxError", true},
		{"node missing main", withMain(node("nmain", `function main() {}`), "nosuch"), "", 2, "The action failed during initialization: Action entrypoint 'nosuch' is not a function.", true},
		{"node custom main", withMain(node("ncm", `function hello() { return {hi: 1}; }`), "hello"), "", 0, `{"hi":1}`, false},
		{"node exits", node("nexit", `function main() { process.exit(3); }`), "", 2, "The action did not produce a valid response and exited unexpectedly.", false},
		{"node exits during init", node("niexit", `process.exit(3); function main() {}`), "", 2, "The action did not initialize and exited unexpectedly.", false},
		{"node zip package.json", withZip(node("nzp", ""), map[string]string{
			"package.json":  `{"name":"a","main":"lib/entry.js"}`,
			"lib/entry.js":  `const h = require('./helper'); exports.main = (p) => ({msg: h.greet(p.name)});`,
			"lib/helper.js": `exports.greet = (n) => 'hi ' + n;`,
		}), `{"name":"zip"}`, 0, `{"msg":"hi zip"}`, false},
		{"node zip index.js", withZip(node("nzi", ""), map[string]string{"index.js": `exports.main = () => ({from: 'index'});`}), "", 0, `{"from":"index"}`, false},
		{"node zip without entry", withZip(node("nzn", ""), map[string]string{"other.js": `exports.main = () => ({});`}), "", 2, "The action failed during initialization: Zipped actions must contain either package.json or index.js at the root.", false},
		{"node bad zip", func() Action { a := node("nbz", "not a zip"); a.Binary = true; return a }(), "", 2, "The action failed during initialization: There was an error uncompressing the action archive.", false},
		{"python hello", python("ph", "def main(args):\n    return {'payload': 'Hello, ' + args.get('name', 'World')}\n"), "", 0, `{"payload":"Hello, World"}`, false},
		{"python params", python("pp", "def main(args):\n    return {'payload': 'Hello, ' + args['name'], 'n': args['n'] + 1}\n"), `{"name":"fnmgr","n":1}`, 0, `{"payload":"Hello, fnmgr","n":2}`, false},
		{"python env", withEnv(python("penv", "import os\ndef main(args):\n    return {'name': os.environ['__OW_ACTION_NAME']}\n")), "", 0, `{"name":"/guest/env"}`, false},
		{"python array", python("parr", "def main(args):\n    return [1, 2]\n"), "", 0, `[1,2]`, false},
		{"python application error", python("pae", "def main(args):\n    return {'error': 'bad'}\n"), "", 1, `{"error":"bad"}`, false},
		{"python exception", python("pex", "def main(args):\n    raise ValueError('boom')\n"), "", 2, "An error has occurred: ValueError: boom", false},
		{"python number result", python("pnum", "def main(args):\n    return 42\n"), "", 2, "The action did not produce a valid JSON or JSON Array response: 42", false},
		{"python None result", python("pnone", "def main(args):\n    pass\n"), "", 2, "The action did not produce a valid JSON or JSON Array response: null", false},
		{"python init error", python("pinit", "import nosuchmodule\ndef main(args):\n    return {}\n"), "", 2, "The action failed during initialization: ModuleNotFoundError", true},
		{"python exits", python("pexit", "import sys\ndef main(args):\n    sys.exit(1)\n"), "", 2, "The action did not produce a valid response and exited unexpectedly.", false},
		{"python zip", withZip(python("pz", ""), map[string]string{
			"__main__.py": "from helper import greet\ndef main(args):\n    return {'msg': greet(args['name'])}\n",
			"helper.py":   "def greet(n):\n    return 'hi ' + n\n",
		}), `{"name":"zip"}`, 0, `{"msg":"hi zip"}`, false},
		{"python zip without __main__", withZip(python("pzn", ""), map[string]string{"x.py": ""}), "", 2, "The action failed during initialization: Exception: Zip file does not include __main__.py", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, p, tc.action, tc.params)
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d (result %s, logs %q)", res.StatusCode, tc.status, res.Result, res.Logs)
			}
			got := string(res.Result)
			if tc.status == StatusDeveloperError {
				got = resultField[string](t, res, "error")
			}
			if tc.prefix && !strings.HasPrefix(got, tc.result) || !tc.prefix && got != tc.result {
				t.Errorf("result = %s, want %s (prefix %v)", got, tc.result, tc.prefix)
			}
			if res.InitTime <= 0 {
				t.Errorf("InitTime = %v on a cold start", res.InitTime)
			}
			if !res.End.After(res.Start) || res.TimedOut || res.OOM {
				t.Errorf("start %v end %v timedOut %v oom %v", res.Start, res.End, res.TimedOut, res.OOM)
			}
			if tc.status == StatusDeveloperError {
				last := res.Logs[len(res.Logs)-1]
				if !strings.HasSuffix(last, " stderr: "+msgLogsMissing) {
					t.Errorf("last log line = %q, want the developer error notice", last)
				}
			}
		})
	}
}
