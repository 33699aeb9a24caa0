"""The lock files in requirements/ cover what setup.cfg declares, pinned and hashed.

scripts/bootstrap.sh installs each profile with `pip install --require-hashes -r
requirements/<profile>.lock.txt` and then the project with --no-deps, so a requirement added to
setup.cfg without re-running scripts/lock.sh would silently be missing from every fresh machine.
These tests make that a failure instead (docs/dependencies.md says how to re-lock).
"""

from __future__ import annotations

import configparser
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("demo", "test", "runtime")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(?P<version>[^\s;\\]+)")
_HASH = re.compile(r"--hash=(?P<alg>[a-z0-9]+):(?P<digest>[0-9a-f]+)")


@dataclass(frozen=True)
class LockedPackage:
    """One requirement line of a lock file: name (canonical), exact version and its hashes."""

    name: str
    version: str
    hashes: frozenset[str]


def read_lock(text: str) -> dict[str, LockedPackage]:
    """Parses pip-compile output: `name==version \\` lines followed by `--hash=` lines."""
    packages: dict[str, LockedPackage] = {}
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"lock line is not an exact pin: {line!r}")
        name = canonicalize_name(match["name"])
        hashes = frozenset(f"{m['alg']}:{m['digest']}" for m in _HASH.finditer(line))
        packages[name] = LockedPackage(name, match["version"], hashes)
    return packages


def profile_extras(profile: str) -> list[str]:
    """The extras a profile installs, read from scripts/bootstrap.sh (their one home)."""
    script = f'. "{ROOT}/scripts/bootstrap.sh"; bootstrap_pip_extras "$1"'
    out = subprocess.run(["bash", "-c", script, "bash", profile], check=True, capture_output=True, text=True).stdout
    extras = out.strip().strip("[]")
    if not extras:
        raise ValueError(f"scripts/bootstrap.sh names no extras for profile {profile!r}")
    return [extra.strip() for extra in extras.split(",")]


def declared_requirements(setup_cfg: str, extras: list[str]) -> list[Requirement]:
    """install_requires plus the named extras of a setup.cfg text, comments dropped."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(setup_cfg)
    lines = parser.get("options", "install_requires").splitlines()
    for extra in extras:
        lines += parser.get("options.extras_require", extra).splitlines()
    return [Requirement(line.strip()) for line in lines if line.strip() and not line.strip().startswith("#")]


def lock_gaps(requirements: list[Requirement], lock: dict[str, LockedPackage]) -> list[str]:
    """What a lock fails to cover: missing names, unhashed pins, versions outside setup.cfg's range."""
    gaps = []
    for req in requirements:
        locked = lock.get(canonicalize_name(req.name))
        if locked is None:
            gaps.append(f"{req.name}: declared in setup.cfg, not in the lock")
        elif not locked.hashes:
            gaps.append(f"{req.name}: pinned without --hash")
        elif not req.specifier.contains(locked.version, prereleases=True):
            gaps.append(f"{req.name}: lock pins {locked.version}, setup.cfg asks {req.specifier}")
    return gaps


def load_lock(profile: str) -> dict[str, LockedPackage]:
    return read_lock((ROOT / "requirements" / f"{profile}.lock.txt").read_text(encoding="utf-8"))


@pytest.mark.parametrize("profile", PROFILES)
def test_lock_covers_every_declared_requirement(profile: str) -> None:
    setup_cfg = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    requirements = declared_requirements(setup_cfg, profile_extras(profile))
    lock = load_lock(profile)

    assert lock_gaps(requirements, lock) == [], "re-lock with scripts/lock.sh (docs/dependencies.md)"
    assert all(package.hashes for package in lock.values()), "every pin needs a hash for --require-hashes"


def test_runtime_lock_pins_the_versions_the_tests_run() -> None:
    # The SBOM describes runtime.lock.txt while the suite runs on test.lock.txt: they must agree,
    # or what was tested is not what ships.
    runtime, tested = load_lock("runtime"), load_lock("test")
    differ = {
        name: (package.version, tested[name].version if name in tested else None)
        for name, package in runtime.items()
        if tested.get(name) != package
    }
    assert differ == {}
    assert set(load_lock("demo")) <= set(runtime)


def test_a_requirement_added_without_relocking_is_reported() -> None:
    setup_cfg = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    grown = setup_cfg.replace("install_requires =\n", "install_requires =\n    left-pad-not-locked>=1\n", 1)
    bumped = re.sub(r"flask>=[0-9.]+", "flask>=999", setup_cfg)
    lock = load_lock("demo")

    assert lock_gaps(declared_requirements(grown, ["nfc"]), lock) == [
        "left-pad-not-locked: declared in setup.cfg, not in the lock"
    ]
    assert lock_gaps(declared_requirements(bumped, ["nfc"]), lock) == [
        f"flask: lock pins {lock['flask'].version}, setup.cfg asks >=999"
    ]


def test_read_lock_refuses_an_unpinned_line() -> None:
    with pytest.raises(ValueError, match="not an exact pin"):
        read_lock("flask>=3.0 \\\n    --hash=sha256:00\n")
    assert read_lock("a==1 \\\n    --hash=sha256:ab\n    # via b\n")["a"].hashes == {"sha256:ab"}
