#!/usr/bin/env bash
# The project's one test command. CI runs it through .ci/run; developers run it directly.
#
#   scripts/test.sh           setup + build, unit tests, sanitizer tests, fuzzing
#   scripts/test.sh --quick   setup + build and the unit tests only
#
# Stages:
#   setup   scripts/setup.sh: install missing packages, build Release into build/
#   tests   ctest over build/
#   asan    build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer build of cove_tests, ctest
#   fuzz    build-asan/: every fuzz/*_fuzz.cpp as a libFuzzer binary, each run for a while from a
#           seed corpus made in a temp folder out of the shared test files
#
# Environment:
#   COVE_JOBS          parallel build jobs (default 2: the test machines are small and shared)
#   COVE_ASAN_EXCLUDE  ctest -E regex of tests to skip under the sanitizers (default: the
#                      slowest pure-compute checks, which the tests stage already ran: the
#                      quantizer fidelity sweep, F16/BF16 golden models, greedy CLI goldens,
#                      the CLI's reference-kernel golden sweep, the file-layout half of the
#                      every-target fidelity sweep, and the CLI pass over every vocab test
#                      vector; the library-level golden, vocab and per-target kernel tests
#                      that run the same code stay sanitized; set it to "" to run everything)
#   COVE_FUZZ_SECONDS  seconds per fuzz target (default 30)
#
# Exits non-zero on any failure. The last line of output is always "N passed, N failed": the
# ctest counts of the tests and asan stages added together, plus one failure for each stage that
# failed without a failing test to show for it (a build error, a fuzz finding), so the line says
# "0 failed" exactly when the script succeeds.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h | --help)
      sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "test.sh: unknown option '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

JOBS="${COVE_JOBS:-2}"
FUZZ_SECONDS="${COVE_FUZZ_SECONDS:-30}"
ASAN_EXCLUDE="${COVE_ASAN_EXCLUDE-QuantizerFidelity|/tiny_(llama|qwen2)_B?F16 |CliGolden\.(RunGreedy|ScoreReferenceKernels)|Cli\.TokenizeIdsMatchesEveryVocabTestVector|EngineEveryTarget.*_file_layout}"
SHARED="$ROOT/../shared"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cove-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

TOTAL_PASSED=0
TOTAL_FAILED=0
STAGE_LINES=()
STAGE_START=0
STAGE_NAME=""

stage_begin() {
  STAGE_NAME="$1"
  STAGE_START=$SECONDS
  printf '\n==================== %s: %s ====================\n' "$1" "$2"
}

# stage_end ok|FAILED|skipped [note]
stage_end() {
  local result="$1" note="${2:-}" took=$((SECONDS - STAGE_START))
  local line
  line="$(printf '%-6s %-8s %5ds' "$STAGE_NAME" "$result" "$took")${note:+  $note}"
  STAGE_LINES+=("$line")
  printf -- '---- %s: %s in %ds%s\n' "$STAGE_NAME" "$result" "$took" "${note:+ ($note)}"
}

# Runs ctest with the given arguments, adds its counts to the totals and ends the stage.
# A run that fails without a "N tests failed" count (no tests found, a crash in ctest itself)
# counts as one failure.
run_ctest() {
  local log="$TMP/ctest-$STAGE_NAME.log" rc summary passed_pct failed total
  ctest "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)"
  if [[ -z "$summary" ]]; then
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    stage_end FAILED "ctest printed no summary (exit $rc)"
    return 1
  fi
  read -r passed_pct failed total < <(sed -E \
    's/^([0-9]+)% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2 \3/' <<<"$summary")
  : "$passed_pct"
  TOTAL_PASSED=$((TOTAL_PASSED + total - failed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
  if ((rc != 0 || failed != 0)); then
    ((failed == 0)) && TOTAL_FAILED=$((TOTAL_FAILED + 1))
    stage_end FAILED "$((total - failed)) passed, $failed failed, ctest exit $rc"
    return 1
  fi
  stage_end ok "$total passed"
}

finish() {
  printf '\n==================== summary ====================\n'
  local line
  for line in "${STAGE_LINES[@]}"; do printf '%s\n' "$line"; done
  printf 'total %ds\n' "$SECONDS"
  printf '%d passed, %d failed\n' "$TOTAL_PASSED" "$TOTAL_FAILED"
  ((TOTAL_FAILED == 0)) && exit 0
  exit 1
}

echo "cove tests in $ROOT ($(nproc) CPUs, $JOBS build jobs$( ((QUICK)) && echo ', quick'))"

# ---------------------------------------------------------------------------------------------
stage_begin setup "install packages, build Release into build/"
if COVE_JOBS="$JOBS" bash scripts/setup.sh; then
  stage_end ok
else
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  stage_end FAILED "setup or build failed; later stages skipped"
  finish
fi

# ---------------------------------------------------------------------------------------------
stage_begin tests "ctest over build/"
run_ctest --test-dir build --output-on-failure -j2

if ((QUICK)); then finish; fi

# ---------------------------------------------------------------------------------------------
stage_begin asan "AddressSanitizer + UBSan build of cove_tests in build-asan/"
if command -v clang++ >/dev/null; then ASAN_CXX=clang++; else ASAN_CXX=g++; fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# With clang the same build also holds the fuzz targets (COVE_FUZZ adds coverage
# instrumentation to the library), so the library is compiled with sanitizers once.
asan_fuzz=OFF
[[ "$ASAN_CXX" == clang++ ]] && asan_fuzz=ON
if cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER="$ASAN_CXX" -DCOVE_SANITIZE=ON \
  -DCOVE_FUZZ="$asan_fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
  cmake --build build-asan --target cove_tests --parallel "$JOBS"; then
  asan_args=(--test-dir build-asan --output-on-failure -j2)
  if [[ -n "$ASAN_EXCLUDE" ]]; then
    echo "excluding tests matching: $ASAN_EXCLUDE"
    asan_args+=(-E "$ASAN_EXCLUDE")
  fi
  run_ctest "${asan_args[@]}"
else
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  stage_end FAILED "sanitizer build failed"
fi

# ---------------------------------------------------------------------------------------------
stage_begin fuzz "libFuzzer targets in build-asan/, ${FUZZ_SECONDS}s each"

# Seeds each target's corpus folder ($2) from the shared test files. The shared files are
# copied at run time and never committed.
seed_corpus() {
  local target="$1" dir="$2" f
  if [[ ! -d "$SHARED" ]]; then
    echo "note: $SHARED not found; $target starts from an empty corpus"
    return
  fi
  case "$target" in
    gguf_fuzz)
      # The first 64 KB of a model and two vocab files: real headers, cut short.
      for f in models/stories260K.gguf models/tiny-qwen2-Q4_K_M.gguf \
        vocab/ggml-vocab-llama-spm.gguf vocab/ggml-vocab-gpt-2.gguf; do
        [[ -f "$SHARED/$f" ]] && head -c 65536 "$SHARED/$f" >"$dir/$(basename "$f").head"
      done
      ;;
    grammar_fuzz)
      # A few small GBNF grammars and a JSON schema.
      printf 'root ::= "yes" | "no"\n' >"$dir/yes-no.gbnf"
      printf 'root ::= item ("," item)*\nitem ::= [a-z]+ | "(" root ")"\n' >"$dir/list.gbnf"
      printf '{"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}' \
        >"$dir/schema.json"
      ;;
    tool_calls_fuzz)
      # Model replies in each tool-call format, expressions, and a tools array.
      printf '<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>' >"$dir/hermes.txt"
      printf '[TOOL_CALLS][{"name": "f", "arguments": {}}]' >"$dir/mistral.txt"
      printf '[TOOL_CALLS]f[CALL_ID]abc123def[ARGS]{"x": [1]}' >"$dir/mistral-v11.txt"
      printf '<|python_tag|>{"name": "f", "parameters": {"q": "s"}}' >"$dir/llama.txt"
      printf 'max(2, 3) ^ -(1.5e2 %% 7) / sqrt(pi)' >"$dir/expression.txt"
      printf '[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}]' \
        >"$dir/tools.json"
      ;;
    http_fuzz)
      # OpenAI request bodies: plain chat, streaming with logprobs, json_schema, forced tools.
      printf '{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":8,"temperature":0.5,"stop":["\\n"]}' >"$dir/chat.json"
      printf '{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"stream":true,"stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":2}' >"$dir/stream.json"
      printf '{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"array","items":{"type":"string"}}},"required":["a"]}}}}' >"$dir/schema.json"
      printf '{"messages":[{"role":"user","content":"w"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\\"x\\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"3"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}}],"tool_choice":"required"}' >"$dir/tools.json"
      printf '{"prompt":"Once upon","max_tokens":4,"logprobs":1}' >"$dir/completion.json"
      ;;
    *)
      # Text targets (the tokenizer): the vocab test inputs.
      for f in "$SHARED"/vocab/*.inp; do
        [[ -f "$f" ]] && cp "$f" "$dir/"
      done
      ;;
  esac
}

# The tokenizer target finds the vocab files by its source path; name them outright as well.
export COVE_VOCAB_DIR="${COVE_VOCAB_DIR:-$SHARED/vocab}"
fuzz_sources=(fuzz/*_fuzz.cpp)
if [[ ! -e "${fuzz_sources[0]}" ]]; then
  stage_end skipped "no fuzz/*_fuzz.cpp"
elif ! command -v clang++ >/dev/null; then
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  stage_end FAILED "clang++ not found (scripts/setup.sh installs it)"
elif [[ ! -f build-asan/CMakeCache.txt ]]; then
  TOTAL_FAILED=$((TOTAL_FAILED + 1))
  stage_end FAILED "build-asan/ was not configured (asan stage failed)"
else
  fuzz_failures=()
  for src in "${fuzz_sources[@]}"; do
    target="$(basename "$src" .cpp)"
    echo "-- $target: building"
    if ! cmake --build build-asan --target "$target" --parallel "$JOBS"; then
      fuzz_failures+=("$target (build)")
      continue
    fi
    corpus="$TMP/$target/corpus"
    artifacts="$TMP/$target/artifacts"
    mkdir -p "$corpus" "$artifacts"
    seed_corpus "$target" "$corpus"
    fuzz_args=(-max_total_time="$FUZZ_SECONDS" -timeout=30 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$artifacts/")
    case "$target" in
      gguf_fuzz) fuzz_args+=(-max_len=65536) ;;     # room for real headers
      tokenizer_fuzz) fuzz_args+=(-max_len=512) ;;  # each input runs through six vocabs
    esac
    echo "-- $target: fuzzing for ${FUZZ_SECONDS}s from $(find "$corpus" -type f | wc -l) seeds"
    log="$TMP/$target/fuzz.log"
    # Run from the temp folder so nothing the fuzzer writes lands in the checkout.
    (cd "$TMP/$target" && "$ROOT/build-asan/$target" "${fuzz_args[@]}" "$corpus") >"$log" 2>&1
    rc=$?
    if ((rc == 0)); then
      grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added)' "$log" |
        sed 's/^/   /'
    else
      # The report, without libFuzzer's progress lines.
      grep -vE '^#[0-9]+[[:space:]]' "$log" | tail -n 80
      kept="$ROOT/build-asan/findings/$target"
      mkdir -p "$kept"
      cp -r "$artifacts/." "$kept/" 2>/dev/null
      echo "-- $target: FOUND A PROBLEM (exit $rc); inputs kept in ${kept#"$ROOT/"}/:"
      ls -l "$kept"
      echo "   reproduce: build-asan/$target ${kept#"$ROOT/"}/<file>"
      fuzz_failures+=("$target (finding)")
    fi
  done
  if ((${#fuzz_failures[@]} == 0)); then
    stage_end ok "${#fuzz_sources[@]} target(s)"
  else
    TOTAL_FAILED=$((TOTAL_FAILED + ${#fuzz_failures[@]}))
    stage_end FAILED "${fuzz_failures[*]}"
  fi
fi

finish
