#!/usr/bin/env bash
# Installs cove's build dependencies on Debian 12 and builds a Release tree in build/.
#
# Idempotent: packages already installed are not touched (apt-get update runs only when
# something is missing), and an existing build/ is reconfigured and rebuilt incrementally.
# Installing needs root (or passwordless sudo); a machine that already has every package
# needs neither. Runs from any working directory.
#
# Environment:
#   COVE_JOBS   parallel build jobs (default: the number of CPUs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*"; }

# Only what the current build, tests, sanitizer and fuzz stages need. clang is the fuzz
# compiler; libclang-rt-14-dev holds its libFuzzer and sanitizer runtimes.
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libhwy-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev libfmt-dev
  libspdlog-dev
  libboost-dev libsqlite3-dev libyaml-cpp-dev libssl-dev
  clang libclang-rt-14-dev
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then missing+=("$pkg"); fi
done

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages already installed"
else
  log "missing packages: ${missing[*]}"
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      log "error: installing packages needs root; run: sudo bash scripts/setup.sh" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  "${SUDO[@]}" apt-get update -q
  log "apt-get install ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node.js and npm run the integration tests' real clients (the official `openai` package).
# Machines that already have a Node.js (e.g. from NodeSource) keep it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing nodejs and npm (Debian)"
  if [[ "$(id -u)" != 0 ]]; then SUDO=(sudo -n); else SUDO=(); fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends nodejs npm ||
    { log "error: could not install nodejs/npm" >&2; exit 1; }
fi

JOBS="${COVE_JOBS:-$(nproc)}"
BUILD_DIR="$ROOT/build"

# A build/ made by another generator cannot be reconfigured with Ninja: start that one afresh.
if [[ -f "$BUILD_DIR/CMakeCache.txt" ]] &&
  ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$BUILD_DIR/CMakeCache.txt"; then
  log "build/ was configured with another generator; clearing its CMake cache"
  rm -rf "$BUILD_DIR/CMakeCache.txt" "$BUILD_DIR/CMakeFiles"
fi

log "configuring build/ (Release, Ninja)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
log "building build/ with $JOBS jobs"
cmake --build build --parallel "$JOBS"
log "done: binaries in build/ (cove, cove_tests)"
