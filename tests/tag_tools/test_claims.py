from datetime import date, datetime, timedelta

import pytest

from tag_tools import cbor_codec
from tag_tools.claims import CylinderId, CylinderKind, CylinderRecord, InspectionResult, Key
from tag_tools.errors import RecordFormatError, UnsupportedVersionError
from tests.testkit import typical_record


def test_round_trip_through_cbor(now: datetime, uid: bytes) -> None:
    record = typical_record(uid, now)
    assert CylinderRecord.from_cbor_map(cbor_codec.decode(cbor_codec.encode(record.to_cbor_map()), "claims")) == record


def test_round_trip_through_json(now: datetime, uid: bytes) -> None:
    record = typical_record(uid, now)
    assert CylinderRecord.from_json(record.to_json()) == record


def test_claim_keys_are_small_integers(now: datetime, uid: bytes) -> None:
    claims = typical_record(uid, now).to_cbor_map()
    assert sorted(claims) == list(range(1, 21))
    assert all(0 < key < 24 for key in claims)  # one-byte keys


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (Key.SERIAL, "", "serial"),
        (Key.SERIAL, 123, "serial"),
        (Key.KIND, 9, "unknown value 9"),
        (Key.RESULT, 2, "unknown value 2"),
        (Key.VEHICLE_CYLINDERS, 0, "vehicle_cylinders"),
        (Key.VEHICLE_CYLINDERS, True, "vehicle_cylinders"),
        (Key.VIN, "LSVAU2180N218374I", "VIN"),
        (Key.VIN, "SHORT", "vin"),
        (Key.TAG_UID, b"\x04", "tag_uid"),
        (Key.TAG_UID, "04A2C4", "tag_uid"),
        (Key.CYLINDER_ID, [156, 4101], "cylinder id"),
        (Key.CYLINDER_ID, [0, 4101, 1], "out of range"),
        (Key.NEXT_DUE, 2**64, "next_due"),
        (Key.NEXT_DUE, -1, "next_due"),
        (Key.ISSUED_AT, 1.5, "issued_at"),
        (Key.PLATE, "豫A\x00", "plate"),
    ],
)
def test_bad_claims_are_named(now: datetime, uid: bytes, key: Key, value: object, message: str) -> None:
    claims = typical_record(uid, now).to_cbor_map()
    claims[key] = value
    with pytest.raises(RecordFormatError, match=message):
        CylinderRecord.from_cbor_map(claims)


def test_missing_and_unknown_keys_are_refused(now: datetime, uid: bytes) -> None:
    claims = typical_record(uid, now).to_cbor_map()
    del claims[Key.PLATE]
    with pytest.raises(RecordFormatError, match="missing keys"):
        CylinderRecord.from_cbor_map(claims)
    claims = typical_record(uid, now).to_cbor_map()
    claims[99] = 1
    with pytest.raises(RecordFormatError, match="unknown keys"):
        CylinderRecord.from_cbor_map(claims)


def test_unsupported_version_is_its_own_error(now: datetime, uid: bytes) -> None:
    claims = typical_record(uid, now).to_cbor_map()
    claims[Key.VERSION] = 2
    with pytest.raises(UnsupportedVersionError):
        CylinderRecord.from_cbor_map(claims)


def test_dates_must_be_in_order(now: datetime, uid: bytes) -> None:
    record = typical_record(uid, now)
    with pytest.raises(RecordFormatError, match="manufactured <= inspected <= next due"):
        record.with_changes(next_due=record.inspected - timedelta(days=1)).check_consistency()
    with pytest.raises(RecordFormatError, match="end of service life"):
        record.with_changes(end_of_life=record.manufactured).check_consistency()


def test_cylinder_id_text_form() -> None:
    assert str(CylinderId(156, 4101, 19012345)) == "156-4101-19012345"
    assert CylinderId.parse("156-4101-19012345") == CylinderId(156, 4101, 19012345)
    for bad in ["156-4101", "CN-4101-1", "156--1", ""]:
        with pytest.raises(ValueError):
            CylinderId.parse(bad)


def test_kind_labels() -> None:
    assert CylinderKind.from_label("cng-4") is CylinderKind.CNG4
    assert CylinderKind.from_label("LPG") is CylinderKind.LPG
    with pytest.raises(ValueError):
        CylinderKind.from_label("CNG-5")


def test_from_json_reports_missing_field(now: datetime, uid: bytes) -> None:
    data = typical_record(uid, now).to_json()
    del data["vin"]
    with pytest.raises(ValueError, match="vin"):
        CylinderRecord.from_json(data)


def test_result_and_dates_in_json(now: datetime, uid: bytes) -> None:
    data = typical_record(uid, now, result=InspectionResult.FAILED, manufactured=date(2019, 6, 1)).to_json()
    assert data["result"] == "failed"
    assert data["manufactured"] == "2019-06-01"
    assert data["kind"] == "CNG-2"
