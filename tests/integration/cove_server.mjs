// Starts and stops the real `cove serve` for the integration suites (server, ollama, ws, load):
// port 0, the tiny stories260K model unless COVE_TEST_MODEL says otherwise.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
export const binary = path.resolve(process.env.COVE_BINARY ?? path.join(root, 'build', 'cove'));
export const modelPath = path.resolve(process.env.COVE_TEST_MODEL ??
  path.join(root, '..', 'shared', 'models', 'stories260K.gguf'));
export const modelId = path.basename(modelPath, '.gguf');

// A reason to skip (no binary or no model), or false.
export const skip = !existsSync(binary) ? `no binary at ${binary}` :
  !existsSync(modelPath) ? `no model at ${modelPath}` : false;

// Resolves once the server listens and /health says ok.
export async function startServer(extraArgs = []) {
  return spawnServer(['serve', '-m', modelPath, '--port', '0', '-t', '1', ...extraArgs]);
}

// `cove serve` with other arguments (e.g. --config FILE) and extra environment variables.
export async function spawnServer(args, env = {}) {
  const child = spawn(binary, args,
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 20000);
    child.stderr.on('data', (d) => {
      stderr += d.toString();
      const m = stderr.match(/cove: listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${stderr}`)); });
  });
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${url}/health`).catch(() => null);
    if (r && r.status === 200) break;
    await new Promise((r2) => setTimeout(r2, 50));
  }
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, url, exited, stderr: () => stderr };
}

export async function stopServer(server) {
  if (!server || server.child.exitCode !== null) return undefined;
  server.child.kill('SIGTERM');
  return server.exited;
}
