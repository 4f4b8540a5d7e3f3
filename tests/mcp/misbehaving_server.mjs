// A deliberately badly behaved MCP stdio server for tests/mcp_stdio_test.cpp.
// Usage: node misbehaving_server.mjs <mode>
//   garbage    answers correctly, but writes non-JSON lines, a huge line and invalid messages
//              around every answer, and chatters on stderr
//   mute-call  completes the handshake and tools/list, never answers tools/call
//   silent     reads everything, answers nothing
import { createInterface } from "node:readline";

const mode = process.argv[2] ?? "garbage";
const out = (value) => process.stdout.write(typeof value === "string" ? value : JSON.stringify(value) + "\n");
const tools = [{ name: "echo", description: "echoes", inputSchema: { type: "object", properties: { message: { type: "string" } } } }];

createInterface({ input: process.stdin }).on("line", (line) => {
  let message;
  try { message = JSON.parse(line); } catch { return; }
  if (mode === "silent" || message.id === undefined) return;
  const reply = (result) => out({ jsonrpc: "2.0", id: message.id, result });
  if (mode === "garbage") {
    process.stderr.write(`got ${message.method}\n`);
    out("this is not json\n");
    out("{\"jsonrpc\":\"2.0\",\"id\":\n");
    out("x".repeat(200000) + "\n");
    out({ jsonrpc: "2.0", id: 987654, result: {} });
    out({ jsonrpc: "2.0", method: 12 });
    out("\n\r\n");
  }
  switch (message.method) {
    case "initialize":
      return reply({ protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "misbehaving", version: "1" } });
    case "tools/list":
      return reply({ tools });
    case "ping":
      return reply({});
    case "tools/call":
      if (mode === "mute-call") return;
      return reply({ content: [{ type: "text", text: `Echo: ${message.params?.arguments?.message}` }] });
    default:
      out({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } });
  }
});
