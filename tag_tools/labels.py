"""Words people read: claim labels, decisions and reason texts in Chinese (default) and English.

Shared by `cylinder-tag show`, the station's attendant screen and the bureau's pages, so a reason
reads the same everywhere.
"""

from typing import Literal

from tag_tools.reason_catalogue import reason_text as catalogue_reason_text
from tag_tools.verdict import Decision, Reason

Language = Literal["zh", "en"]

CLAIM_LABELS: dict[str, tuple[str, str]] = {
    "version": ("格式版本", "Format version"),
    "serial": ("气瓶钢印编号", "Serial as stamped"),
    "cylinder_id": ("气瓶识别码", "Cylinder ID (ISO 21007-2)"),
    "manufacturer": ("制造单位", "Manufacturer"),
    "kind": ("气瓶类型", "Cylinder kind"),
    "working_pressure_dmpa": ("公称工作压力 (0.1 MPa)", "Working pressure (0.1 MPa)"),
    "water_capacity_dl": ("水容积 (0.1 L)", "Water capacity (0.1 l)"),
    "manufactured": ("制造日期", "Manufactured"),
    "inspected": ("检验日期", "Inspected"),
    "result": ("检验结论", "Inspection result"),
    "next_due": ("下次检验日期", "Next inspection due"),
    "end_of_life": ("设计使用年限届满", "End of design service life"),
    "plate": ("车牌号", "Plate"),
    "vin": ("车辆识别代号", "VIN"),
    "vehicle_cylinders": ("车载气瓶数", "Cylinders on vehicle"),
    "centre_id": ("检验机构", "Inspection centre"),
    "report_number": ("检验报告编号", "Report number"),
    "sequence": ("记录序号", "Record sequence"),
    "issued_at": ("签发时间", "Issued at"),
    "tag_uid": ("标签 UID", "Tag UID"),
}

DECISION_TEXT: dict[Decision, tuple[str, str]] = {
    Decision.ALLOW: ("可以加气", "Fill"),
    Decision.ALLOW_WITH_WARNING: ("可以加气（请注意）", "Fill (note the warning)"),
    Decision.REFUSE: ("禁止加气", "Do not fill"),
}

# Reason texts are not here: tag_tools.reason_catalogue serves them from the gettext catalogues.


def _pick(pair: tuple[str, str], language: Language) -> str:
    return pair[0] if language == "zh" else pair[1]


def claim_label(name: str, language: Language = "zh") -> str:
    return _pick(CLAIM_LABELS.get(name, (name, name)), language)


def reason_text(reason: Reason, language: Language = "zh") -> str:
    return catalogue_reason_text(reason.value, language)


def decision_text(decision: Decision, language: Language = "zh") -> str:
    return _pick(DECISION_TEXT[decision], language)
