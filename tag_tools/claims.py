"""The claims of a cylinder tag record: what an inspection centre asserts about one cylinder.

A record is a CBOR map with small integer keys (see schemas/tag-record.cddl). This module converts
between that map and `CylinderRecord`, and validates every field strictly: anything read from a
tag is hostile until proven otherwise, so each type, length and range is checked and a violation is
a RecordFormatError, never a crash.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import Any, TypeVar

from tag_tools import identifiers, rules
from tag_tools.errors import RecordFormatError, UnsupportedVersionError

FORMAT_VERSION = 1

EPOCH_DATE = date(1970, 1, 1)
# Dates outside this window are certainly wrong on a cylinder record; bounding them also keeps
# date arithmetic on hostile values from overflowing.
LATEST_DAY = (date(2199, 12, 31) - EPOCH_DATE).days
LATEST_SECOND = int(datetime(2199, 12, 31, tzinfo=UTC).timestamp())

E = TypeVar("E", bound=IntEnum)

VIN_PATTERN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")  # ISO 3779: no I, O or Q


class Key(IntEnum):
    """Claim keys. Stable forever within format version 1."""

    VERSION = 1
    SERIAL = 2
    CYLINDER_ID = 3
    MANUFACTURER = 4
    KIND = 5
    WORKING_PRESSURE = 6
    WATER_CAPACITY = 7
    MANUFACTURED = 8
    INSPECTED = 9
    RESULT = 10
    NEXT_DUE = 11
    END_OF_LIFE = 12
    PLATE = 13
    VIN = 14
    VEHICLE_CYLINDERS = 15
    CENTRE = 16
    REPORT = 17
    SEQUENCE = 18
    ISSUED_AT = 19
    TAG_UID = 20
    STATUS = 21  # optional: [list id, index] in the signed status list (schemas/status-list.md)


# Records signed before the status list existed have no status claim; they stay valid and fall
# back to the registry's revocation feed. Every other claim is required.
OPTIONAL_KEYS = frozenset({Key.STATUS})
MAX_STATUS_LIST_ID = 0xFFFF
MAX_STATUS_INDEX = 2**32 - 1


class CylinderKind(IntEnum):
    """ISO 11439 / GB 24162 types of CNG cylinder, and the other fuels a tag may name."""

    CNG1 = 1  # all metal
    CNG2 = 2  # metal liner, hoop-wrapped
    CNG3 = 3  # metal liner, fully wrapped
    CNG4 = 4  # non-metallic liner, fully wrapped
    LNG = 5
    LPG = 6

    @property
    def label(self) -> str:
        return {1: "CNG-1", 2: "CNG-2", 3: "CNG-3", 4: "CNG-4", 5: "LNG", 6: "LPG"}[self.value]

    @classmethod
    def from_label(cls, text: str) -> "CylinderKind":
        normalised = text.strip().upper().replace("_", "-")
        for kind in cls:
            if kind.label == normalised or kind.name == normalised:
                return kind
        raise ValueError(f"unknown cylinder kind {text!r} (expected CNG-1..CNG-4, LNG or LPG)")


class InspectionResult(IntEnum):
    PASSED = 0
    FAILED = 1


@dataclass(frozen=True)
class CylinderId:
    """An identifier in the shape of ISO 21007-2 numbering: issuer country, issuer, unique number."""

    country: int  # ISO 3166-1 numeric, 156 = China
    issuer: int  # code of the registered issuing body
    number: int  # unique within the issuer

    def __str__(self) -> str:
        return f"{self.country:03d}-{self.issuer}-{self.number}"

    @classmethod
    def parse(cls, text: str) -> "CylinderId":
        """Parse the text form `CCC-ISSUER-NUMBER` used in CSV files, APIs and logs."""
        parts = text.strip().split("-")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ValueError(f"cylinder id {text!r} is not of the form COUNTRY-ISSUER-NUMBER (digits)")
        country, issuer, number = (int(p) for p in parts)
        return _checked_cylinder_id([country, issuer, number])


@dataclass(frozen=True)
class StatusReference:
    """Where a record's status lives: entry `index` of status list `list_id`.

    The compact form of the draft's `status: {status_list: {idx, uri}}`: a small list id instead of
    a URI, which costs 8 bytes on the tag for any index up to 2^32-1 and list ids 0-23."""

    list_id: int
    index: int

    def to_cbor(self) -> list[int]:
        return [self.list_id, self.index]

    @classmethod
    def from_cbor(cls, value: object) -> "StatusReference":
        if not isinstance(value, list) or len(value) != 2 or any(type(v) is not int for v in value):
            raise RecordFormatError("claim 21 (status) must be [list id, index] integers")
        list_id, index = value
        if not (0 <= list_id <= MAX_STATUS_LIST_ID and 0 <= index <= MAX_STATUS_INDEX):
            raise RecordFormatError(
                f"claim 21 (status) is out of range (list id 0..{MAX_STATUS_LIST_ID}, index 0..{MAX_STATUS_INDEX})"
            )
        return cls(list_id, index)


@dataclass(frozen=True)
class CylinderRecord:
    """The decoded claims. Units are the ones stamped on cylinders: 0.1 MPa and 0.1 litre."""

    serial: str
    cylinder_id: CylinderId
    manufacturer: str
    kind: CylinderKind
    working_pressure_dmpa: int  # nominal working pressure in 0.1 MPa (200 = 20 MPa)
    water_capacity_dl: int  # water capacity in 0.1 litre (800 = 80.0 l)
    manufactured: date
    inspected: date
    result: InspectionResult
    next_due: date
    end_of_life: date
    plate: str
    vin: str
    vehicle_cylinders: int
    centre_id: str
    report_number: str
    sequence: int
    issued_at: datetime
    tag_uid: bytes
    version: int = FORMAT_VERSION
    status_ref: StatusReference | None = None  # claim 21, absent on records signed before it existed

    def with_changes(self, **changes: Any) -> "CylinderRecord":
        return replace(self, **changes)

    def to_cbor_map(self) -> dict[int, Any]:
        """The claims map, ready for deterministic CBOR encoding."""
        claims: dict[int, Any] = {
            Key.VERSION: self.version,
            Key.SERIAL: self.serial,
            Key.CYLINDER_ID: [self.cylinder_id.country, self.cylinder_id.issuer, self.cylinder_id.number],
            Key.MANUFACTURER: self.manufacturer,
            Key.KIND: int(self.kind),
            Key.WORKING_PRESSURE: self.working_pressure_dmpa,
            Key.WATER_CAPACITY: self.water_capacity_dl,
            Key.MANUFACTURED: _days(self.manufactured),
            Key.INSPECTED: _days(self.inspected),
            Key.RESULT: int(self.result),
            Key.NEXT_DUE: _days(self.next_due),
            Key.END_OF_LIFE: _days(self.end_of_life),
            Key.PLATE: self.plate,
            Key.VIN: self.vin,
            Key.VEHICLE_CYLINDERS: self.vehicle_cylinders,
            Key.CENTRE: self.centre_id,
            Key.REPORT: self.report_number,
            Key.SEQUENCE: self.sequence,
            Key.ISSUED_AT: int(self.issued_at.timestamp()),
            Key.TAG_UID: self.tag_uid,
        }
        if self.status_ref is not None:
            claims[Key.STATUS] = self.status_ref.to_cbor()
        return claims

    @classmethod
    def from_cbor_map(cls, claims: object) -> "CylinderRecord":
        """Validate a decoded claims map; RecordFormatError names the first bad claim."""
        if not isinstance(claims, dict):
            raise RecordFormatError("claims are not a CBOR map")
        version = claims.get(Key.VERSION)
        if type(version) is not int:
            raise RecordFormatError("claim 1 (format version) is missing or not an integer")
        if version != FORMAT_VERSION:
            raise UnsupportedVersionError(f"record format version {version} is not supported (only {FORMAT_VERSION})")
        allowed = {int(k) for k in Key}
        required = allowed - OPTIONAL_KEYS
        if not required <= set(claims) <= allowed:
            missing = sorted(required - set(claims), key=str)
            extra = sorted(set(claims) - allowed, key=str)
            raise RecordFormatError(f"claims map has missing keys {missing} or unknown keys {extra}")
        record = cls(
            version=version,
            serial=_text(claims, Key.SERIAL, 1, 32),
            cylinder_id=_checked_cylinder_id(claims[Key.CYLINDER_ID]),
            manufacturer=_text(claims, Key.MANUFACTURER, 1, 32),
            kind=_enum(claims, Key.KIND, CylinderKind),
            working_pressure_dmpa=_uint(claims, Key.WORKING_PRESSURE, 1, 1000),
            water_capacity_dl=_uint(claims, Key.WATER_CAPACITY, 1, 100_000),
            manufactured=_date(claims, Key.MANUFACTURED),
            inspected=_date(claims, Key.INSPECTED),
            result=_enum(claims, Key.RESULT, InspectionResult),
            next_due=_date(claims, Key.NEXT_DUE),
            end_of_life=_date(claims, Key.END_OF_LIFE),
            plate=_text(claims, Key.PLATE, 1, 16),
            vin=_text(claims, Key.VIN, 17, 17),
            vehicle_cylinders=_uint(claims, Key.VEHICLE_CYLINDERS, 1, 16),
            centre_id=_text(claims, Key.CENTRE, 1, 32),
            report_number=_text(claims, Key.REPORT, 1, 32),
            sequence=_uint(claims, Key.SEQUENCE, 0, 2**32 - 1),
            issued_at=datetime.fromtimestamp(_uint(claims, Key.ISSUED_AT, 0, LATEST_SECOND), UTC),
            tag_uid=_bytes(claims, Key.TAG_UID, 4, 10),
            status_ref=StatusReference.from_cbor(claims[Key.STATUS]) if Key.STATUS in claims else None,
        )
        record.check_consistency()
        return record

    def check_consistency(self) -> None:
        """Rules between claims, applied when signing and when reading."""
        if not VIN_PATTERN.fullmatch(self.vin):
            raise RecordFormatError(f"VIN {self.vin!r} is not 17 characters of A-Z (no I, O, Q) and 0-9")
        if not (self.manufactured <= self.inspected <= self.next_due):
            raise RecordFormatError("dates must satisfy manufactured <= inspected <= next due")
        if self.end_of_life <= self.manufactured:
            raise RecordFormatError("end of service life must be after the manufacture date")
        # Zone-free: the inspection date is the centre's local date, which may be a day ahead of
        # UTC; the signer and the station check it in their own zone (tag_tools.rules).
        if rules.issued_before_inspection(self.issued_at, self.inspected, rules.LATEST_ZONE):
            raise RecordFormatError("a record cannot be issued before its inspection")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with readable names; the inverse of `from_json`."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:  # an optional claim the record does not carry
                continue
            if isinstance(value, StatusReference):
                value = {"list_id": value.list_id, "index": value.index}
            elif isinstance(value, CylinderKind):
                value = value.label
            elif isinstance(value, InspectionResult):
                value = value.name.lower()
            elif isinstance(value, datetime):
                value = value.isoformat().replace("+00:00", "Z")
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, bytes):
                value = value.hex().upper()
            elif isinstance(value, CylinderId):
                value = str(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CylinderRecord":
        """Build from the readable form (inspection JSON, a CSV row); ValueError names the bad field.

        Plate, VIN, cylinder ID and tag UID are put in canonical form (tag_tools.identifiers) before
        they are signed, so every record names a vehicle the way the registry and stations do.
        Records read from tags are not rewritten (their signed bytes are what they are); those who
        compare them use the canonical form."""
        try:
            record = cls(
                version=int(data.get("version", FORMAT_VERSION)),
                serial=str(data["serial"]).strip(),
                cylinder_id=CylinderId.parse(identifiers.cylinder_id(data["cylinder_id"])),
                manufacturer=str(data["manufacturer"]).strip(),
                kind=CylinderKind.from_label(str(data["kind"])),
                working_pressure_dmpa=int(data["working_pressure_dmpa"]),
                water_capacity_dl=int(data["water_capacity_dl"]),
                manufactured=date.fromisoformat(str(data["manufactured"])),
                inspected=date.fromisoformat(str(data["inspected"])),
                result=InspectionResult[str(data["result"]).strip().upper()],
                next_due=date.fromisoformat(str(data["next_due"])),
                end_of_life=date.fromisoformat(str(data["end_of_life"])),
                plate=identifiers.plate(data["plate"]),
                vin=identifiers.vin(data["vin"]),
                vehicle_cylinders=int(data["vehicle_cylinders"]),
                centre_id=str(data["centre_id"]).strip(),
                report_number=str(data["report_number"]).strip(),
                sequence=int(data["sequence"]),
                issued_at=_parse_timestamp(str(data["issued_at"])),
                tag_uid=bytes.fromhex(identifiers.tag_uid(data["tag_uid"])),
                status_ref=_status_from_json(data.get("status_ref")),
            )
        except KeyError as missing:
            raise ValueError(f"field {missing.args[0]} is missing") from None
        # Round-trip through the wire form so a record built here obeys exactly the reader's rules.
        return cls.from_cbor_map(record.to_cbor_map())


def _status_from_json(value: object) -> StatusReference | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"list_id", "index"}:
        raise ValueError('status_ref must be {"list_id": n, "index": n}')
    try:
        return StatusReference(int(value["list_id"]), int(value["index"]))
    except TypeError:
        raise ValueError("status_ref list_id and index must be integers") from None


def _parse_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"issued_at {text!r} needs a time zone (for example 2026-11-22T08:00:00+08:00)")
    return moment.astimezone(UTC).replace(microsecond=0)


def _days(day: date) -> int:
    return (day - EPOCH_DATE).days


def _uint(claims: Mapping[Any, Any], key: Key, low: int, high: int) -> int:
    value = claims[key]
    # type() rather than isinstance: bool is an int subclass and must not pass as one.
    if type(value) is not int or not (low <= value <= high):
        raise RecordFormatError(f"claim {key.value} ({key.name.lower()}) must be an integer in {low}..{high}")
    return value


def _text(claims: Mapping[Any, Any], key: Key, shortest: int, longest: int) -> str:
    value = claims[key]
    if type(value) is not str or not (shortest <= len(value) <= longest) or not value.isprintable():
        raise RecordFormatError(
            f"claim {key.value} ({key.name.lower()}) must be printable text of {shortest}..{longest} characters"
        )
    return value


def _bytes(claims: Mapping[Any, Any], key: Key, shortest: int, longest: int) -> bytes:
    value = claims[key]
    if type(value) is not bytes or not (shortest <= len(value) <= longest):
        raise RecordFormatError(f"claim {key.value} ({key.name.lower()}) must be {shortest}..{longest} bytes")
    return value


def _date(claims: Mapping[Any, Any], key: Key) -> date:
    return EPOCH_DATE + timedelta(days=_uint(claims, key, 0, LATEST_DAY))


def _enum(claims: Mapping[Any, Any], key: Key, enum: type[E]) -> E:
    value = _uint(claims, key, 0, 255)
    try:
        return enum(value)
    except ValueError:
        raise RecordFormatError(f"claim {key.value} ({key.name.lower()}) has unknown value {value}") from None


def _checked_cylinder_id(value: object) -> CylinderId:
    if not isinstance(value, list) or len(value) != 3 or any(type(v) is not int for v in value):
        raise RecordFormatError("claim 3 (cylinder id) must be [country, issuer, number] integers")
    country, issuer, number = value
    if not (1 <= country <= 999 and 0 <= issuer <= 2**32 - 1 and 0 <= number <= 2**48 - 1):
        raise RecordFormatError("claim 3 (cylinder id) is out of range (country 1..999, issuer < 2^32, number < 2^48)")
    return CylinderId(country, issuer, number)
