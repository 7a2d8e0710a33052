#!/usr/bin/env bash
# What the tests need beyond Rust. Debian's prometheus (2.42, with promtool) for scrape,
# remote-write and rule tests, and amtool (prometheus-alertmanager) for the route example. In a
# venv at .venv-test (PERFTEST_TEST_VENV to move it): moto's server, CloudWatch's stand-in,
# Prometheus's Python client, whose parser reads /metrics in the tests, and kubernetes-validate
# for deploy/kubernetes; beside it Debian's kubectl 1.20 (kubernetes-client, unpacked, not
# installed), whose kustomize v2 renders the overlays next to the machine's kubectl.
# Idempotent; `make test` runs it first. On a bare Debian it installs the Debian packages with
# apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PERFTEST_TEST_VENV:-.venv-test}
MOTO=5.2.5
PROM=0.26.0
KVALIDATE=1.37.0
KUBECTL_V2=$VENV/kubernetes-client/usr/bin/kubectl

# Debian's kubectl 1.20 unpacked into the venv (apt-get download needs no root once apt has
# its lists); the tests also use any kubectl on PATH.
if [[ ! -x $KUBECTL_V2 ]] && command -v apt-get >/dev/null; then
  mkdir -p "$VENV/debs"
  if ! (cd "$VENV/debs" && apt-get download -qq kubernetes-client 2>/dev/null) && [[ $EUID -eq 0 ]]; then
    apt-get update -qq && (cd "$VENV/debs" && apt-get download -qq kubernetes-client 2>/dev/null) || true
  fi
  deb=$(ls "$VENV"/debs/kubernetes-client_*.deb 2>/dev/null | head -1)
  if [[ -n $deb ]]; then
    dpkg-deb -x "$deb" "$VENV/kubernetes-client" && rm -f "$deb"
  fi
fi
if [[ ! -x $KUBECTL_V2 ]] && ! command -v kubectl >/dev/null; then
  echo "tests/setup-deps.sh: the tests need kubectl: on Debian, sudo apt-get install kubernetes-client" >&2
  exit 1
fi

apt_install() {
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "tests/setup-deps.sh: the tests need $*; on Debian: sudo apt-get install --no-install-recommends $*" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then
  echo "tests/setup-deps.sh: installing Debian's prometheus and prometheus-alertmanager (the tests start their own on loopback)" >&2
  apt_install prometheus prometheus-alertmanager
  # The packages enable system services (:9090, :9093) where systemd runs; the tests need none.
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now prometheus prometheus-alertmanager >/dev/null 2>&1 || true
  fi
fi

if [[ -x $VENV/bin/moto_server ]] &&
   "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO' or m.version('prometheus-client') != '$PROM' or m.version('kubernetes-validate') != '$KVALIDATE')" 2>/dev/null; then
  exit 0
fi

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi

echo "tests/setup-deps.sh: installing moto[server]==$MOTO, prometheus-client==$PROM and kubernetes-validate==$KVALIDATE into $VENV" >&2
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO" "prometheus-client==$PROM" \
  "kubernetes-validate==$KVALIDATE"
