"""All tables; importing this package registers them on Base.metadata."""

from registry_service.models.accounts import ApiToken, AuditEntry, Role, User
from registry_service.models.base import Base, UTCDateTime
from registry_service.models.cases import Case, CaseAction, CaseKind, CaseState, CaseStep
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
from registry_service.models.grades import Patrol, StationGrade
from registry_service.models.grid import GridPerson
from registry_service.models.handheld import HandheldCheck
from registry_service.models.health import HeartbeatHistory, PumpHeartbeat, StationAlarm
from registry_service.models.meters import PumpMeter
from registry_service.models.notices import Channel, Notice, NoticeKind, NoticeState, OwnerContact
from registry_service.models.places import Pump, Region, RegionLevel, Station
from registry_service.models.policies import PolicyDocument, StationPolicyRow
from registry_service.models.region_rollups import LateScanDay, RegionDayTotal, RegionRollupState, RegionRollupStation
from registry_service.models.reversals import CondemnationReversal
from registry_service.models.rollups import CloneArrival, CloneSuspect, ScanDayCount, ScanDayTotal, ScanMonthTotal
from registry_service.models.security import DashboardSession, LoginThrottleEntry
from registry_service.models.shapes import Datum, RegionShape
from registry_service.models.status import StatusEntry, StatusIndexBlock, StatusListPublication

__all__ = [
    "FILL_OUTCOMES",
    "PROBLEM_OUTCOMES",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Case",
    "CaseAction",
    "CaseKind",
    "CaseState",
    "CaseStep",
    "CentreCertificate",
    "Channel",
    "CloneArrival",
    "CloneSuspect",
    "CondemnationReversal",
    "Cylinder",
    "CylinderState",
    "DashboardSession",
    "Datum",
    "GridPerson",
    "HandheldCheck",
    "HeartbeatHistory",
    "Inspection",
    "InspectionCentre",
    "LateScanDay",
    "LoginThrottleEntry",
    "Notice",
    "NoticeKind",
    "NoticeState",
    "Outcome",
    "OwnerContact",
    "Patrol",
    "PolicyDocument",
    "Pump",
    "PumpHeartbeat",
    "PumpMeter",
    "Region",
    "RegionDayTotal",
    "RegionLevel",
    "RegionRollupState",
    "RegionRollupStation",
    "RegionShape",
    "Revocation",
    "RevocationKind",
    "Role",
    "ScanDayCount",
    "ScanDayTotal",
    "ScanEvent",
    "ScanMonthTotal",
    "Station",
    "StationAlarm",
    "StationFault",
    "StationGrade",
    "StationPolicyRow",
    "StatusEntry",
    "StatusIndexBlock",
    "StatusListPublication",
    "TrustListPublication",
    "UTCDateTime",
    "User",
    "Vehicle",
]
