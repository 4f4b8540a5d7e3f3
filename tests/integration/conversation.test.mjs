// Stored conversations through the real `cove serve --config` (docs/ASSISTANT.md, "HTTP API"),
// driven by the official openai client and raw fetch:
//   - the tool loop: a model configured with `tool_calls: forced` calls the current_time tool
//     under a grammar, gets its result and answers; the conversation as stored shows the user
//     message, the call, the tool result and the final answer;
//   - durability: SIGKILL in the middle of a streamed reply, restart on the same store, and the
//     acknowledged user message is there and the conversation goes on.
//
//   COVE_BINARY=build/cove node --test tests/integration/conversation.test.mjs
// Two models from ../shared/models, so the multi-model path is exercised too:
//   clock: llama-2-tiny-random with `tool_calls: forced`; greedy, it writes a short call of the
//          only tool, current_time, under the grammar;
//   story: tiny-llama-Q8_0 (random weights over the stories vocabulary): long replies, rarely
//          cut by EOS, for the kill in mid-stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { binary, spawnServer, stopServer } from './cove_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const models = path.join(here, '..', '..', '..', 'shared', 'models');
const clockModel = path.join(models, 'llama-2-tiny-random.gguf');
const storyModel = path.join(models, 'tiny-llama-Q8_0.gguf');
const skip = !existsSync(binary) ? `no binary at ${binary}` :
  !existsSync(clockModel) ? `no model at ${clockModel}` :
  !existsSync(storyModel) ? `no model at ${storyModel}` : false;

let home;        // COVE_HOME: config.yaml and cove.db
let configPath;

function start() {
  return spawnServer(['serve', '--config', configPath, '--port', '0', '-t', '1', '--parallel', '2'],
    { COVE_HOME: home });
}

function clientFor(server) {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}

async function getConversation(server, id) {
  const r = await fetch(`${server.url}/v1/conversations/${id}`);
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

before(() => {
  if (skip) return;
  home = mkdtempSync(path.join(os.tmpdir(), 'cove-conversation-'));
  configPath = path.join(home, 'config.yaml');
  // The clock is the only tool, so a forced call is a call of current_time.
  writeFileSync(configPath, [
    'models:',
    '  story:',
    `    path: ${JSON.stringify(storyModel)}`,
    '    context: 1024',
    '  clock:',
    `    path: ${JSON.stringify(clockModel)}`,
    '    context: 512',
    '    tool_calls: forced',
    'tools:',
    '  max_steps: 2',
    '  calculator: { enabled: false }',
    '  memory: { enabled: false }',
    'storage:',
    '  database: cove.db',
    '',
  ].join('\n'));
});

after(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

test('a forced tool call runs current_time and the whole turn is stored', { skip }, async () => {
  const server = await start();
  try {
    const client = clientFor(server);
    const r = await client.chat.completions.create({
      model: 'clock',
      messages: [{ role: 'user', content: 'What time is it?' }],
      max_tokens: 128,  // per step: room for the forced call's JSON
      temperature: 0,
      conversation_id: 'new',
    });
    const id = r.conversation_id;
    assert.equal(typeof id, 'string');
    assert.ok(id.length > 0);
    assert.equal(r.model, 'clock');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.equal(r.cove_tool_calls.length, 1, JSON.stringify(r.cove_tool_calls));
    assert.equal(r.cove_tool_calls[0].name, 'current_time');

    const c = await getConversation(server, id);
    const roles = c.messages.map((m) => m.role);
    assert.deepEqual(roles, ['user', 'assistant', 'tool', 'assistant'], JSON.stringify(c.messages));
    const [user, call, result, answer] = c.messages;
    assert.equal(user.content, 'What time is it?');
    assert.equal(call.tool_calls.length, 1);
    assert.equal(call.tool_calls[0].function.name, 'current_time');
    assert.equal(call.model, 'clock');
    assert.equal(result.name, 'current_time');
    assert.equal(result.tool_call_id, call.tool_calls[0].id);
    if (r.cove_tool_calls[0].is_error) {
      assert.equal(result.content, `error: ${r.cove_tool_calls[0].result}`);
    } else {
      assert.equal(result.content, r.cove_tool_calls[0].result);
      assert.match(result.content, /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);  // the clock's answer
    }
    assert.equal(answer.tool_calls, null);
    assert.equal(answer.content, r.choices[0].message.content);
    assert.equal(answer.model, 'clock');

    // The listing shows it, and a stateless request (no conversation_id) still works.
    const list = await (await fetch(`${server.url}/v1/conversations`)).json();
    assert.ok(list.data.some((x) => x.id === id && x.message_count === 4));
    const stateless = await client.chat.completions.create({
      model: 'story', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4,
    });
    assert.equal(stateless.conversation_id, undefined);
    assert.equal(stateless.model, 'story');
    const served = (await client.models.list()).data.map((m) => m.id);
    assert.deepEqual(served, ['story', 'clock']);
  } finally {
    await stopServer(server);
  }
});

test('SIGKILL mid-stream loses no acknowledged message; the conversation goes on', { skip }, async () => {
  const first = await start();
  let id;
  let sawFinish = false;
  let contentChunks = 0;
  try {
    const stream = await clientFor(first).chat.completions.create({
      model: 'story',
      messages: [{ role: 'user', content: 'Tell me a very long story.' }],
      max_tokens: 900,
      tool_choice: 'none',
      stream: true,
      conversation_id: 'new',
    });
    for await (const chunk of stream) {
      id ??= chunk.conversation_id;
      if (chunk.choices[0]?.finish_reason) sawFinish = true;
      if (chunk.choices[0]?.delta?.content) contentChunks += 1;
      // The first chunk acknowledged the user message; kill once the reply is under way.
      if (contentChunks >= 2) {
        first.child.kill('SIGKILL');
        break;
      }
    }
  } catch {
    // The connection dies with the server.
  }
  const exit = await first.exited;
  assert.equal(exit.signal, 'SIGKILL', 'the server was killed, not finished');
  assert.equal(sawFinish, false, 'the reply was still streaming when the server died');
  assert.equal(typeof id, 'string');

  const second = await start();
  try {
    const before = await getConversation(second, id);
    assert.ok(before.messages.length >= 1);
    assert.equal(before.messages[0].role, 'user');
    assert.equal(before.messages[0].content, 'Tell me a very long story.');

    const client = clientFor(second);
    const r = await client.chat.completions.create({
      model: 'story',
      messages: [{ role: 'user', content: 'Shorter, please.' }],
      max_tokens: 8,
      tool_choice: 'none',
      conversation_id: id,
    });
    assert.equal(r.conversation_id, id);
    const after = await getConversation(second, id);
    const tail = after.messages.slice(-2);
    assert.deepEqual(tail.map((m) => m.role), ['user', 'assistant']);
    assert.equal(tail[0].content, 'Shorter, please.');
    assert.equal(tail[1].content, r.choices[0].message.content);
    assert.equal(after.messages.length, before.messages.length + 2);
    // Sequence numbers still run 1, 2, ... without gaps: the store took the crash cleanly.
    assert.deepEqual(after.messages.map((m) => m.seq), after.messages.map((_, i) => i + 1));
  } finally {
    await stopServer(second);
  }
});

test('an unknown conversation is a 404 in the OpenAI error shape', { skip }, async () => {
  const server = await start();
  try {
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], conversation_id: 'nope' }),
    });
    assert.equal(r.status, 404);
    const body = await r.json();
    assert.equal(body.error.code, 'conversation_not_found');
    const del = await fetch(`${server.url}/v1/conversations/nope`, { method: 'DELETE' });
    assert.equal(del.status, 404);
  } finally {
    await stopServer(server);
  }
});

test('cove chat --resume continues a conversation the HTTP API started, in the same store', { skip }, async () => {
  const server = await start();
  try {
    const client = clientFor(server);
    const r = await client.chat.completions.create({
      model: 'story', messages: [{ role: 'user', content: 'Hello over HTTP' }], max_tokens: 4,
      tool_choice: 'none', conversation_id: 'new',
    });
    const id = r.conversation_id;
    // The terminal chat writes to the store while the server is running.
    const chat = spawn(binary, ['chat', '--config', configPath, '--resume', id, '--model', 'story',
      '--max-tokens', '4', '-t', '1'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COVE_HOME: home } });
    let output = '';
    chat.stdout.on('data', (d) => { output += d; });
    chat.stderr.on('data', (d) => { output += d; });
    chat.stdin.end('Hello from the terminal\n');
    const code = await new Promise((resolve) => chat.on('exit', resolve));
    assert.equal(code, 0, output);
    const c = await getConversation(server, id);
    assert.deepEqual(c.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
    assert.equal(c.messages[0].content, 'Hello over HTTP');
    assert.equal(c.messages[2].content, 'Hello from the terminal');
  } finally {
    await stopServer(server);
  }
});

test('a config with problems is reported line by line and nothing starts', { skip }, async () => {
  const bad = path.join(home, 'bad.yaml');
  writeFileSync(bad, 'models:\n  a:\n    path: missing.gguf\nserver:\n  port: 99999\n');
  const child = spawn(binary, ['serve', '--config', bad], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(stderr, /bad\.yaml:3: models\.a\.path: file not found/);
  assert.match(stderr, /bad\.yaml:5: server\.port: must be between 1 and 65535/);
  assert.doesNotMatch(stderr, /listening/);
});
