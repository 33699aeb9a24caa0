"""The worked example of schemas/tag-record.md, reproducible byte for byte.

Keys come from fixed seeds and certificates from fixed serials and dates, and Ed25519 signatures
are deterministic, so the example record is always the same bytes. A test checks that the
specification shows exactly these bytes, and that the format has not drifted from them.
Run `python -m tag_tools.spec_example` to print the example sections.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from tag_tools import cbor_codec, ndef_record, pki, t2t_memory
from tag_tools.claims import CylinderId, CylinderKind, CylinderRecord, InspectionResult
from tag_tools.record import sign_record

EXAMPLE_TIME = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
TYPICAL_UID = bytes.fromhex("04A2C4D2E15A80")  # the example tag's UID


def typical_record(uid: bytes, now: datetime, **overrides: Any) -> CylinderRecord:
    """A taxi's CNG-2 cylinder inspected a month ago: Chinese plate, 17-character VIN, 20-character serial.

    The example's claims; the tests (tests/testkit.py) start from the same record and override fields."""
    inspected = now.date() - timedelta(days=30)
    values: dict[str, Any] = dict(
        serial="TH2019CNG2-000123456",
        cylinder_id=CylinderId(country=156, issuer=4101, number=19012345),
        manufacturer="TIANHAI",
        kind=CylinderKind.CNG2,
        working_pressure_dmpa=200,
        water_capacity_dl=800,
        manufactured=date(2019, 6, 1),
        inspected=inspected,
        result=InspectionResult.PASSED,
        next_due=inspected + timedelta(days=3 * 365),
        end_of_life=date(2034, 5, 31),
        plate="豫A8M2K7",
        vin="LSVAU2180N2183744",
        vehicle_cylinders=1,
        centre_id="ZZTJ01",
        report_number="2026-004518",
        sequence=3,
        issued_at=now.replace(microsecond=0) - timedelta(days=30),
        tag_uid=uid,
    )
    values.update(overrides)
    return CylinderRecord(**values)


def _seeded_key(label: str) -> ed25519.Ed25519PrivateKey:
    # Published example keys: never use them for anything but reproducing this example.
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"cylinder tag spec example: {label}".encode()).digest())


@dataclass(frozen=True)
class Example:
    root_certificate: x509.Certificate
    centre_certificate: x509.Certificate
    message: bytes

    @property
    def cose(self) -> bytes:
        return ndef_record.record_payload(self.message)

    @property
    def tlv(self) -> bytes:
        return t2t_memory.ndef_tlv(self.message)


def build_example() -> Example:
    root_key, centre_key = _seeded_key("bureau root"), _seeded_key("inspection centre ZZTJ01")
    root = pki.create_root(root_key, "Example bureau root", datetime(2025, 1, 1, tzinfo=UTC), serial=0x1001)
    csr = pki.create_centre_csr(centre_key, "ZZTJ01", "410105", "Example inspection centre")
    centre = pki.issue_centre_certificate(csr, root, root_key, datetime(2025, 1, 2, tzinfo=UTC), serial=0x2001)
    return Example(root, centre, sign_record(typical_record(TYPICAL_UID, EXAMPLE_TIME), centre_key, centre))


def diagnostic(value: Any, indent: int = 0) -> str:
    """CBOR diagnostic notation (RFC 8949 section 8); byte strings holding CBOR shown as <<...>>."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, cbor2.CBORTag):
        return f"{value.tag}({diagnostic(value.value, indent)})"
    if isinstance(value, bytes):
        try:
            nested = cbor_codec.decode(value, "nested")
            if isinstance(nested, dict | list):
                return "<< " + diagnostic(nested, indent) + " >>"
        except Exception:
            pass
        return f"h'{value.hex()}'"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):  # cbor2 6 decodes a tag's array as a tuple
        if all(isinstance(v, int) for v in value):
            return "[" + ", ".join(str(v) for v in value) + "]"
        return "[\n" + ",\n".join(inner + diagnostic(v, indent + 1) for v in value) + "\n" + pad + "]"
    if isinstance(value, Mapping):  # cbor2 6 decodes a map inside a tag as its frozendict
        if not value:
            return "{}"
        items = [f"{inner}{diagnostic(k)}: {diagnostic(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    return str(value)


def hex_lines(data: bytes, width: int = 32) -> str:
    return "\n".join(data[i : i + width].hex() for i in range(0, len(data), width))


def sections(example: Example) -> dict[str, str]:
    return {
        "tlv-hex": hex_lines(example.tlv),
        "cose-diagnostic": diagnostic(cbor_codec.decode(example.cose, "example")),
        "centre-kid": pki.kid_of(example.centre_certificate).hex(),
    }


if __name__ == "__main__":
    for name, text in sections(build_example()).items():
        print(f"<!-- {name} -->\n{text}\n")
