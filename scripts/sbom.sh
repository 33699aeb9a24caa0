#!/usr/bin/env bash
# Regenerates sbom/cylinder-guard.cdx.json (CycloneDX JSON) from requirements/runtime.lock.txt: the
# packages a deployment installs (registry, station agent, list signer, tag tools and the demo;
# no test or lint tools). Run after scripts/lock.sh and commit both; tests/test_sbom.py fails when
# the SBOM and the lock disagree on a package or a version.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# cyclonedx-bom runs from its own environment, so it never lands in the project's .venv.
tools="${SBOM_TOOLS_VENV:-$root/.venv-tools/cyclonedx}"

if [ ! -x "$tools/bin/cyclonedx-py" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install -q --disable-pip-version-check "cyclonedx-bom>=7,<8"
fi

cd "$root"
mkdir -p sbom
# --output-reproducible leaves out the timestamp and random serial number, so an unchanged lock gives
# a byte-identical SBOM and a diff shows only real changes.
"$tools/bin/cyclonedx-py" requirements --output-reproducible --mc-type application --sv 1.6 \
  -o sbom/cylinder-guard.cdx.json requirements/runtime.lock.txt
# The generator guesses a download URL on one public index for every package; the lock names no
# index (each machine's pip configuration does), so keep the hashes on the component and drop the
# guessed "distribution" links, which would point at a place nothing was fetched from.
"$tools/bin/python" - sbom/cylinder-guard.cdx.json <<'PY'
import json
import sys

path = sys.argv[1]
with open(path, encoding="utf-8") as handle:
    bom = json.load(handle)
for item in bom.get("components", []) + bom.get("metadata", {}).get("tools", {}).get("components", []):
    kept = []
    for ref in item.pop("externalReferences", []):
        if ref.get("type") == "distribution":
            if ref.get("hashes"):
                item.setdefault("hashes", []).extend(ref["hashes"])
        else:
            kept.append(ref)
    if kept:
        item["externalReferences"] = kept
with open(path, "w", encoding="utf-8") as handle:
    json.dump(bom, handle, indent=2, sort_keys=True)
    handle.write("\n")
PY
echo "sbom: sbom/cylinder-guard.cdx.json from requirements/runtime.lock.txt"
