#!/usr/bin/env bash
# Prepares this checkout on a fresh machine: Debian packages (when running as root), a virtual
# environment in .venv and the project installed into it with the extras a profile needs.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (it only redoes what changed).
set -euo pipefail

bootstrap_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bootstrap_venv="$bootstrap_root/.venv"

# Debian packages per profile: the demo runs on embedded defaults; the tests talk to real peers.
bootstrap_apt_packages() {
  case "$1" in
    demo) echo "" ;;
    test) echo "pcscd vsmartcard-vpcd libpcsclite-dev swig socat chromium fonts-wqy-microhei postgresql softhsm2 patroni etcd-server" ;;
  esac
}

# setup.cfg extras per profile; each profile installs from requirements/<profile>.lock.txt, which
# scripts/lock.sh compiles from these. "runtime" is what a deployment installs (no dev tools) and
# what the SBOM describes; only demo and test are bootstrapped here.
bootstrap_pip_extras() {
  case "$1" in
    demo) echo "[nfc]" ;;
    test) echo "[dev,nfc,pcsc,postgres,station,signer]" ;;
    runtime) echo "[nfc,pcsc,postgres,station,signer]" ;;
  esac
}

bootstrap_missing_apt() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  echo "${missing[*]:-}"
}

bootstrap_install_apt() {
  local missing
  # shellcheck disable=SC2046
  missing="$(bootstrap_missing_apt $(bootstrap_apt_packages "$1"))"
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian packages: $missing"
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
  else
    echo "bootstrap: please install these Debian packages first: sudo apt-get install $missing" >&2
    return 1
  fi
}

bootstrap_install_python() {
  local lock stamp want
  # Exact versions with hashes, so every machine installs the same bytes (docs/dependencies.md).
  # scripts/lock.sh makes the lock from setup.cfg and the extras above; tests/test_lock_files.py
  # fails when setup.cfg names a package the lock does not pin.
  lock="$bootstrap_root/requirements/$1.lock.txt"
  if [ ! -x "$bootstrap_venv/bin/python" ]; then
    python3 -m venv "$bootstrap_venv"
  fi
  # Reinstall only when the declared dependencies, the lock or the profile change.
  want="$(cat "$bootstrap_root/setup.cfg" "$bootstrap_root/pyproject.toml" "$lock" | sha256sum | cut -c1-16)-$1"
  stamp="$bootstrap_venv/.installed-$want"
  if [ ! -e "$stamp" ]; then
    echo "bootstrap: installing the project into .venv (profile $1, $(basename "$lock"))"
    "$bootstrap_venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$bootstrap_venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
    # The project itself, editable; its dependencies all came from the lock above.
    "$bootstrap_venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$bootstrap_root"
    rm -f "$bootstrap_venv"/.installed-*
    touch "$stamp"
  fi
}

# shellcheck source=scripts/vendor_web.sh
. "$bootstrap_root/scripts/vendor_web.sh"

bootstrap() {
  bootstrap_install_apt "$1"
  bootstrap_install_python "$1"
  vendor_web "$bootstrap_root"
  export PATH="$bootstrap_venv/bin:$PATH"
}
