// A bounded load test of `cove serve`: many requests from many concurrent clients, a fifth of
// which disconnect in the middle of their stream. It passes when
//   - every request that was not deliberately cut off succeeded (status 200, a complete body),
//   - /metrics shows no active sequence and an empty queue once the clients are done,
//   - the server's resident memory over the last quarter of the requests is within 10% of the
//     first quarter's (no growth per request: leaks, per-request buffers kept forever).
//
//   COVE_BINARY=build/cove node --test tests/integration/load.test.mjs
// COVE_LOAD_REQUESTS (default 2000) and COVE_LOAD_CLIENTS (default 32) size it; the sanitizer
// build runs a smaller one with COVE_LOAD_RSS_CHECK=0, because AddressSanitizer's quarantine
// keeps freed memory resident on purpose. The summary line is what docs/PERFORMANCE.md quotes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { skip, startServer, stopServer, modelId } from './cove_server.mjs';

const REQUESTS = Number(process.env.COVE_LOAD_REQUESTS ?? 2000);
const CLIENTS = Number(process.env.COVE_LOAD_CLIENTS ?? 32);
const CHECK_RSS = process.env.COVE_LOAD_RSS_CHECK !== '0';
const CANCEL_EVERY = 5;  // request i with i % 5 == 4 disconnects after its first chunk

let server;
after(async () => { await stopServer(server); });

function residentKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) : NaN;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

// The kinds of request the clients send, in turn: streamed chat, plain chat, streamed completion.
function requestFor(i) {
  const prompts = ['Once upon a time', 'The little dog', 'Tom and Lily went to the park', 'One day'];
  const prompt = prompts[i % prompts.length];
  const common = { model: modelId, max_tokens: 8 + (i % 17), temperature: i % 3 ? 0.8 : 0, seed: i };
  switch (i % 3) {
    case 0: return ['/v1/chat/completions', { ...common, stream: true, messages: [{ role: 'user', content: prompt }] }];
    case 1: return ['/v1/chat/completions', { ...common, messages: [{ role: 'user', content: prompt }] }];
    default: return ['/v1/completions', { ...common, stream: true, prompt }];
  }
}

// One request; resolves to 'ok' or 'cancelled', throws on anything else.
async function runOne(url, i) {
  const [route, body] = requestFor(i);
  const cancel = i % CANCEL_EVERY === CANCEL_EVERY - 1;
  if (cancel) body.stream = true;  // a disconnect mid-stream needs a stream
  const controller = new AbortController();
  const response = await fetch(url + route, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body), signal: controller.signal,
  });
  if (response.status !== 200) {
    throw new Error(`request ${i}: status ${response.status}: ${await response.text()}`);
  }
  if (!body.stream) {
    const json = await response.json();
    if (!json.choices?.[0]?.message || typeof json.choices[0].message.content !== 'string') {
      throw new Error(`request ${i}: no message in ${JSON.stringify(json).slice(0, 200)}`);
    }
    return 'ok';
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (cancel && text.includes('data: ')) {
      controller.abort();
      await reader.cancel().catch(() => {});
      return 'cancelled';
    }
  }
  if (!text.includes('data: [DONE]')) {
    throw new Error(`request ${i}: stream ended without [DONE]: ${text.slice(-200)}`);
  }
  return 'ok';
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

test(`load: ${REQUESTS} requests from ${CLIENTS} clients, 1 in ${CANCEL_EVERY} disconnecting`,
  { skip, timeout: 600000 }, async () => {
    server = await startServer(['--parallel', '8', '--max-queue', '64']);
    const pid = server.child.pid;
    const started = Date.now();
    const samples = [];  // [requests finished, RSS KiB]
    const failures = [];
    let next = 0, finished = 0, ok = 0, cancelled = 0;

    async function client() {
      for (;;) {
        const i = next++;
        if (i >= REQUESTS) return;
        try {
          if ((await runOne(server.url, i)) === 'ok') ok++; else cancelled++;
        } catch (e) {
          failures.push(e.message ?? String(e));
        }
        finished++;
        if (finished % 10 === 0) samples.push([finished, residentKiB(pid)]);
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const seconds = (Date.now() - started) / 1000;

    // The server notices a disconnect on its next write; give the last ones a moment.
    let active = NaN, queued = NaN;
    for (let k = 0; k < 100; k++) {
      active = await metric(server.url, 'cove_active_sequences');
      queued = await metric(server.url, 'cove_queue_depth');
      if (active === 0 && queued === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const quarter = REQUESTS / 4;
    const first = median(samples.filter(([n]) => n <= quarter).map(([, kib]) => kib));
    const last = median(samples.filter(([n]) => n > 3 * quarter).map(([, kib]) => kib));
    console.log(`load summary: ${REQUESTS} requests, ${CLIENTS} clients, ${seconds.toFixed(1)} s ` +
      `(${(REQUESTS / seconds).toFixed(1)} req/s): ${ok} ok, ${cancelled} cancelled by the client, ` +
      `${failures.length} failed; RSS median first quarter ${(first / 1024).toFixed(1)} MiB, ` +
      `last quarter ${(last / 1024).toFixed(1)} MiB (${(((last - first) / first) * 100).toFixed(1)}%); ` +
      `after: ${active} active, ${queued} queued`);

    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed requests`);
    assert.equal(ok + cancelled, REQUESTS);
    assert.equal(cancelled, Math.floor(REQUESTS / CANCEL_EVERY), 'requests cut off mid-stream');
    assert.equal(active, 0, 'active sequences after the load');
    assert.equal(queued, 0, 'queued requests after the load');
    if (CHECK_RSS) {
      assert.ok(Math.abs(last - first) <= 0.10 * first,
        `resident memory moved from ${first} KiB to ${last} KiB`);
    } else {
      console.log('resident memory not checked (COVE_LOAD_RSS_CHECK=0: a sanitizer build)');
    }
  });
