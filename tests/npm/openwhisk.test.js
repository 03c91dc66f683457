// The foundation's user scenario with the official `openwhisk` npm client,
// against the controller and, unchanged, through fnmgr's gateway. The Go
// test tests/npm_test.go runs this with the stack's endpoints in the
// environment: OW_APIHOST, FNMGR_GATEWAY, OW_AUTH.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const openwhisk = require('openwhisk');

const targets = { controller: process.env.OW_APIHOST, gateway: process.env.FNMGR_GATEWAY };
const auth = process.env.OW_AUTH;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(100);
  }
}

// fnmgr writes its state annotation (fnmgr-state) on an action a quiet
// while (2 s) after each change. A write of the user's that read the action
// before that lands meets a concurrent modification, and OpenWhisk answers
// it 409 "Concurrent modification to resource detected." as it does for any
// two writers of one document (core/controller/src/main/scala/org/apache/
// openwhisk/core/controller/ApiUtils.scala: putEntity and deleteEntity on a
// DocumentConflictException; common/scala/.../http/ErrorResponse.scala
// conflictMessage). Such a 409 changed nothing. Straight at the controller
// a wsk user tries again, and so does this scenario; through the gateway,
// the gateway sends the write again itself and the scenario must not see
// the 409 (viaGateway).
async function retryConflict(viaGateway, fn) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (viaGateway || e.statusCode !== 409 || attempt >= 20) throw e;
      console.log(`409 (${e.message}); trying again`);
    }
    await sleep(100); // a user's pause before trying again
  }
}

for (const [target, apihost] of Object.entries(targets)) {
  test(`openwhisk npm client through the ${target}`, { skip: !apihost || !auth }, async () => {
    const ow = openwhisk({ apihost, api_key: auth, namespace: '_' });
    const p = `npm-${target}-`;
    const js = 'function main(p) { console.log("hi"); return { greeting: "Hello, " + (p.name || "World") } }';
    const py = 'def main(args):\n    return {"greeting": "Hello, " + args.get("name", "World")}\n';

    await ow.actions.create({ name: p + 'js', action: js, kind: 'nodejs:default' });
    await ow.actions.create({ name: p + 'py', action: py, kind: 'python:default' });
    const got = await ow.actions.get({ name: p + 'js' });
    assert.strictEqual(got.exec.code, js);
    assert.strictEqual(got.limits.memory, 256);

    for (const name of [p + 'js', p + 'py']) {
      const res = await ow.actions.invoke({ name, params: { name: 'npm' }, blocking: true, result: true });
      assert.strictEqual(res.greeting, 'Hello, npm');
    }

    await retryConflict(target === 'gateway', () => ow.actions.update({ name: p + 'js', action: js.replace('Hello', 'Hi'), kind: 'nodejs:default' }));
    const updated = await ow.actions.get({ name: p + 'js' });
    assert.strictEqual(updated.version, '0.0.2');

    const { activationId } = await ow.actions.invoke({ name: p + 'js' });
    const act = await eventually(() => ow.activations.get({ name: activationId }));
    assert.strictEqual(act.response.result.greeting, 'Hi, World');
    const logs = await eventually(async () => {
      const l = await ow.activations.logs({ name: activationId });
      return l.logs.length > 0 && l;
    });
    assert.match(logs.logs[0], /stdout: hi/);

    const list = await ow.actions.list({ limit: 200 });
    const names = list.map((a) => a.name);
    assert.ok(names.includes(p + 'js') && names.includes(p + 'py'));

    await ow.actions.create({ name: p + 'seq', action: { exec: { kind: 'sequence', components: [`/_/${p}js`, `/_/${p}py`] } } });
    const seq = await ow.actions.invoke({ name: p + 'seq', params: { name: 'x' }, blocking: true, result: true });
    assert.strictEqual(seq.greeting, 'Hello, World', 'the python step gets the js result (no name)');

    await ow.triggers.create({ name: p + 'trig' });
    await ow.rules.create({ name: p + 'rule', trigger: `/_/${p}trig`, action: `/_/${p}py` });
    const since = Date.now();
    await ow.triggers.invoke({ name: p + 'trig', params: { name: 'rule' } });
    await eventually(async () => {
      const acts = await ow.activations.list({ name: p + 'py', since, docs: true, limit: 5 });
      return acts.some((a) => a.response.result.greeting === 'Hello, rule');
    });

    await ow.rules.delete({ name: p + 'rule' });
    await ow.triggers.delete({ name: p + 'trig' });
    for (const name of [p + 'seq', p + 'js', p + 'py']) await retryConflict(target === 'gateway', () => ow.actions.delete({ name }));
    await assert.rejects(ow.actions.get({ name: p + 'js' }), (e) => e.statusCode === 404);
  });
}
