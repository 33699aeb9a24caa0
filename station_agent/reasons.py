"""Reason codes the station adds to tag_tools' own, and the words the attendant reads for them.

Codes are the stable strings the registry stores (registry_service/services/reasons.py knows
`unregistered`, `registration_mismatch` and `tag_unreadable`; others land in its OTHER bit).
"""

from tag_tools.labels import Language, reason_text
from tag_tools.verdict import Reason

REGISTRATION_MISMATCH = "registration_mismatch"  # record names another vehicle than the session's
UNREGISTERED = "unregistered"  # registry does not know the cylinder
REFILLED_TOO_SOON = "refilled_too_soon"  # same cylinder filled within the minimum interval
CYLINDER_MISSING = "cylinder_missing"  # session window closed before all cylinders were read
AGENT_ERROR = "agent_error"  # the agent failed while judging this read: refused, stored, reported
CLOCK_UNSET = "clock_unset"  # the station's clock is not set (e.g. 1970 after a boot without time sync)

STATION_REASON_TEXT: dict[str, tuple[str, str]] = {
    REGISTRATION_MISMATCH: ("气瓶登记的车辆与本车不符", "Cylinder is registered to another vehicle"),
    UNREGISTERED: ("气瓶未在监管平台登记", "Cylinder not registered with the bureau"),
    REFILLED_TOO_SOON: ("该气瓶一小时内已加过气", "Cylinder was filled less than an hour ago"),
    CYLINDER_MISSING: ("未读取本车全部气瓶标签", "Not every cylinder of the vehicle was read"),
    AGENT_ERROR: ("系统内部错误，禁止加气", "Internal error while checking: do not fill"),
    CLOCK_UNSET: ("本机时钟未同步，请稍候", "Station clock not set: wait for time sync"),
}

KNOWN_REASONS = frozenset({r.value for r in Reason} | set(STATION_REASON_TEXT))


def text_for(code: str, language: Language = "zh") -> str:
    """Plain words for a reason code; an unknown code (from a newer registry) is shown as is."""
    if code in STATION_REASON_TEXT:
        pair = STATION_REASON_TEXT[code]
        return pair[0] if language == "zh" else pair[1]
    try:
        return reason_text(Reason(code), language)
    except ValueError:
        return code
