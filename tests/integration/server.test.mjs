// Integration suite for `cove serve`: starts the real binary on port 0 with a tiny model and
// drives it with the official `openai` npm client and with raw fetch.
//
//   COVE_BINARY=build/cove node --test tests/integration/server.test.mjs
// COVE_TEST_MODEL overrides the model (default ../shared/models/stories260K.gguf).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';
import { binary, modelPath, modelId, skip, startServer, stopServer } from './cove_server.mjs';

const stop = stopServer;

function postJson(url, body, headers = {}) {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function expectError(response, status) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.equal(typeof body.error.message, 'string');
  for (const key of ['type', 'param', 'code']) assert.ok(key in body.error, `error.${key}`);
  return body.error;
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

let main;       // --ctx 256
let client;
const hello = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Once upon a time' }];

before(async () => {
  if (skip) return;
  main = await startServer(['--ctx', '256', '--parallel', '4']);
  client = new OpenAI({ baseURL: `${main.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  if (main && main.child.exitCode === null) await stop(main);
});

test('chat completion, non-streaming', { skip }, async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 8, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, modelId);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat completion, streaming, equals the non-streaming greedy text', { skip }, async () => {
  const args = { model: modelId, messages: hello, max_tokens: 12, temperature: 0, ignore_eos: true };
  const whole = await client.chat.completions.create(args);
  const stream = await client.chat.completions.create({ ...args, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 12);
});

test('raw SSE stream ends with data: [DONE]', { skip }, async () => {
  const r = await postJson(`${main.url}/v1/chat/completions`, { messages: hello, max_tokens: 3, stream: true });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const body = await r.text();
  assert.ok(body.trimEnd().endsWith('data: [DONE]'), body.slice(-200));
});

test('logprobs with top_logprobs', { skip }, async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 6,
    temperature: 0, logprobs: true, top_logprobs: 3, ignore_eos: true });
  const entries = r.choices[0].logprobs.content;
  assert.equal(entries.length, 6);
  for (const e of entries) {
    assert.ok(e.logprob <= 0);
    assert.equal(e.top_logprobs.length, 3);
    for (let i = 1; i < 3; i++) assert.ok(e.top_logprobs[i - 1].logprob >= e.top_logprobs[i].logprob);
    // Greedy: the chosen token is the most likely one.
    assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-6);
  }
  assert.equal(entries.map((e) => e.token).join(''), r.choices[0].message.content);
});

test('json_schema output parses and validates', { skip }, async () => {
  const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 },
    age: { type: 'integer' }, pets: { type: 'array', items: { enum: ['cat', 'dog'] }, maxItems: 3 } },
  required: ['name', 'age', 'pets'] };
  const r = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 200, seed: 7,
    response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const value = JSON.parse(r.choices[0].message.content);
  assert.deepEqual(Object.keys(value), ['name', 'age', 'pets']);
  assert.equal(typeof value.name, 'string');
  assert.ok(value.name.length <= 12);
  assert.ok(Number.isInteger(value.age));
  assert.ok(Array.isArray(value.pets) && value.pets.length <= 3);
  for (const p of value.pets) assert.ok(['cat', 'dog'].includes(p));
});

test('tool call forced by tool_choice', { skip }, async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 16 },
      unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'] } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }];
  const r = await client.chat.completions.create({ model: modelId, max_tokens: 200, seed: 3, tools,
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  const choice = r.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  const args = JSON.parse(call.function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.ok(['c', 'f'].includes(args.unit));

  // Streamed, and with tool_choice "required": the call arrives as a tool_calls delta.
  const stream = await client.chat.completions.create({ model: modelId, max_tokens: 200, seed: 3, tools,
    messages: [{ role: 'user', content: 'Time?' }], tool_choice: 'required', stream: true });
  let name = '';
  let argText = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const t of c.delta.tool_calls ?? []) { name += t.function?.name ?? ''; argText += t.function?.arguments ?? ''; }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.ok(['get_weather', 'get_time'].includes(name));
  assert.equal(typeof JSON.parse(argText), 'object');
});

test('a follow-up turn with the tool result renders', { skip }, async () => {
  const r = await client.chat.completions.create({ model: modelId, max_tokens: 4, messages: [
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 3}' }] });
  assert.equal(typeof r.choices[0].message.content, 'string');
});

test('completions and models', { skip }, async () => {
  const r = await client.completions.create({ model: modelId, prompt: 'Once upon a time', max_tokens: 5,
    temperature: 0, logprobs: 2 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].logprobs.tokens.length, r.usage.completion_tokens);
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [modelId]);
});

test('cancellation by disconnect leaves 0 active sequences', { skip }, async () => {
  const before = (await metric(main.url, 'cove_requests_finished_total{reason="cancelled"}')) ?? 0;
  const controller = new AbortController();
  const stream = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 100000,
    ignore_eos: true, stream: true }, { signal: controller.signal });
  let chunks = 0;
  try {
    for await (const chunk of stream) {
      if (++chunks === 3) controller.abort();
    }
  } catch (err) {
    // The client reports the abort as an error or just ends the iteration; both are fine.
  }
  assert.ok(chunks >= 3);
  let active = -1;
  let cancelled = before;
  for (let i = 0; i < 100; i++) {
    active = await metric(main.url, 'cove_active_sequences');
    cancelled = (await metric(main.url, 'cove_requests_finished_total{reason="cancelled"}')) ?? 0;
    if (active === 0 && cancelled > before) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(active, 0);
  assert.equal(cancelled, before + 1);
});

test('errors: malformed JSON, unknown model, prompt too long, body too large', { skip }, async () => {
  const url = `${main.url}/v1/chat/completions`;
  let e = await expectError(await postJson(url, '{"messages": [}'), 400);
  assert.equal(e.type, 'invalid_request_error');
  e = await expectError(await postJson(url, { model: 'gpt-nope', messages: hello }), 404);
  assert.equal(e.code, 'model_not_found');
  e = await expectError(await postJson(url, { messages: [{ role: 'user', content: 'tell a story '.repeat(400) }] }), 400);
  assert.equal(e.code, 'context_length_exceeded');
  assert.match(e.message, /256 tokens/);
  assert.match(e.message, /prompt has \d+ tokens/);
  const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(11 * 1024 * 1024) }] });
  await expectError(await postJson(url, big), 413);
  e = await expectError(await postJson(url, { messages: hello, temperature: 9 }), 400);
  assert.equal(e.param, 'temperature');
});

test('errors: 401 without or with a wrong API key', { skip }, async () => {
  const keyed = await startServer(['--api-key', 'sekrit']);
  try {
    await expectError(await fetch(`${keyed.url}/v1/models`), 401);
    await expectError(await fetch(`${keyed.url}/v1/models`, { headers: { authorization: 'Bearer nope' } }), 401);
    const ok = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sekrit', maxRetries: 0 });
    assert.equal((await ok.models.list()).data[0].id, modelId);
    const bad = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (err) => err.status === 401);
  } finally {
    await stop(keyed);
  }
});

test('errors: 429 with Retry-After when the queue is full', { skip }, async () => {
  const busy = await startServer(['--parallel', '1', '--max-queue', '0']);
  const controller = new AbortController();
  try {
    const running = await fetch(`${busy.url}/v1/chat/completions`, { method: 'POST', signal: controller.signal,
      body: JSON.stringify({ messages: hello, max_tokens: 100000, ignore_eos: true, stream: true }) });
    const reader = running.body.getReader();
    await reader.read();  // it is generating
    const r = await postJson(`${busy.url}/v1/chat/completions`, { messages: hello, max_tokens: 2 });
    const e = await expectError(r, 429);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(e.code, 'queue_full');
    controller.abort();
  } finally {
    const { code } = await stop(busy);
    assert.equal(code, 0);
  }
});

test('health and metrics', { skip }, async () => {
  const health = await fetch(`${main.url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const text = await (await fetch(`${main.url}/metrics`)).text();
  for (const name of ['cove_http_requests_total{route="chat_completions",status="200"}',
    'cove_prompt_tokens_total', 'cove_generated_tokens_total', 'cove_time_to_first_token_seconds_bucket',
    'cove_inter_token_latency_seconds_bucket', 'cove_queue_depth', 'cove_active_sequences',
    'cove_kv_cache_usage_ratio', 'cove_generation_tokens_per_second']) {
    assert.ok(text.includes(name), name);
  }
  assert.ok((await metric(main.url, 'cove_generated_tokens_total')) > 0);
});

test('a non-loopback address without --api-key is refused', { skip }, async () => {
  const child = spawn(binary, ['serve', '-m', modelPath, '--host', '0.0.0.0', '--port', '0'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d.toString(); });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(stderr, /--api-key/);
});

test('SIGTERM with a stream in flight: the stream ends cleanly and the server exits 0', { skip }, async () => {
  const server = await startServer(['--drain-s', '0.5']);
  const r = await postJson(`${server.url}/v1/chat/completions`, { messages: hello, max_tokens: 100000,
    ignore_eos: true, stream: true });
  const reader = r.body.getReader();
  await reader.read();
  server.child.kill('SIGTERM');
  let body = '';
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    body += decoder.decode(value);
  }
  assert.ok(body.trimEnd().endsWith('data: [DONE]'), body.slice(-300));
  const { code } = await server.exited;
  assert.equal(code, 0);
});
