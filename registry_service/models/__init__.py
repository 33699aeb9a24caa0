"""All tables; importing this package registers them on Base.metadata."""

from registry_service.models.accounts import ApiToken, AuditEntry, Role, User
from registry_service.models.base import Base, UTCDateTime
from registry_service.models.cylinders import (
    CentreCertificate,
    Cylinder,
    CylinderState,
    Inspection,
    InspectionCentre,
    Revocation,
    RevocationKind,
    TrustListPublication,
    Vehicle,
)
from registry_service.models.events import FILL_OUTCOMES, PROBLEM_OUTCOMES, Outcome, ScanEvent
from registry_service.models.faults import StationFault
from registry_service.models.places import Pump, Region, RegionLevel, Station
from registry_service.models.reversals import CondemnationReversal
from registry_service.models.rollups import CloneSuspect, ScanDayCount
from registry_service.models.security import DashboardSession, LoginThrottleEntry
from registry_service.models.shapes import Datum, RegionShape
from registry_service.models.status import StatusEntry, StatusIndexBlock, StatusListPublication

__all__ = [
    "FILL_OUTCOMES",
    "PROBLEM_OUTCOMES",
    "ApiToken",
    "AuditEntry",
    "Base",
    "CentreCertificate",
    "CloneSuspect",
    "CondemnationReversal",
    "Cylinder",
    "CylinderState",
    "DashboardSession",
    "Datum",
    "Inspection",
    "InspectionCentre",
    "LoginThrottleEntry",
    "Outcome",
    "Pump",
    "Region",
    "RegionLevel",
    "RegionShape",
    "Revocation",
    "RevocationKind",
    "Role",
    "ScanDayCount",
    "ScanEvent",
    "Station",
    "StationFault",
    "StatusEntry",
    "StatusIndexBlock",
    "StatusListPublication",
    "TrustListPublication",
    "UTCDateTime",
    "User",
    "Vehicle",
]
