# fnmgr action proxy for Python, started by deploy/local/actionrt.
#
# Protocol: newline-delimited JSON. Requests arrive on fd 3, responses
# leave on fd 4; stdout and stderr belong to the action. Nothing runs
# before the init request except announcing {"ready": true}.
#   {"op":"init","main":"main","code":"...","binary":false,"dir":"..."}
#     -> {"ok":true} | {"error":"..."}
#   {"op":"run","value":{...},"env":{"__OW_...":"..."}}
#     -> {"result":<json>} | {"exception":"..."} | {"invalid":"..."}
# After every run (and a failed init) the sentinel line is written to
# stdout and stderr before the response.
import glob
import importlib.util
import json
import os
import sys
import traceback
import types

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

os.set_inheritable(3, False)
os.set_inheritable(4, False)
requests = open(3, "rb")
responses = open(4, "wb")
sys.stdout.reconfigure(line_buffering=True)
sys.stderr.reconfigure(line_buffering=True)
if sys.path and os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0] or "."):
    sys.path.pop(0)


def send(obj):
    responses.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    responses.flush()


def markers():
    sys.stdout.flush()
    sys.stderr.flush()
    print(SENTINEL, file=sys.stdout, flush=True)
    print(SENTINEL, file=sys.stderr, flush=True)


def load(msg):
    if msg.get("binary"):
        d = msg["dir"]
        entry = os.path.join(d, "__main__.py")
        if not os.path.exists(entry):
            raise Exception("Zip file does not include __main__.py")
        os.chdir(d)
        sys.path.insert(0, d)
        sys.path[1:1] = glob.glob(os.path.join(d, "virtualenv", "lib", "python3*", "site-packages"))
        spec = importlib.util.spec_from_file_location("main__", entry)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["main__"] = mod
        spec.loader.exec_module(mod)
    else:
        mod = types.ModuleType("main__")
        mod.__file__ = os.path.join(os.getcwd(), "main__.py")
        sys.modules["main__"] = mod
        exec(compile(msg["code"], mod.__file__, "exec"), mod.__dict__)
    fn = getattr(mod, msg.get("main") or "main", None)
    if not callable(fn):
        raise Exception("Action entrypoint '%s' is not a function." % (msg.get("main") or "main"))
    return fn


def run(fn, msg, env_keys):
    for k in env_keys:
        os.environ.pop(k, None)
    env = msg.get("env") or {}
    for k, v in env.items():
        os.environ[k] = v
    try:
        result = fn(msg.get("value") or {})
    except Exception as ex:
        traceback.print_exc()
        return {"exception": "An error has occurred: %s: %s" % (type(ex).__name__, ex)}, list(env)
    try:
        body = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as ex:
        return {"invalid": "%s" % ex}, list(env)
    return body, list(env)


def main():
    fn = None
    env_keys = []
    send({"ready": True})
    for line in requests:
        msg = json.loads(line)
        if msg.get("op") == "init":
            try:
                fn = load(msg)
                send({"ok": True})
            except BaseException as ex:
                traceback.print_exc()
                markers()
                send({"error": "%s: %s" % (type(ex).__name__, ex)})
            continue
        out, env_keys = run(fn, msg, env_keys)
        markers()
        if isinstance(out, str):
            responses.write(b'{"result":' + out.encode("utf-8") + b"}\n")
            responses.flush()
        else:
            send(out)


main()
