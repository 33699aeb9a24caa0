"""The vehicles that drive past the reader, and the tags they carry.

Each scenario says what a centre signed, what ended up on the tag (forged, moved or as signed),
whether the inspection was reported to the registry, and what the station must decide. Dates are
relative to today so the story reads the same on any day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from cylinder_demo.bureau import Bureau, Signer
from tag_tools.claims import CylinderId, CylinderKind, CylinderRecord, InspectionResult
from tag_tools.cli.demo import postpone_due_date
from tag_tools.verdict import Decision

YEAR = timedelta(days=365)
MOVED_TO_UID = bytes.fromhex("04FFEE11223344")  # a genuine blank tag the valid record was copied onto


class Tamper(StrEnum):
    NONE = "none"
    FORGED = "forged"  # claims edited (next-due pushed back three years), original signature kept
    MOVED = "moved"  # a valid record written onto another tag


@dataclass(frozen=True)
class CylinderSpec:
    uid: bytes  # the tag the centre bound the record to
    number: int  # the cylinder ID's serial part (156-4101-number)
    inspected_days_ago: int = 30
    next_due_in_days: int = 3 * 365
    end_of_life: date = date(2034, 5, 31)


@dataclass(frozen=True)
class Scenario:
    label: str
    plate: str
    vin: str
    cylinders: tuple[CylinderSpec, ...]
    decision: Decision  # what the station must decide
    reasons: tuple[str, ...]  # the reason codes it must give, most serious first
    tamper: Tamper = Tamper.NONE
    certified: bool = True  # False: signed by a centre the bureau never certified
    reported: bool = True  # the centre reported the inspection to the registry


@dataclass(frozen=True)
class Tag:
    """One emulated tag as it reaches the reader."""

    uid: bytes
    message: bytes


@dataclass(frozen=True)
class SignedVehicle:
    scenario: Scenario
    tags: tuple[Tag, ...]
    reports: tuple[bytes, ...] = field(default=())  # records the centre submits to the registry


def scenarios(today: date) -> tuple[Scenario, ...]:
    past_life = today - timedelta(days=60)
    return (
        Scenario(
            "valid",
            "豫A8M2K7",
            "LSVAU2180N2183744",
            (CylinderSpec(bytes.fromhex("04A2C4D2E15A80"), 19012345),),
            Decision.ALLOW,
            (),
        ),
        Scenario(
            "due soon",
            "豫A3Q7T1",
            "LFV2A21K0N3047712",
            (CylinderSpec(bytes.fromhex("04A2C4D2E15A81"), 19012346, 3 * 365 - 20, 12),),
            Decision.ALLOW_WITH_WARNING,
            ("due_soon",),
        ),
        Scenario(
            "overdue",
            "豫AD5521",
            "LGBH52E05NY118406",
            (CylinderSpec(bytes.fromhex("04A2C4D2E15A82"), 19012347, 3 * 365 + 40, -40),),
            Decision.REFUSE,
            ("inspection_overdue",),
        ),
        Scenario(
            "past service life",
            "豫A1P0X9",
            "LSGJA52U8CH094517",
            (CylinderSpec(bytes.fromhex("04A2C4D2E15A83"), 12004411, 200, 2 * 365, past_life),),
            Decision.REFUSE,
            ("past_service_life",),
        ),
        Scenario(
            "forged",
            "豫A7K3N8",
            "LZYTATE65N1047322",
            (CylinderSpec(bytes.fromhex("04A2C4D2E15A84"), 19012348, 3 * 365 + 100, -100),),
            Decision.REFUSE,
            ("bad_signature",),
            tamper=Tamper.FORGED,
        ),
        Scenario(
            "moved to another tag",
            "豫A5H2M6",
            "LNBSCU3H5NR129845",
            (CylinderSpec(bytes.fromhex("04A2C4D2E15A85"), 19012349),),
            Decision.REFUSE,
            ("uid_mismatch",),
            tamper=Tamper.MOVED,
        ),
        Scenario(
            "unknown centre",
            "豫A9C6R4",
            "LVVDB11B8ND205613",
            (CylinderSpec(bytes.fromhex("04A2C4D2E15A86"), 19012350),),
            Decision.REFUSE,
            ("unknown_signer",),
            certified=False,
            reported=False,
        ),
        Scenario(
            "bus, 1 of 3 overdue",
            "豫A2B015",
            "LKLG7H1B4NA051927",
            (
                CylinderSpec(bytes.fromhex("04A2C4D2E15A87"), 19012351, 200, 165),
                CylinderSpec(bytes.fromhex("04A2C4D2E15A88"), 19012352, 200, 165),
                CylinderSpec(bytes.fromhex("04A2C4D2E15A89"), 19012353, 365 + 25, -25),
            ),
            Decision.REFUSE,
            ("inspection_overdue",),
        ),
    )


def _record(scenario: Scenario, spec: CylinderSpec, signer: Signer, today: date, report: int) -> CylinderRecord:
    """What the centre signs for one cylinder: every fleet vehicle runs on 80-litre TIANHAI CNG-2 cylinders."""
    inspected = today - timedelta(days=spec.inspected_days_ago)
    life_start = date(spec.end_of_life.year - 15, spec.end_of_life.month, min(spec.end_of_life.day, 28))  # GB 17258: 15 years
    manufactured = min(date(2019, 6, 1), life_start)
    return CylinderRecord(
        serial=f"TH{manufactured:%Y}CNG2-{spec.number:09d}",
        cylinder_id=CylinderId(156, 4101, spec.number),
        manufacturer="TIANHAI",
        kind=CylinderKind.CNG2,
        working_pressure_dmpa=200,
        water_capacity_dl=800,
        manufactured=manufactured,
        inspected=inspected,
        result=InspectionResult.PASSED,
        next_due=today + timedelta(days=spec.next_due_in_days),
        end_of_life=spec.end_of_life,
        plate=scenario.plate,
        vin=scenario.vin,
        vehicle_cylinders=len(scenario.cylinders),
        centre_id=signer.centre_id,
        report_number=f"{inspected:%Y}-{report:06d}",
        sequence=1,
        issued_at=datetime.combine(inspected, time(2, 0), UTC),  # 10:00 in Zhengzhou, inspection day
        tag_uid=spec.uid,
    )


def sign_vehicle(scenario: Scenario, bureau: Bureau, today: date, first_report: int) -> SignedVehicle:
    """What the centre wrote for each cylinder, then what a forger or a copier did to the tag."""
    signer = bureau.centre if scenario.certified else bureau.rogue
    tags, reports = [], []
    for index, spec in enumerate(scenario.cylinders):
        message = signer.sign(_record(scenario, spec, signer, today, first_report + index))
        if scenario.reported:
            reports.append(message)
        if scenario.tamper is Tamper.FORGED:
            tags.append(Tag(spec.uid, postpone_due_date(message, days=3 * 365)))
        elif scenario.tamper is Tamper.MOVED:
            tags.append(Tag(MOVED_TO_UID, message))
        else:
            tags.append(Tag(spec.uid, message))
    return SignedVehicle(scenario, tuple(tags), tuple(reports))


def sign_fleet(bureau: Bureau, today: date) -> list[SignedVehicle]:
    vehicles, report = [], 4518
    for scenario in scenarios(today):
        vehicles.append(sign_vehicle(scenario, bureau, today, report))
        report += len(scenario.cylinders)
    return vehicles
