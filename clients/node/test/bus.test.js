// warmup-client/bus against a running warmupd's bus ($WARMUP_BUS_PUB,
// $WARMUP_BUS_SUB; $WARMUP_CTL runs warmupctl on the same deployment):
// usage events and intents published from Node reach the bus as the
// service's own (users hashed); the prediction after a usage and the
// warmup.done after a warm come back through next(); a bus that is not
// there times out. Then a warmupd of its own on tcp:// ($WARMUP_BIN_DIR),
// where the bus speaks CURVE: a key made by warmupctl keygen and admitted
// by the service works, none does not. Skipped, saying so, without
// zeromq and protobufjs (tools/npm-clients-setup.sh installs them; CI
// runs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, chmodSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PUB = process.env.WARMUP_BUS_PUB;
const SUB = process.env.WARMUP_BUS_SUB;
const CTL = (process.env.WARMUP_CTL || '').split(' ').filter(Boolean);
const BIN = process.env.WARMUP_BIN_DIR;
const SCALE = Number(process.env.WP_TEST_TIME_SCALE || 1);
let bus = null;
let why = '';
try {
  bus = await import('warmup-client/bus');
  await import('zeromq');
  await import('protobufjs');
} catch (error) {
  why = `zeromq or protobufjs missing (${error.message})`;
}
if (!PUB || !SUB || CTL.length === 0) why = why || 'WARMUP_BUS_PUB, WARMUP_BUS_SUB or WARMUP_CTL not set';
if (why) console.log(`# bus tests SKIPPED: ${why}`);

// Start `warmupctl tail` of a topic; resolves once it is ready, to
// { first }: a promise of the first event as an object.
function tail(topic) {
  return new Promise((ready, failed) => {
    const child = spawn(CTL[0], [...CTL.slice(1), 'tail', '--topic', topic, '--count', '1', '--timeout', String(20 * SCALE)]);
    let out = '';
    let err = '';
    const first = new Promise((resolve, reject) => {
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.split('\n')[0])) : reject(new Error(`tail ${topic}: exit ${code}: ${err}`))));
    });
    child.stdout.on('data', (data) => { out += data; });
    child.stderr.on('data', (data) => {
      err += data;
      if (err.includes('tail ready')) ready({ first });
    });
    child.on('error', failed);
  });
}

// Wait for the first event of type satisfying match, bounded.
async function until(client, type, match) {
  const deadline = Date.now() + 20000 * SCALE;
  while (Date.now() < deadline) {
    const event = await client.next(200);
    if (event && event.type === type && match(event)) return event;
  }
  return null;
}

test('usage and intents go out on the bus; predictions and warmup.done come back', { skip: why || false }, async () => {
  const client = await bus.WarmupBus.connect({ publish: PUB, subscribe: SUB, events: ['prediction', 'warmup.done'], timeoutMs: 20000 * SCALE });
  try {
    const intents = (await tail('usage.intent')).first;
    await client.intent({ user: 'node-carol', kind: 'chat.opened', model: 'node-bus-chat', language: 'go', task: 'chat' });
    const intent = await intents;
    assert.equal(intent.kind, 'chat.opened');
    assert.equal(intent.model, 'node-bus-chat');
    assert.equal(intent.task, 'TASK_CHAT');
    assert.match(intent.user, /^u:[0-9a-f]{16}$/, 'hashed as it entered the bus');

    const usages = (await tail('usage.observed')).first;
    await client.observe({ user: 'node-carol', model: 'node-bus-model', task: 'completion', outcome: 'cold', wait_ms: 700 });
    const usage = await usages;
    assert.equal(usage.model, 'node-bus-model');
    assert.equal(usage.outcome, 'OUTCOME_COLD');
    assert.equal(usage.user, intent.user, 'the same user, the same hash');
    assert.match(usage.header.source, /^node\//);

    const prediction = await until(client, 'prediction', (e) => e.user === usage.user && e.models.some((m) => m.model === 'node-bus-model'));
    assert.ok(prediction, 'a prediction for the user, of node-bus-model');
    assert.ok(prediction.horizon_s > 0);

    await new Promise((resolve, reject) => execFile(CTL[0], [...CTL.slice(1), 'warm', 'node-bus-warm'], (error) => (error ? reject(error) : resolve())));
    const done = await until(client, 'warmup.done', (e) => e.model === 'node-bus-warm');
    assert.ok(done, 'warmup.done of node-bus-warm');
    assert.equal(done.warm, true);
    assert.equal(done.ok, true);
    await assert.rejects(client.observe({ user: 'u' }), { code: 'EINVAL', field: 'model' });
  } finally {
    client.close();
  }
});

test('a bus that is not there times out, saying where', { skip: why || false }, async () => {
  await assert.rejects(
    bus.WarmupBus.connect({ publish: 'ipc:///nonexistent/warmup-pub', subscribe: 'ipc:///nonexistent/warmup-sub', timeoutMs: 300 }),
    (error) => error.code === 'ETIMEDOUT' && /nonexistent\/warmup-pub/.test(error.message));
  await assert.rejects(bus.WarmupBus.connect({ publish: PUB, subscribe: SUB, events: ['usage.observed'] }), { field: 'events' });
});

// A TCP port nobody listens on now.
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Run a program to its end; its output.
function run(program, args) {
  return new Promise((resolve, reject) => execFile(program, args, (error, stdout, stderr) => (error ? reject(new Error(`${program} ${args.join(' ')}: ${stderr}`)) : resolve(stdout))));
}

test('CURVE on tcp://: an admitted key publishes and receives, none does not', { skip: why || (!BIN && 'WARMUP_BIN_DIR not set') || false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wp-node-curve-'));
  const publish = `tcp://127.0.0.1:${await freePort()}`;
  const subscribe = `tcp://127.0.0.1:${await freePort()}`;
  const config = join(dir, 'warmup.cfg');
  writeFileSync(config, `metrics_listen = off\nbus\n    pub_endpoint = "${publish}"\n    sub_endpoint = "${subscribe}"\nstore\n    data_dir = "${dir}/var"\n`);
  await run(join(BIN, 'warmupctl'), ['-c', config, 'keygen', join(dir, 'mine'), '--name', 'ide']);
  mkdirSync(join(dir, 'var', 'keys', 'allowed'), { recursive: true });
  chmodSync(join(dir, 'var'), 0o700);
  chmodSync(join(dir, 'var', 'keys'), 0o700);
  chmodSync(join(dir, 'var', 'keys', 'allowed'), 0o700);
  copyFileSync(join(dir, 'mine', 'ide.key'), join(dir, 'var', 'keys', 'allowed', 'ide.key'));
  const daemon = spawn(join(BIN, 'warmupd'), ['-c', config]);
  let log = '';
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`warmupd not ready: ${log}`)), 20000 * SCALE);
      const take = (data) => {
        log += data;
        if (/\bready\b/.test(log)) { clearTimeout(timer); resolve(); }
      };
      daemon.stdout.on('data', take);
      daemon.stderr.on('data', take);
      daemon.on('exit', (code) => reject(new Error(`warmupd exited ${code}: ${log}`)));
    });
    assert.match(log, /1 client key/, 'the key was admitted');
    const client = await bus.WarmupBus.connect({
      publish, subscribe, serverKey: join(dir, 'var', 'keys', 'server.key'), clientCert: join(dir, 'mine', 'ide.key'),
      events: ['prediction'], timeoutMs: 20000 * SCALE,
    });
    try {
      await client.observe({ user: 'node-erin', model: 'node-curve-model' });
      const prediction = await until(client, 'prediction', (e) => e.models.some((m) => m.model === 'node-curve-model'));
      assert.ok(prediction, 'a prediction over CURVE');
    } finally {
      client.close();
    }
    await assert.rejects(bus.WarmupBus.connect({ publish, subscribe, timeoutMs: 500 }),
      (error) => error.code === 'ETIMEDOUT' && /needs serverKey/.test(error.message));
    await assert.rejects(bus.WarmupBus.connect({ publish, subscribe, serverKey: join(dir, 'var', 'keys', 'server.key'), clientCert: join(dir, 'nothing.key') }),
      (error) => error.code === 'EINVAL' && /nothing\.key/.test(error.message));
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((resolve) => (daemon.exitCode !== null ? resolve() : daemon.on('exit', resolve)));
    rmSync(dir, { recursive: true, force: true });
  }
});
