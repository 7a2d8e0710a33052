#!/usr/bin/env bash
# What the tests need beyond Rust, in a venv at .venv-test (PERFTEST_TEST_VENV to move it):
# moto's server, CloudWatch's stand-in, and Prometheus's Python client, whose parser reads
# /metrics in the tests. Idempotent; `make test` runs it first. On a bare
# Debian it installs python3-venv with apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PERFTEST_TEST_VENV:-.venv-test}
MOTO=5.2.5
PROM=0.26.0

if [[ -x $VENV/bin/moto_server ]] &&
   "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO' or m.version('prometheus-client') != '$PROM')" 2>/dev/null; then
  exit 0
fi

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "tests/setup-deps.sh: the tests need ${missing[*]}; on Debian: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "tests/setup-deps.sh: installing moto[server]==$MOTO and prometheus-client==$PROM into $VENV" >&2
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO" "prometheus-client==$PROM"
