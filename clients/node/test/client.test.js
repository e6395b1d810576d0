// The Node.js client against a running warmupd (its proxy's HTTP API at
// $WARMUP_URL): tests/deploy/test_node_client.sh starts one and runs
// `node --test` here. Bad input is refused before it is sent, naming the
// field; usage events and intents are accepted and counted by the
// service; predict lists a model after its usage went through the
// engine; a dead listener and a server error are errors with a code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { WarmupClient, WarmupError } from 'warmup-client';

const URL = process.env.WARMUP_URL;
const SCALE = Number(process.env.WP_TEST_TIME_SCALE || 1);
if (!URL) throw new Error('WARMUP_URL is not set (tests/deploy/test_node_client.sh sets it)');

const client = new WarmupClient({ url: URL, timeoutMs: 5000 * SCALE });

// The proxy's counters.
async function stats() {
  const response = await fetch(`${URL}/warmup/v1/stats`);
  assert.equal(response.status, 200);
  return response.json();
}

// A TCP port nobody listens on.
async function deadPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Expect a WarmupError with the given properties.
async function refused(promise, want) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof WarmupError, `${error}`);
    for (const [key, value] of Object.entries(want)) {
      if (value instanceof RegExp) assert.match(error[key], value);
      else assert.equal(error[key], value);
    }
    return true;
  });
}

test('bad input is refused before it is sent, naming the field', async () => {
  const before = (await stats()).api_requests;
  await refused(client.observe({ model: 'm' }), { field: 'user', code: 'EINVAL', status: 0 });
  await refused(client.observe({ user: 'u', model: 'm', modle: 'x' }), { field: 'modle' });
  await refused(client.observe({ user: 'u', model: 'm', task: 'dance' }), { field: 'task' });
  await refused(client.observe([{ user: 'u', model: 'm' }, { user: 'u', model: 'x'.repeat(201) }]),
    { field: '[1].model', message: /201 bytes/ });
  await refused(client.observe([]), { message: /1\.\.1000/ });
  await refused(client.intent({ user: 'u', kind: 'Chat Opened' }), { field: 'kind' });
  await refused(client.intent({ user: 'u', kind: 'chat.opened', language: 'c\n' }), { field: 'language' });
  await refused(client.predict({ task: 'dance' }), { field: 'task' });
  assert.throws(() => new WarmupClient({ url: 'ftp://x' }), WarmupError);
  assert.equal((await stats()).api_requests, before, 'nothing reached the service');
});

test('usage events and intents are accepted and counted', async () => {
  const before = await stats();
  assert.equal(await client.observe({ user: 'node-bob', model: 'node-coder', task: 'completion', language: 'typescript' }), 1);
  assert.equal(await client.observe([
    { user: 'node-bob', model: 'node-coder', task: 'completion', outcome: 'cold', wait_ms: 900 },
    { user: 'node-bob', model: 'node-chat', task: 'chat', event_ms: Date.now() },
  ]), 2);
  assert.equal(await client.intent({ user: 'node-bob', kind: 'chat.opened', model: 'node-chat', task: 'chat' }), 1);
  assert.equal(await client.intent([
    { user: 'node-bob', kind: 'typing.started', language: 'python' },
    { user: 'node-bob', kind: 'file.opened', file_type: '.rs' },
  ]), 2);
  const after = await stats();
  assert.equal(after.intents - before.intents, 3);
});

test('predict lists a model once its usage went through the engine, and warms it', async () => {
  assert.equal(await client.observe({ user: 'node-alice', model: 'node-model', task: 'chat' }), 1);
  const deadline = Date.now() + 20000 * SCALE;
  let answer;
  do {
    answer = await client.predict({ user: 'node-alice', warm: false });
    if (answer.models.some((m) => m.model === 'node-model')) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (Date.now() < deadline);
  const model = answer.models.find((m) => m.model === 'node-model');
  assert.ok(model, `no prediction of node-model: ${JSON.stringify(answer)}`);
  assert.ok(model.probability > 0 && model.probability <= 1);
  assert.deepEqual(answer.warming, []);
  const warmed = await client.predict({ user: 'node-alice', task: 'chat' });
  assert.ok(Array.isArray(warmed.warming));
});

test('transport failures are errors with a code', async () => {
  const dead = new WarmupClient({ url: `http://127.0.0.1:${await deadPort()}`, timeoutMs: 2000 });
  await refused(dead.observe({ user: 'u', model: 'm' }), { code: 'EIO', message: /ECONNREFUSED/ });
  // A path the proxy passes to its model server, which it has not: 502.
  const nowhere = new WarmupClient({ url: `${URL}/no-such-prefix` });
  await refused(nowhere.observe({ user: 'u', model: 'm' }), { code: 'EIO', status: 502 });
});
