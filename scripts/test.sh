#!/usr/bin/env bash
# Install everything (venv, package with test+dev extras, the Codex CLI used as oracle) and run
# lint, type checks and the test suite. This is the one test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
CACHE=${ROLLOUT_TRACE_CACHE:-$HOME/.cache/rollout-trace-sdk}
CODEX_VERSION=0.169.0

python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/pip" install -q -e ".[test,dev]"

if [ -z "${CODEX_BIN:-}" ]; then
  mkdir -p "$CACHE/codex-$CODEX_VERSION"
  if ! ls "$CACHE/codex-$CODEX_VERSION"/node_modules/@openai/codex-linux-*/vendor/*/bin/codex >/dev/null 2>&1; then
    (cd "$CACHE/codex-$CODEX_VERSION" && npm install --no-audit --no-fund --silent "@openai/codex@$CODEX_VERSION" >/dev/null)
  fi
  CODEX_BIN=$(ls "$CACHE/codex-$CODEX_VERSION"/node_modules/@openai/codex-linux-*/vendor/*/bin/codex | head -n 1)
  export CODEX_BIN
fi
echo "codex oracle: $CODEX_BIN ($("$CODEX_BIN" --version))"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/pytest" -q -p no:cacheprovider "$@"
