"""Records and trust lists produced by the code, validated against schemas/*.cddl by zcbor,
an independent CDDL implementation (it also checks the CBOR inside the `.cbor` byte strings).

zcbor 0.9.1 (the latest) imports names that cbor2 6 removed, so it does not share the product's
environment, whose cbor2 is not held below 6: it runs from a tool environment of its own,
`.venv-tools/zcbor-<version>/` (zcbor plus a cbor2 it works with), made on first use in about 15 s
and kept. A tool that cannot be set up fails the run under CI=true and skips elsewhere, like a peer.
"""

import fcntl
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tag_tools import cbor_codec, cose, crypto, ndef_record, pki
from tag_tools.claims import CylinderKind, Key
from tests.peers import peer_unavailable
from tests.testkit import TestPki, typical_record

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
ZCBOR_VERSION = "0.9.1"
ZCBOR_REQUIREMENTS = (f"zcbor=={ZCBOR_VERSION}", "cbor2>=5.6,<6")
TOOL_VENV = ROOT / ".venv-tools" / f"zcbor-{ZCBOR_VERSION}"
SETUP_TIMEOUT = 300  # seconds for `pip install`; a warm pip cache takes about 15 s

_zcbor: str | None = None
_zcbor_problem: str | None = None


def _set_up_zcbor() -> str:
    """The zcbor executable of the tool environment, made (under a lock) if it is missing or stale."""
    executable = TOOL_VENV / "bin" / "zcbor"
    stamp = TOOL_VENV / ".requirements"
    wanted = "\n".join(ZCBOR_REQUIREMENTS)
    TOOL_VENV.parent.mkdir(exist_ok=True)
    with open(TOOL_VENV.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once make it once
        if not (executable.exists() and stamp.exists() and stamp.read_text() == wanted):
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(TOOL_VENV)], check=True, capture_output=True, timeout=120
            )
            pip = [str(TOOL_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            subprocess.run([*pip, *ZCBOR_REQUIREMENTS], check=True, capture_output=True, text=True, timeout=SETUP_TIMEOUT)
            stamp.write_text(wanted)
    subprocess.run([str(executable), "--version"], check=True, capture_output=True, timeout=60)
    return str(executable)


def zcbor_executable() -> str:
    """zcbor, set up once per test session; fails (CI) or skips the test when it cannot be."""
    global _zcbor, _zcbor_problem
    if _zcbor is None and _zcbor_problem is None:
        try:
            _zcbor = _set_up_zcbor()
        except (OSError, subprocess.SubprocessError) as error:
            output = getattr(error, "stderr", None) or ""
            _zcbor_problem = f"cannot set up {TOOL_VENV}: {error} {str(output)[-500:]}".strip()
    if _zcbor is None:
        peer_unavailable("zcbor (CDDL validator)", str(_zcbor_problem))
    assert _zcbor is not None
    return _zcbor


def zcbor_validate(tmp_path: Path, schema: str, entry: str, data: bytes) -> subprocess.CompletedProcess[str]:
    sample = tmp_path / "sample.cborhex"
    sample.write_text(data.hex())
    return subprocess.run(
        [zcbor_executable(), "validate", "-c", str(SCHEMAS / schema), "-t", entry, "-i", str(sample), "--input-as", "cborhex"],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("algorithm", [crypto.Algorithm.EDDSA, crypto.Algorithm.ES256], ids=["ed25519", "es256"])
def test_records_conform(tmp_path: Path, now: datetime, uid: bytes, algorithm: crypto.Algorithm) -> None:
    p = TestPki.create(now, algorithm=algorithm)
    payload = ndef_record.record_payload(p.ndef_message(uid, kind=CylinderKind.LPG))
    result = zcbor_validate(tmp_path, "tag-record.cddl", "tag-record", payload)
    assert result.returncode == 0, result.stderr[-2000:]


def test_trust_list_conforms(tmp_path: Path, test_pki: TestPki) -> None:
    result = zcbor_validate(tmp_path, "trust-list.cddl", "trust-list", test_pki.trust_list_bytes)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(("key", "value"), [(Key.KIND, 9), (Key.VIN, "TOO-SHORT"), (Key.TAG_UID, b"")])
def test_validator_catches_bad_claims(
    tmp_path: Path, test_pki: TestPki, now: datetime, uid: bytes, key: Key, value: object
) -> None:
    # Guards against a validator that accepts everything: a signed record with a bad claim fails.
    claims = typical_record(uid, now).to_cbor_map()
    claims[key] = value
    payload = cose.sign1(cbor_codec.encode(claims), test_pki.centre_key, pki.kid_of(test_pki.centre_certificate))
    result = zcbor_validate(tmp_path, "tag-record.cddl", "tag-record", payload)
    assert result.returncode != 0
