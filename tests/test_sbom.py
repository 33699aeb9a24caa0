"""sbom/cylinder-guard.cdx.json lists exactly the packages, versions and hashes of the runtime lock.

scripts/sbom.sh derives the SBOM from requirements/runtime.lock.txt; re-locking without
regenerating it would publish an inventory of software that no longer ships.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tests.test_lock_files import LockedPackage, load_lock

ROOT = Path(__file__).resolve().parent.parent
SBOM = ROOT / "sbom" / "cylinder-guard.cdx.json"


def sbom_packages(bom: dict[str, Any]) -> dict[str, LockedPackage]:
    """The PyPI components of a CycloneDX document, in the lock's terms."""
    packages: dict[str, LockedPackage] = {}
    for component in bom.get("components", []):
        if not str(component.get("purl", "")).startswith("pkg:pypi/"):
            continue
        name = canonicalize_name(component["name"])
        hashes = frozenset(f"{h['alg'].replace('-', '').lower()}:{h['content']}" for h in component.get("hashes", []))
        packages[name] = LockedPackage(name, component["version"], hashes)
    return packages


def drift(bom: dict[str, Any], lock: dict[str, LockedPackage]) -> dict[str, tuple[str | None, str | None]]:
    """Packages whose (version, hashes) differ between SBOM and lock: name -> (sbom, lock) version."""
    listed = sbom_packages(bom)
    return {
        name: (
            listed[name].version if name in listed else None,
            lock[name].version if name in lock else None,
        )
        for name in listed.keys() | lock.keys()
        if listed.get(name) != lock.get(name)
    }


def test_sbom_is_cyclonedx_of_the_runtime_lock() -> None:
    bom = json.loads(SBOM.read_text(encoding="utf-8"))

    assert bom["bomFormat"] == "CycloneDX"
    assert drift(bom, load_lock("runtime")) == {}, "regenerate with scripts/sbom.sh (docs/dependencies.md)"


def test_drift_names_a_package_the_sbom_lacks_or_misversions() -> None:
    bom = json.loads(SBOM.read_text(encoding="utf-8"))
    lock = load_lock("runtime")
    flask = lock["flask"]
    moved = dict(lock, flask=LockedPackage("flask", "0.1", flask.hashes))
    added = dict(lock, extra=LockedPackage("extra", "1.0", frozenset({"sha256:00"})))

    assert drift(bom, moved) == {"flask": (flask.version, "0.1")}
    assert drift(bom, added) == {"extra": (None, "1.0")}
