// The WebSocket API of `cove serve` (/v1/ws) with the `ws` client: two chats multiplexed on one
// socket, cancel by id, error events for malformed messages, the API key on the upgrade, and a
// disconnect cancelling what the socket started.
//
//   COVE_BINARY=build/cove node --test tests/integration/ws.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, stopServer, skip } from './cove_server.mjs';

let server;
const messages = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Once upon a time' }];

before(async () => {
  if (!skip) server = await startServer(['--ctx', '256', '--parallel', '4', '--api-key', 'sekret']);
});
after(async () => { await stopServer(server); });

function wsUrl() { return server.url.replace(/^http/, 'ws') + '/v1/ws'; }

// An open socket and a helper collecting its events per id.
async function connect(headers = { Authorization: 'Bearer sekret' }) {
  const socket = new WebSocket(wsUrl(), { headers });
  const events = [];
  const waiters = [];
  socket.on('message', (data, isBinary) => {
    assert.equal(isBinary, false);
    const event = JSON.parse(data.toString());
    events.push(event);
    for (const w of [...waiters]) {
      if (w.match(event)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(event); }
    }
  });
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  const next = (match) => {
    const seen = events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.push({ match, resolve }));
  };
  const send = (m) => socket.send(typeof m === 'string' ? m : JSON.stringify(m));
  return { socket, events, next, send };
}

const ended = (id) => (e) => e.id === id && (e.type === 'done' || e.type === 'error');

async function metric(name) {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: 'Bearer sekret' } })).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

test('two multiplexed chats on one socket both complete', { skip }, async () => {
  const c = await connect();
  c.send({ type: 'chat', id: 'a', messages, max_tokens: 10, temperature: 0, ignore_eos: true });
  c.send({ type: 'chat', id: 'b', messages: [{ role: 'user', content: 'A dog' }], max_tokens: 6,
    temperature: 0, ignore_eos: true });
  const [a, b] = await Promise.all([c.next(ended('a')), c.next(ended('b'))]);
  for (const [done, n] of [[a, 10], [b, 6]]) {
    assert.equal(done.type, 'done', JSON.stringify(done));
    assert.equal(done.finish_reason, 'length');
    assert.equal(done.usage.completion_tokens, n);
    assert.equal(done.usage.total_tokens, done.usage.prompt_tokens + n);
  }
  const text = (id) => c.events.filter((e) => e.type === 'token' && e.id === id).map((e) => e.text).join('');
  assert.ok(text('a').length > 0 && text('b').length > 0);

  // The same request over HTTP gives the same greedy text.
  const r = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json', Authorization: 'Bearer sekret' },
    body: JSON.stringify({ messages, max_tokens: 10, temperature: 0, ignore_eos: true }) });
  assert.equal((await r.json()).choices[0].message.content, text('a'));
  c.socket.close();
});

test('cancel by id ends one request while the other completes', { skip }, async () => {
  const c = await connect();
  c.send({ type: 'chat', id: 'long', messages, max_tokens: 100000, ignore_eos: true });
  c.send({ type: 'chat', id: 'short', messages, max_tokens: 8, temperature: 0, ignore_eos: true });
  await c.next((e) => e.type === 'token' && e.id === 'long');
  c.send({ type: 'cancel', id: 'long' });
  const [long, short] = await Promise.all([c.next(ended('long')), c.next(ended('short'))]);
  assert.equal(long.type, 'done');
  assert.equal(long.finish_reason, 'cancelled');
  assert.ok(long.usage.completion_tokens < 200);
  assert.equal(short.type, 'done');
  assert.equal(short.finish_reason, 'length');
  assert.equal(short.usage.completion_tokens, 8);
  c.socket.close();
});

test('malformed messages get error events and the socket stays usable', { skip }, async () => {
  const c = await connect();
  c.send('{not json');
  const bad = await c.next((e) => e.type === 'error' && e.error.code === 'invalid_json');
  assert.equal(bad.id, null);
  assert.equal(typeof bad.error.message, 'string');
  assert.equal(typeof bad.error.type, 'string');
  c.send({ type: 'dance', id: 'x' });
  assert.equal((await c.next((e) => e.type === 'error' && e.id === 'x')).error.code, 'unknown_type');
  c.send({ type: 'chat', messages });
  await c.next((e) => e.type === 'error' && e.error.code === 'invalid_id');
  c.send({ type: 'chat', id: 'no-messages' });
  assert.match((await c.next(ended('no-messages'))).error.message, /messages/);
  c.send({ type: 'chat', id: 'hot', messages, temperature: 'hot' });
  assert.equal((await c.next(ended('hot'))).type, 'error');
  c.send({ type: 'cancel', id: 'ghost' });
  assert.equal((await c.next((e) => e.id === 'ghost')).error.code, 'unknown_id');
  c.send([1, 2, 3]);
  await c.next((e) => e.type === 'error' && e.error.code === 'invalid_message');
  // Still serving.
  c.send({ type: 'chat', id: 'ok', messages, max_tokens: 3, temperature: 0, ignore_eos: true });
  assert.equal((await c.next(ended('ok'))).finish_reason, 'length');
  c.socket.close();
});

test('the upgrade needs the API key; a plain GET gets 426', { skip }, async () => {
  const plain = await fetch(`${server.url}/v1/ws`, { headers: { Authorization: 'Bearer sekret' } });
  assert.equal(plain.status, 426);
  assert.equal((await plain.json()).error.code, 'upgrade_required');
  for (const headers of [{}, { Authorization: 'Bearer wrong' }]) {
    const socket = new WebSocket(wsUrl(), { headers });
    const status = await new Promise((resolve) => {
      socket.once('unexpected-response', (req, res) => resolve(res.statusCode));
      socket.once('open', () => resolve(101));
      socket.once('error', () => resolve(-1));
    });
    assert.equal(status, 401);
    socket.terminate();
  }
});

test('closing the socket cancels its running requests', { skip }, async () => {
  const before = (await metric('cove_requests_finished_total{reason="cancelled"}')) ?? 0;
  const c = await connect();
  c.send({ type: 'chat', id: 'x', messages, max_tokens: 100000, ignore_eos: true });
  c.send({ type: 'chat', id: 'y', messages, max_tokens: 100000, ignore_eos: true });
  await c.next((e) => e.type === 'token' && e.id === 'x');
  await c.next((e) => e.type === 'token' && e.id === 'y');
  c.socket.terminate();
  let active = -1;
  let cancelled = before;
  for (let i = 0; i < 100; i++) {
    active = await metric('cove_active_sequences');
    cancelled = (await metric('cove_requests_finished_total{reason="cancelled"}')) ?? 0;
    if (active === 0 && cancelled >= before + 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(active, 0);
  assert.equal(cancelled, before + 2);
});
