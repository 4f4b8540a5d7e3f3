// A minimal MCP server of the stateless 2026-07-28 revision over Streamable HTTP, written from
// the specification's transport page, for tests/mcp_integration_test.cpp. It answers with
// application/json (server-everything answers with SSE streams, so both reply forms get
// exercised) and checks what a modern client must send: _meta on every request and the
// MCP-Protocol-Version / Mcp-Method / Mcp-Name / Mcp-Param-* headers matching the body.
// Usage: PORT=1234 node stateless_server.mjs
import { createServer } from "node:http";

const VERSION = "2026-07-28";
const tools = [{
  name: "greet",
  description: "Greets someone in a region",
  inputSchema: {
    type: "object",
    properties: {
      name: { type: "string" },
      region: { type: "string", "x-mcp-header": "Region" },
    },
    required: ["name"],
  },
}];

const decode = (value) => {
  const m = /^=\?base64\?(.*)\?=$/.exec(value ?? "");
  return m ? Buffer.from(m[1], "base64").toString("utf8") : value;
};

const send = (res, status, body) => {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
};

createServer((req, res) => {
  if (req.method !== "POST") return send(res, 405, { jsonrpc: "2.0", error: { code: -32600, message: "POST only" } });
  let raw = "";
  req.on("data", (chunk) => (raw += chunk));
  req.on("end", () => {
    let msg;
    try { msg = JSON.parse(raw); } catch { return send(res, 400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" } }); }
    const id = msg.id ?? null;
    const fail = (status, code, message, data) => send(res, status, { jsonrpc: "2.0", id, error: { code, message, data } });
    const meta = msg.params?._meta ?? {};
    const version = meta["io.modelcontextprotocol/protocolVersion"];
    if (version === undefined || meta["io.modelcontextprotocol/clientCapabilities"] === undefined) {
      return fail(400, -32602, "missing required _meta fields (this server speaks only " + VERSION + ")");
    }
    if (version !== VERSION) return fail(400, -32022, "Unsupported protocol version", { supported: [VERSION], requested: version });
    if (req.headers["mcp-protocol-version"] !== version) return fail(400, -32020, "Header mismatch: MCP-Protocol-Version");
    if (req.headers["mcp-method"] !== msg.method) return fail(400, -32020, "Header mismatch: Mcp-Method");
    if (msg.method === "tools/call" && decode(req.headers["mcp-name"]) !== msg.params.name) {
      return fail(400, -32020, "Header mismatch: Mcp-Name");
    }
    const result = (r) => send(res, 200, { jsonrpc: "2.0", id, result: { resultType: "complete", ...r } });
    switch (msg.method) {
      case "server/discover":
        return result({ supportedVersions: [VERSION], capabilities: { tools: {} }, serverInfo: { name: "stateless-test", version: "1" } });
      case "tools/list":
        return result({ tools });
      case "tools/call": {
        const args = msg.params.arguments ?? {};
        const header = decode(req.headers["mcp-param-region"]);
        if ((args.region ?? undefined) !== header) return fail(400, -32020, "Header mismatch: Mcp-Param-Region");
        if (msg.params.name !== "greet") return fail(200, -32602, "Unknown tool: " + msg.params.name);
        return result({ content: [{ type: "text", text: `Hello, ${args.name} in ${args.region ?? "nowhere"}` }] });
      }
      default:
        return fail(404, -32601, "Method not found: " + msg.method);
    }
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
