#!/usr/bin/env bash
# Runs the whole test suite: Rust unit tests, then the Python end-to-end suite against a
# real broker (tansu) and the local services. Installs what it needs into a virtualenv.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k pipeline  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${CONVEYOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/conveyor}"
export CONVEYOR_CACHE="$CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
VENV="${CONVEYOR_VENV:-$CACHE/venv}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
echo "==> installing conveyor and test dependencies into $VENV"
"$VENV/bin/python" -m pip install --quiet ".[test,dev]"

echo "==> cargo test"
cargo test --quiet

echo "==> ruff"
"$VENV/bin/ruff" check python tests examples benches
"$VENV/bin/ruff" format --check python tests examples benches

echo "==> pytest"
PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pytest tests/python "$@"
