// fnmgr action proxy for Node.js, started by deploy/local/actionrt.
//
// Protocol: newline-delimited JSON. Requests arrive on fd 3, responses
// leave on fd 4; stdout and stderr belong to the action. Nothing runs
// before the init request except announcing {"ready":true}.
//   {"op":"init","main":"main","code":"...","binary":false,"dir":"..."}
//     -> {"ok":true} | {"error":"..."}
//   {"op":"run","value":{...},"env":{"__OW_...":"..."}}
//     -> {"result":<json>} | {"exception":"..."} | {"invalid":"..."}
// After every run (and a failed init) the sentinel line is written to
// stdout and stderr before the response.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const Module = require('module');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';
// Captured before user code runs, which may replace them.
const writeOut = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);
let userMain;
let envKeys = [];

function send(text) {
  fs.writeSync(4, text + '\n');
}

function markers() {
  writeOut(SENTINEL + '\n');
  writeErr(SENTINEL + '\n');
}

function init(msg) {
  const main = msg.main || 'main';
  if (msg.binary) {
    const dir = msg.dir;
    if (!fs.existsSync(path.join(dir, 'package.json')) && !fs.existsSync(path.join(dir, 'index.js'))) {
      throw 'Zipped actions must contain either package.json or index.js at the root.';
    }
    process.chdir(dir);
    userMain = require(dir)[main];
  } else {
    if (!/^[A-Za-z_$][\w$]*$/.test(main)) {
      throw "Action entrypoint '" + main + "' is not a valid identifier.";
    }
    const file = path.join(process.cwd(), 'action.js');
    const mod = new Module(file, null);
    mod.filename = file;
    mod.paths = Module._nodeModulePaths(process.cwd());
    const load = new Function('require', 'module', 'exports', '__filename', '__dirname',
      msg.code + '\n;return typeof ' + main + " === 'function' ? " + main + ' : module.exports[' + JSON.stringify(main) + '];');
    userMain = load(Module.createRequire(file), mod, mod.exports, file, process.cwd());
  }
  if (typeof userMain !== 'function') {
    throw "Action entrypoint '" + main + "' is not a function.";
  }
}

function serializeError(e) {
  if (e instanceof Error) {
    const out = { name: e.name, message: e.message, stack: e.stack };
    for (const k of Object.keys(e)) out[k] = e[k];
    return out;
  }
  return e === undefined ? {} : e;
}

async function run(msg) {
  for (const k of envKeys) delete process.env[k];
  envKeys = Object.keys(msg.env || {});
  for (const k of envKeys) process.env[k] = msg.env[k];

  let result;
  try {
    result = userMain(msg.value || {});
  } catch (e) {
    console.error(e);
    return JSON.stringify({ exception: 'An error has occurred: ' + e });
  }
  try {
    result = await result;
  } catch (e) {
    // A rejected promise is an application error, as in OpenWhisk.
    result = { error: serializeError(e) };
  }
  if (result === undefined) result = {};
  let body;
  try {
    body = JSON.stringify(result);
  } catch (e) {
    return JSON.stringify({ invalid: String(e) });
  }
  if (body === undefined) return JSON.stringify({ invalid: String(result) });
  return '{"result":' + body + '}';
}

async function handle(line) {
  const msg = JSON.parse(line);
  if (msg.op === 'init') {
    try {
      init(msg);
      send('{"ok":true}');
    } catch (e) {
      console.error('Error during initialization:', e);
      markers();
      send(JSON.stringify({ error: String(e && e.stack ? e.stack : e) }));
    }
    return;
  }
  const out = await run(msg);
  markers();
  send(out);
}

const requests = new net.Socket({ fd: 3, readable: true, writable: false });
let buffered = '';
let queue = Promise.resolve();
requests.setEncoding('utf8');
requests.on('data', (chunk) => {
  buffered += chunk;
  let i;
  while ((i = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    queue = queue.then(() => handle(line));
  }
});
requests.on('end', () => process.exit(0));
send('{"ready":true}');
