#!/usr/bin/env bash
# Installs the integration suite's npm dependencies (the exact versions in package-lock.json)
# into tests/integration/node_modules, once. Offline-friendly: does nothing when they are there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ -f node_modules/openai/package.json && -f node_modules/ws/package.json ]]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
