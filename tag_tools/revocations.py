"""Cylinders and records revoked centrally, as a station knows them from its last sync.

The registry publishes these; the station agent keeps a local copy so that offline decisions still
catch condemned, scrapped and stolen cylinders, and records superseded by a newer inspection.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class CylinderRevocation(StrEnum):
    CONDEMNED = "condemned"
    SCRAPPED = "scrapped"
    REPORTED_STOLEN = "reported_stolen"


@dataclass(frozen=True)
class Revocations:
    """`cylinders`: cylinder id (text form) -> why it may never be filled again.
    `latest_sequence`: cylinder id -> sequence number of its newest record; older ones are superseded."""

    cylinders: Mapping[str, CylinderRevocation] = field(default_factory=dict)
    latest_sequence: Mapping[str, int] = field(default_factory=dict)

    def cylinder_revocation(self, cylinder_id: str) -> CylinderRevocation | None:
        return self.cylinders.get(cylinder_id)

    def is_superseded(self, cylinder_id: str, sequence: int) -> bool:
        latest = self.latest_sequence.get(cylinder_id)
        return latest is not None and sequence < latest


NO_REVOCATIONS = Revocations()


def revocations_from_json(data: object) -> Revocations:
    """From `{"cylinders": {id: reason}, "latest_sequence": {id: n}}`; ValueError names the problem."""
    if not isinstance(data, dict) or not set(data) <= {"cylinders", "latest_sequence"}:
        raise ValueError('revocations must be an object with "cylinders" and/or "latest_sequence"')
    cylinders = data.get("cylinders", {})
    latest = data.get("latest_sequence", {})
    if not isinstance(cylinders, dict) or not isinstance(latest, dict):
        raise ValueError('"cylinders" and "latest_sequence" must be objects keyed by cylinder id')
    try:
        parsed = {str(k): CylinderRevocation(v) for k, v in cylinders.items()}
    except ValueError:
        raise ValueError(f"cylinder revocation reasons must be one of {[r.value for r in CylinderRevocation]}") from None
    if not all(type(v) is int and v >= 0 for v in latest.values()):
        raise ValueError('"latest_sequence" values must be non-negative integers')
    return Revocations(parsed, {str(k): v for k, v in latest.items()})
