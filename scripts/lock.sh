#!/usr/bin/env bash
# Recompiles requirements/<profile>.lock.txt (exact versions with sha256 hashes) from setup.cfg and
# the profile's extras in scripts/bootstrap.sh. Run it after changing setup.cfg's requirements, then
# scripts/sbom.sh; commit the lock files and sbom/ together. Versions already pinned are kept unless
# setup.cfg rules them out; pass --upgrade (or --upgrade-package NAME) to move them.
# Usage: scripts/lock.sh [--upgrade | --upgrade-package NAME ...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# pip-tools runs from its own environment, so it never lands in the project's .venv.
tools="${LOCK_TOOLS_VENV:-$root/.venv-tools/pip-tools}"
# shellcheck source=bootstrap.sh
. "$root/scripts/bootstrap.sh"

if [ ! -x "$tools/bin/pip-compile" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install -q --disable-pip-version-check "pip-tools>=7.4,<8"
fi

export CUSTOM_COMPILE_COMMAND="scripts/lock.sh"
cd "$root"  # relative paths keep the "# via" comments free of this machine's directories
for profile in demo test runtime; do
  extras="$(bootstrap_pip_extras "$profile" | tr -d '[]' | tr ',' ' ')"
  args=()
  for extra in $extras; do args+=(--extra "$extra"); done
  echo "lock: requirements/$profile.lock.txt ($extras)"
  # Index URLs stay out of the file: pip's own configuration on each machine says where to fetch;
  # the hashes are what make the download trustworthy.
  "$tools/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links "${args[@]}" "$@" \
    -o "requirements/$profile.lock.txt" setup.cfg
done
