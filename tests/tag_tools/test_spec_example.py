"""The specification's worked example is what the code produces, and the format has not drifted."""

from pathlib import Path

from tag_tools.spec_example import build_example, sections
from tag_tools.trustlist import TrustList, TrustStore, build_trust_list
from tag_tools.verdict import Decision
from tag_tools.verify import verify_tag

SPEC = Path(__file__).resolve().parents[2] / "schemas" / "tag-record.md"
# The example record's bytes when format version 1 was fixed. Changing the encoding changes these:
# that is a new format version, not an edit.
KNOWN_TLV_PREFIX = "03f1d40ae46763796c2e6f72673a72d2844da201270448"


def test_spec_shows_exactly_the_example_bytes() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for name, body in sections(build_example()).items():
        if name == "centre-kid":
            assert f"`{body}`" in text
            continue
        assert f"<!-- {name} -->\n```\n{body}\n```" in text, f"section {name} of {SPEC.name} is out of date"


def test_example_is_stable_and_verifies() -> None:
    example = build_example()
    assert example.tlv.hex().startswith(KNOWN_TLV_PREFIX)
    assert example.tlv == build_example().tlv
    from datetime import timedelta

    from tag_tools.spec_example import EXAMPLE_TIME, _seeded_key

    signed = build_trust_list(
        TrustList(1, EXAMPLE_TIME, EXAMPLE_TIME + timedelta(days=1), (example.centre_certificate,)),
        example.root_certificate,
        _seeded_key("bureau root"),
    )
    trust = TrustStore.load(example.root_certificate, signed)
    assert verify_tag(bytes.fromhex("04A2C4D2E15A80"), example.message, trust=trust, now=EXAMPLE_TIME).decision is Decision.ALLOW


def test_typical_record_size_is_stated() -> None:
    assert f"**{len(build_example().tlv)} bytes**" in SPEC.read_text(encoding="utf-8")
