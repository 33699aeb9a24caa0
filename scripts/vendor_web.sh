#!/usr/bin/env bash
# Vendors the pages' front-end libraries from npm (web/package-lock.json: exact versions and
# integrity hashes) into the packages' static folders, so no page loads anything from a CDN.
# Sourced by scripts/bootstrap.sh; run again only when the lock changes. The copies are not in git.
set -euo pipefail

vendor_web() {
  local root="$1" web stamp want
  web="$root/web"
  want="$(sha256sum "$web/package-lock.json" | cut -c1-16)"
  stamp="$web/node_modules/.vendored-$want"
  [ -e "$stamp" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "bootstrap: please install Node.js and npm (Debian: apt-get install nodejs npm) to vendor the pages' libraries" >&2
    return 1
  fi
  echo "bootstrap: vendoring the pages' libraries (web/package-lock.json)"
  # --ignore-scripts: a library's install script never runs here; what we copy is plain files.
  npm ci --prefix "$web" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  local leaflet="$root/registry_service/dashboard/static/vendor/leaflet"
  rm -rf "$leaflet" && mkdir -p "$leaflet"
  cp -r "$web/node_modules/leaflet/dist/leaflet.js" "$web/node_modules/leaflet/dist/leaflet.css" \
    "$web/node_modules/leaflet/dist/images" "$web/node_modules/leaflet/LICENSE" "$leaflet/"
  rm -f "$web"/node_modules/.vendored-*
  touch "$stamp"
}
