// The Ollama API of `cove serve`, over raw HTTP as Ollama clients speak it: /api/chat and
// /api/generate (NDJSON streams and single objects), format "json", /api/tags, /api/show,
// /api/ps, /api/version, and Ollama's error bodies.
//
//   COVE_BINARY=build/cove node --test tests/integration/ollama.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, skip, modelId } from './cove_server.mjs';

let server;
const messages = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Once upon a time' }];
const greedy = { temperature: 0, num_predict: 8 };

before(async () => {
  if (!skip) server = await startServer(['--ctx', '256', '--parallel', '2']);
});
after(async () => { await stopServer(server); });

function post(route, body) {
  return fetch(`${server.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
}

// Every line of an NDJSON body, parsed.
async function ndjson(response) {
  const text = await response.text();
  assert.ok(text.endsWith('\n'), 'each object ends with a newline');
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

function checkFinal(last, { tokens }) {
  assert.equal(last.done, true);
  assert.ok(['stop', 'length'].includes(last.done_reason));
  for (const key of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration',
    'eval_count', 'eval_duration']) {
    assert.ok(Number.isInteger(last[key]) && last[key] >= 0, `${key}: ${last[key]}`);
  }
  assert.ok(last.prompt_eval_count > 0);
  assert.ok(last.total_duration >= last.eval_duration);
  if (last.done_reason === 'length') assert.equal(last.eval_count, tokens);
  assert.match(last.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
}

test('/api/chat streams NDJSON by default, equal to the non-streaming reply', { skip }, async () => {
  const r = await post('/api/chat', { model: modelId, messages, options: greedy });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/x-ndjson/);
  const lines = await ndjson(r);
  assert.ok(lines.length >= 2);
  const last = lines.at(-1);
  for (const l of lines.slice(0, -1)) {
    assert.equal(l.done, false);
    assert.equal(l.model, modelId);
    assert.equal(l.message.role, 'assistant');
    assert.equal(typeof l.message.content, 'string');
  }
  checkFinal(last, { tokens: 8 });
  assert.equal(last.message.content, '');
  const streamed = lines.map((l) => l.message.content).join('');

  const whole = await post('/api/chat', { model: `${modelId}:latest`, messages, options: greedy, stream: false });
  assert.equal(whole.status, 200);
  const body = await whole.json();
  assert.equal(body.model, `${modelId}:latest`);
  assert.equal(body.message.role, 'assistant');
  assert.equal(body.message.content, streamed);
  checkFinal(body, { tokens: 8 });
});

test('/api/generate: streaming and not, with context', { skip }, async () => {
  const r = await post('/api/generate', { model: modelId, prompt: 'Once upon a time', options: greedy });
  assert.equal(r.status, 200);
  const lines = await ndjson(r);
  const last = lines.at(-1);
  checkFinal(last, { tokens: 8 });
  assert.equal(last.response, '');
  const streamed = lines.map((l) => l.response).join('');

  const whole = await (await post('/api/generate', { model: modelId, prompt: 'Once upon a time',
    options: greedy, stream: false })).json();
  assert.equal(whole.response, streamed);
  checkFinal(whole, { tokens: 8 });
  assert.ok(Array.isArray(whole.context));
  assert.equal(whole.context.length, whole.prompt_eval_count + whole.eval_count);

  const raw = await (await post('/api/generate', { model: modelId, prompt: 'Once upon a time', raw: true,
    options: { temperature: 0, num_predict: 4 }, stream: false })).json();
  assert.ok(raw.prompt_eval_count < whole.prompt_eval_count, 'raw skips the chat template');

  const load = await (await post('/api/generate', { model: modelId })).json();
  assert.equal(load.done, true);
  assert.equal(load.done_reason, 'load');
});

test('format "json" and a JSON schema give output that parses', { skip }, async () => {
  // "json" allows any object; the story model never closes one on its own, so this checks the
  // grammar took hold (the text is an object from its first byte) and the schema cases parse.
  const r = await (await post('/api/chat', { model: modelId, messages, stream: false, format: 'json',
    options: { seed: 5, num_predict: 20 } })).json();
  assert.match(r.message.content, /^\{\s*("|\})/);

  const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 10 }, good: { type: 'boolean' } },
    required: ['name', 'good'] };
  const s = await (await post('/api/generate', { model: modelId, prompt: 'A hero', stream: false, format: schema,
    options: { seed: 9, num_predict: 300 } })).json();
  assert.equal(s.done_reason, 'stop');
  const value = JSON.parse(s.response);
  assert.deepEqual(Object.keys(value), ['name', 'good']);
  assert.equal(typeof value.good, 'boolean');
  assert.ok(value.name.length <= 10);

  const streamed = await ndjson(await post('/api/chat', { model: modelId, messages, format: schema,
    options: { seed: 3, num_predict: 300 } }));
  assert.equal(streamed.at(-1).done_reason, 'stop');
  const parsed = JSON.parse(streamed.map((l) => l.message.content).join(''));
  assert.equal(typeof parsed.good, 'boolean');
});

test('/api/tags, /api/show, /api/ps, /api/version', { skip }, async () => {
  const tags = await (await fetch(`${server.url}/api/tags`)).json();
  assert.equal(tags.models.length, 1);
  const m = tags.models[0];
  assert.equal(m.name, `${modelId}:latest`);
  assert.equal(m.model, `${modelId}:latest`);
  assert.match(m.digest, /^[0-9a-f]{64}$/);
  assert.ok(m.size > 0);
  assert.ok(!Number.isNaN(Date.parse(m.modified_at)));
  assert.equal(m.details.format, 'gguf');
  assert.equal(m.details.family, 'llama');
  assert.match(m.details.parameter_size, /^\d+(\.\d)?[KMB]$/);

  const show = await post('/api/show', { model: `${modelId}:latest` });
  assert.equal(show.status, 200);
  const s = await show.json();
  assert.equal(typeof s.modelfile, 'string');
  assert.equal(typeof s.template, 'string');
  assert.equal(s.details.family, 'llama');
  assert.equal(s.model_info['general.architecture'], 'llama');
  assert.ok(s.model_info['general.parameter_count'] > 0);
  assert.ok(s.capabilities.includes('completion'));

  const ps = await (await fetch(`${server.url}/api/ps`)).json();
  assert.equal(ps.models.length, 1);
  assert.equal(ps.models[0].name, `${modelId}:latest`);
  assert.equal(ps.models[0].context_length, 256);
  assert.equal(ps.models[0].digest, m.digest);

  const version = await (await fetch(`${server.url}/api/version`)).json();
  assert.match(version.version, /^\d+\.\d+\.\d+$/);
});

test('errors are {"error": "..."} with Ollama\'s statuses', { skip }, async () => {
  const cases = [
    [await post('/api/chat', { model: 'nope', messages }), 404, /not found/],
    [await post('/api/show', { model: 'nope' }), 404, /not found/],
    [await post('/api/chat', '{"model": '), 400, /parse/],
    [await post('/api/chat', { messages }), 400, /model is required/],
    [await post('/api/generate', { model: modelId, prompt: 'x', format: 'yaml' }), 400, /invalid format/],
    [await post('/api/chat', { model: modelId, messages, options: { temperature: 'hot' } }), 400, /temperature/],
  ];
  for (const [response, status, pattern] of cases) {
    assert.equal(response.status, status);
    const body = await response.json();
    assert.deepEqual(Object.keys(body), ['error']);
    assert.match(body.error, pattern);
  }
});
