#!/bin/sh
# Installs the MCP servers the integration tests run (tests/mcp_integration_test.cpp), pinned by
# package-lock.json, when tests/mcp/node_modules is missing. Safe to run from several test
# processes at once: the first one installs, the others wait for it (flock).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
marker="$dir/node_modules/@modelcontextprotocol/server-everything/package.json"
[ -f "$marker" ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm is not installed" >&2; exit 1; }
exec 9<"$dir/package.json"
if command -v flock >/dev/null 2>&1; then flock 9; fi
[ -f "$marker" ] && exit 0
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error >&2
