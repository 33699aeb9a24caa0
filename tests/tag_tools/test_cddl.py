"""Records and trust lists produced by the code, validated against schemas/*.cddl by zcbor,
an independent CDDL implementation (it also checks the CBOR inside the `.cbor` byte strings)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tag_tools import cbor_codec, cose, crypto, ndef_record, pki
from tag_tools.claims import CylinderKind, Key
from tag_tools.testkit import TestPki, typical_record

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def zcbor_validate(tmp_path: Path, schema: str, entry: str, data: bytes) -> subprocess.CompletedProcess[str]:
    zcbor = shutil.which("zcbor", path=str(Path(sys.executable).parent)) or shutil.which("zcbor")
    assert zcbor, "zcbor is a dev dependency (pip install -e .[dev])"
    sample = tmp_path / "sample.cborhex"
    sample.write_text(data.hex())
    return subprocess.run(
        [zcbor, "validate", "-c", str(SCHEMAS / schema), "-t", entry, "-i", str(sample), "--input-as", "cborhex"],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("algorithm", [crypto.Algorithm.EDDSA, crypto.Algorithm.ES256], ids=["ed25519", "es256"])
def test_records_conform(tmp_path, now, uid, algorithm):
    p = TestPki.create(now, algorithm=algorithm)
    payload = ndef_record.record_payload(p.ndef_message(uid, kind=CylinderKind.LPG))
    result = zcbor_validate(tmp_path, "tag-record.cddl", "tag-record", payload)
    assert result.returncode == 0, result.stderr[-2000:]


def test_trust_list_conforms(tmp_path, test_pki):
    result = zcbor_validate(tmp_path, "trust-list.cddl", "trust-list", test_pki.trust_list_bytes)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(("key", "value"), [(Key.KIND, 9), (Key.VIN, "TOO-SHORT"), (Key.TAG_UID, b"")])
def test_validator_catches_bad_claims(tmp_path, test_pki, now, uid, key, value):
    # Guards against a validator that accepts everything: a signed record with a bad claim fails.
    claims = typical_record(uid, now).to_cbor_map()
    claims[key] = value
    payload = cose.sign1(cbor_codec.encode(claims), test_pki.centre_key, pki.kid_of(test_pki.centre_certificate))
    result = zcbor_validate(tmp_path, "tag-record.cddl", "tag-record", payload)
    assert result.returncode != 0
