"""tag_tools.identifiers: one canonical form per plate, VIN, cylinder ID and tag UID, and a typed
error naming the field for anything else."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from tag_tools import identifiers
from tag_tools.claims import CylinderRecord
from tag_tools.errors import InputError
from tag_tools.fields import FieldError, has_forbidden_character
from tag_tools.identifiers import IdentifierError
from tests.testkit import typical_record


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        # China: province + letter + 5; new-energy 6; special suffixes; embassy.
        ("粤B12345", "粤B12345"),
        ("粤Ｂ１２３４５", "粤B12345"),  # full-width letter and digits
        ("粤b 12345", "粤B12345"),
        ("豫A·8M2K7", "豫A8M2K7"),  # middle dot as printed on plates
        ("豫A・8M2K7", "豫A8M2K7"),  # katakana middle dot from a Japanese IME
        ("豫A-D5521", "豫AD5521"),
        ("\u3000豫A 00001\u3000", "豫A00001"),  # ideographic spaces
        ("粤BD12345", "粤BD12345"),  # new-energy, small vehicle: energy letter first
        ("粤B12345F", "粤B12345F"),  # new-energy, large vehicle: energy letter last
        ("京AA12345", "京AA12345"),  # the letters added when D and F ran out
        ("沪AK1234J", "沪AK1234J"),
        ("豫A1234学", "豫A1234学"),
        ("京A1234警", "京A1234警"),
        ("粤Z1234港", "粤Z1234港"),
        ("粤Z·A123澳", "粤ZA123澳"),
        ("豫A1234挂", "豫A1234挂"),
        ("沪A1234领", "沪A1234领"),
        ("使014578", "使014578"),
        # Peru, Colombia, Bolivia.
        ("ABC-123", "ABC123"),
        ("a1b-234", "A1B234"),
        ("ABC123", "ABC123"),
        ("abc 12d", "ABC12D"),
        ("1234ABC", "1234ABC"),
        ("123-abc", "123ABC"),
    ],
)
def test_plates_have_one_canonical_form(typed: str, canonical: str) -> None:
    assert identifiers.plate(typed) == canonical
    assert identifiers.plate(canonical) == canonical  # idempotent
    assert identifiers.plate_key(typed) == canonical


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("", "must not be empty"),
        (" · ", "must not be empty"),
        ("粤I12345", "not a number plate"),  # no I or O on Chinese plates
        ("粤B1234", "not a number plate"),  # too short
        ("粤B1234567", "not a number plate"),  # too long
        ("粤B12345X", "not a number plate"),  # 6 characters without an energy letter at either end
        ("粤BL12345", "not a number plate"),
        ("粤BD1234I", "not a number plate"),
        ("京A1234港", "not a number plate"),  # Hong Kong and Macau vehicles are 粤Z only
        ("粤B1234澳", "not a number plate"),
        ("ԥA8M2K7", "not a number plate"),  # 豫 in GBK read as UTF-8 (tag_tools.clerk_csv)
        ("XX12345", "not a number plate"),
        ("AB-12", "not a number plate"),
        ("12345", "not a number plate"),
        ("<script>", "not a number plate"),
        ("粤B\x0012345", "control character"),
        ("粤B12345\n", "control character"),
        ("粤B\ud80012345", "lone surrogate"),
        ("粤B\ufdd012345", "non-character"),
        ("粤B" + "1" * 100, "longer than"),
        (None, "must be text"),
        (12345, "must be text"),
    ],
)
def test_bad_plates_are_refused_with_the_field_named(value: object, rule: str) -> None:
    with pytest.raises(IdentifierError, match=rule) as caught:
        identifiers.plate(value, "vehicles[2].plate")
    assert caught.value.field == "vehicles[2].plate" and str(caught.value).startswith("vehicles[2].plate ")
    assert isinstance(caught.value, InputError) and isinstance(caught.value, FieldError)


def test_vins_are_upper_cased_and_checked_without_the_check_digit() -> None:
    assert identifiers.vin(" lsvau2180n2183744 ") == "LSVAU2180N2183744"
    assert identifiers.vin("ＬＳＶＡＵ２１８０Ｎ２１８３７４４") == "LSVAU2180N2183744"
    assert identifiers.vin("LSVAU2180N0000001") == "LSVAU2180N0000001"  # test fleets: check digit not enforced
    for bad in ("LSVAU2180N218374", "LSVAU2180N21837444", "LSVAU2180N2I83744", "LSVAO2180N2183744", "LSVAU2180N218374Q"):
        with pytest.raises(IdentifierError, match="17 letters"):
            identifiers.vin(bad)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("156-4101-20190012345", "156-4101-20190012345"),
        (" 156 - 4101 - 50001 ", "156-4101-50001"),
        ("１５６－４１０１－５０００１", "156-4101-50001"),  # full-width digits and hyphen
        ("156\u20134101\u201350001", "156-4101-50001"),  # en dashes
        ("156-04101-0050001", "156-4101-50001"),  # leading zeros: as CylinderId prints it
        ("56-1-2", "056-1-2"),
    ],
)
def test_cylinder_ids_print_as_the_tag_record_does(typed: str, canonical: str) -> None:
    assert identifiers.cylinder_id(typed) == canonical


@pytest.mark.parametrize("bad", ["BAD-ID", "156-4101", "156--4101-1", "1560-1-1", "000-1-1", "156-4101-1\x00", "", "156_4101_1"])
def test_bad_cylinder_ids_are_refused(bad: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        identifiers.cylinder_id(bad)
    assert caught.value.field == "cylinder_id"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("04a1b2c3", "04A1B2C3"),
        ("04:A2:C4:D2:E1:5A:80", "04A2C4D2E15A80"),
        ("04 a2 c4 d2 e1 5a 80", "04A2C4D2E15A80"),
        ("04-A2-C4-D2-E1-5A-80", "04A2C4D2E15A80"),
        ("０４Ａ２Ｃ４Ｄ２Ｅ１５Ａ８０", "04A2C4D2E15A80"),
        ("0102030405060708090A", "0102030405060708090A"),
    ],
)
def test_tag_uids_are_upper_hex_of_4_7_or_10_bytes(typed: str, canonical: str) -> None:
    assert identifiers.tag_uid(typed) == canonical


@pytest.mark.parametrize("bad", ["04A1B2", "04A1B2C3D4", "04A2C4D2E15A8", "04A2C4D2E15AZZ", "0x04A1B2C3", ""])
def test_other_uid_lengths_and_non_hex_are_refused(bad: str) -> None:
    with pytest.raises(IdentifierError, match="4, 7 or 10 bytes"):
        identifiers.tag_uid(bad)


def test_comparison_keys_never_raise_on_what_a_tag_says() -> None:
    assert identifiers.plate_key("not a plate") == "NOTAPLATE"
    assert identifiers.vin_key("lsvau2180n2183744") == "LSVAU2180N2183744"
    assert identifiers.canonical_or_none(identifiers.plate, "粤I12345", "plate") is None


def test_records_are_signed_with_canonical_identifiers() -> None:
    typed = typical_record(bytes.fromhex("04A2C4D2E15A80"), datetime(2026, 11, 22, tzinfo=UTC)).to_json()
    typed |= {
        "plate": "豫ａ·8m2k7",
        "vin": "lsvau2180n2183744",
        "cylinder_id": "１５６-4101-0019012345",
        "tag_uid": "04:a2:c4:d2:e1:5a:80",
    }
    record = CylinderRecord.from_json(typed)
    assert (record.plate, record.vin, str(record.cylinder_id)) == ("豫A8M2K7", "LSVAU2180N2183744", "156-4101-19012345")
    assert record.tag_uid == bytes.fromhex("04A2C4D2E15A80")
    with pytest.raises(IdentifierError, match="plate"):
        CylinderRecord.from_json(typed | {"plate": "not a plate"})


def _rule_by_unicodedata(char: str) -> str | None:
    """The rules as the Unicode database states them, one character at a time."""
    category = unicodedata.category(char)
    code = ord(char)
    if category == "Cc":
        return "contains a control character"
    if category == "Cs":
        return "contains a lone surrogate (not valid Unicode text)"
    if category == "Cn" and (0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE):
        return "contains a Unicode non-character"
    return None


def test_the_forbidden_character_scan_agrees_with_the_unicode_database_on_every_code_point() -> None:
    """has_forbidden_character scans with one regex class; it must forbid exactly what the
    categories say, character by character, and name the first broken rule of a longer text."""
    disagreements = [code for code in range(0x110000) if has_forbidden_character(chr(code)) != _rule_by_unicodedata(chr(code))]
    assert disagreements == []
    assert has_forbidden_character("粤B12345") is None
    assert has_forbidden_character("A\ufffeB\x00") == "contains a Unicode non-character"
    assert has_forbidden_character("A\x85B\ud800") == "contains a control character"
