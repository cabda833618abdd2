#!/usr/bin/env bash
# Install everything (venv, package with test+dev extras, the Codex CLIs used as oracles) and run
# lint, type checks and the test suite. This is the one test command; .ci/run calls it.
# Needs python3 (>= 3.11) and node/npm (for the Codex CLI), unless CODEX_BIN and CODEX3_BIN
# already name the two Codex binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
CACHE=${ROLLOUT_TRACE_CACHE:-$HOME/.cache/rollout-trace-sdk}

# The OTLP export's round-trip test sends spans to Arize Phoenix (an OpenTelemetry trace store
# from PyPI) served on 127.0.0.1. It is large (~850 MB; minutes to install), so it lives in its
# own virtual environment in $CACHE, installed once; if that fails the test skips, saying so.
PHOENIX_VERSION=20.26.1
phoenix_receiver() {  # -> path of the `phoenix` command, or nothing
  local dir="$CACHE/phoenix-$PHOENIX_VERSION"
  mkdir -p "$CACHE"
  if [ ! -f "$dir/.installed" ]; then
    rm -rf "$dir"
    if (python3 -m venv "$dir" && "$dir/bin/pip" install -q "arize-phoenix==$PHOENIX_VERSION") \
      >"$CACHE/phoenix-install.log" 2>&1; then
      touch "$dir/.installed"
    else
      rm -rf "$dir"
      echo "scripts/test.sh: could not install arize-phoenix $PHOENIX_VERSION" \
        "(see $CACHE/phoenix-install.log); the OTLP round-trip test skips" >&2
      return 0
    fi
  fi
  echo "$dir/bin/phoenix"
}
# Installed in the background while the rest is set up (it is mostly download time).
phoenix_path="$(mktemp)"
if [ -z "${PHOENIX_BIN:-}" ]; then
  phoenix_receiver >"$phoenix_path" &
  phoenix_pid=$!
fi

python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/pip" install -q -e ".[test,dev]"

# The oracles: Codex 0.169.0 reads and writes schema 2, Codex 0.171.0 schema 3.
codex_oracle() {  # VERSION -> path of the binary, npm-installed once into $CACHE
  local dir="$CACHE/codex-$1"
  if ! ls "$dir"/node_modules/@openai/codex-linux-*/vendor/*/bin/codex >/dev/null 2>&1; then
    if ! command -v npm >/dev/null; then
      echo "scripts/test.sh: node/npm are needed to install the Codex CLI $1" \
        "(or set CODEX_BIN and CODEX3_BIN)" >&2
      exit 2
    fi
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --silent "@openai/codex@$1" >/dev/null)
  fi
  ls "$dir"/node_modules/@openai/codex-linux-*/vendor/*/bin/codex | head -n 1
}
CODEX_BIN=${CODEX_BIN:-$(codex_oracle 0.169.0)}
CODEX3_BIN=${CODEX3_BIN:-$(codex_oracle 0.171.0)}
export CODEX_BIN CODEX3_BIN

# axe-core (Deque's accessibility checker, from npm): tests/view/test_browser_a11y.py injects
# its axe.min.js into the viewer's page. Installed once into $CACHE, pinned (the test's
# AXE_VERSION says the same); without it those tests skip, saying so.
AXE_VERSION=4.14.1
axe_dir="$CACHE/axe-core-$AXE_VERSION"
if [ -z "${ROLLOUT_TRACE_AXE:-}" ] && [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  if command -v npm >/dev/null && mkdir -p "$axe_dir" &&
    (cd "$axe_dir" && npm install --no-audit --no-fund --silent "axe-core@$AXE_VERSION" >/dev/null); then
    :
  else
    echo "scripts/test.sh: could not install axe-core $AXE_VERSION; the accessibility tests skip" >&2
  fi
fi
if [ -z "${ROLLOUT_TRACE_AXE:-}" ] && [ -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  export ROLLOUT_TRACE_AXE="$axe_dir/node_modules/axe-core/axe.min.js"
fi

unset RUST_BACKTRACE
echo "codex oracles: schema 2 $("$CODEX_BIN" --version), schema 3 $("$CODEX3_BIN" --version)"

# System tools some tests use, installed when missing and we can (root with apt-get; one
# `apt-get update` first, since a fresh machine has no package lists):
# - strace: the hostile-bundle test watches every file open (else it uses a Python audit hook);
# - valgrind: benchmarks/instructions.py counts a tool call's instructions under callgrind;
# - chromium: the viewer's browser tests drive Debian's Chromium through Playwright (never
#   `playwright install`, which downloads browsers); without it they skip, saying so.
missing=()
command -v strace >/dev/null || missing+=(strace)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 ||
      echo "scripts/test.sh: could not install ${missing[*]}; the tests that need them skip or fall back" >&2
  else
    echo "scripts/test.sh: ${missing[*]} missing and no root apt-get; the tests that need them skip or fall back" >&2
  fi
fi

if [ -n "${phoenix_pid:-}" ]; then
  wait "$phoenix_pid"
  PHOENIX_BIN=$(cat "$phoenix_path")
fi
rm -f "$phoenix_path"
export PHOENIX_BIN=${PHOENIX_BIN:-}

# The installs above can leave gigabytes of dirty pages; a fresh VM then writes them back for
# minutes, stalling every write meanwhile (seen: 30-60 s), and the signal and crash-soak tests
# give their children a bounded time. Write them out first so the tests own the disk.
sync

# The tests' temporary files (pytest's tmp_path, tempfile) go to a fresh folder on tmpfs when
# there is one with room: the recorder's signal and crash tests are about processes, not
# disks, and a fresh VM's disk still stalls writes for tens of seconds now and then after the
# sync (seen: 5 child timeouts in one run, none in the next on the same VM).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
  [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 4000000 ]; then
  TMPDIR=$(mktemp -d /dev/shm/rtt.XXXXXX)
  export TMPDIR
  trap 'rm -rf "$TMPDIR"' EXIT
fi

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
# Two pytest-xdist workers: about half of the suite's time is spent waiting on child processes
# (Codex, Chromium, Phoenix, Ray, killed recorders), so two workers on CI's 2 cores take about
# two thirds of one process's time, or less (docs/testing.md). --dist loadgroup keeps each
# module marked xdist_group (Phoenix, Ray: one costly server for the module) on one worker.
# --durations lists the slowest tests at the end, so a run shows where CI's 15 minutes go.
# The arguments come last: `-n 0` runs the tests in this one process (as --pdb needs), `-n 4`
# on more cores.
"$VENV/bin/pytest" -q -p no:cacheprovider -n 2 --dist loadgroup --durations=40 "$@"
