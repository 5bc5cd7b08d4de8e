#!/usr/bin/env bash
# Runs the whole test suite: Rust unit tests, then the Python end-to-end suite against Apache
# Kafka and a test-owned PostgreSQL. First installs, idempotently, what the suite needs and is
# missing: PostgreSQL and Chromium (for the web console's browser tests) from Debian's packages,
# a virtualenv with Conveyor and the test dependencies, and Apache Kafka's jars from Maven
# Central (Java 17+ and Maven must be present).
#
#   bash scripts/test.sh                # everything
#   bash scripts/test.sh -k pipeline    # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${CONVEYOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/conveyor}"
export CONVEYOR_CACHE="$CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
VENV="${CONVEYOR_VENV:-$CACHE/venv}"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

step "checking prerequisites"
command -v cargo >/dev/null || fail "cargo was not found: install Rust (https://rustup.rs)"
command -v python3 >/dev/null || fail "python3 was not found"
command -v java >/dev/null || fail "java was not found: the tests run Apache Kafka, which needs Java 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)"
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
[ "${java_major:-0}" -ge 17 ] || fail "Java ${java_major:-?} found; Apache Kafka 4 needs Java 17 or newer"
command -v mvn >/dev/null || fail "mvn was not found: Apache Kafka's jars are resolved from Maven Central with Maven (Debian: apt-get install maven)"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  step "installing PostgreSQL from Debian's packages (once)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql
fi

if [ ! -x "${CONVEYOR_CHROMIUM:-/usr/bin/chromium}" ]; then
  step "installing Chromium from Debian's packages (once; the console tests drive it)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
fi

if [ ! -x "$VENV/bin/python" ]; then
  step "creating the virtualenv $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
step "installing conveyor and the test dependencies into $VENV (builds the Rust extension)"
"$VENV/bin/python" -m pip install --quiet ".[test,dev]"

step "Apache Kafka's jars"
"$VENV/bin/python" tests/services/kafka.py fetch

step "starting the test-owned PostgreSQL"
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-pg.XXXXXX")
trap '"$VENV/bin/python" tests/services/postgres.py stop "$PG_DIR"' EXIT
CONVEYOR_TEST_PG_PORT=$("$VENV/bin/python" tests/services/postgres.py start "$PG_DIR")
export CONVEYOR_TEST_PG_PORT CONVEYOR_TEST_PG_DIR="$PG_DIR"
echo "PostgreSQL on 127.0.0.1:$CONVEYOR_TEST_PG_PORT (data in $PG_DIR)"

step "cargo test"
cargo test --quiet

step "ruff"
"$VENV/bin/ruff" check python tests examples benches
"$VENV/bin/ruff" format --check python tests examples benches

step "pytest"
PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pytest tests/python "$@"
