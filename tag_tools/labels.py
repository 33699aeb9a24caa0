"""Words people read: claim labels and reason texts in Chinese (default) and English.

Shared by `cylinder-tag show`, the station's attendant screen and the bureau's pages, so a reason
reads the same everywhere.
"""

from typing import Literal

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

REASON_TEXT: dict[Reason, tuple[str, str]] = {
    Reason.NO_RECORD: ("标签内没有气瓶记录", "No cylinder record on the tag"),
    Reason.MALFORMED: ("标签记录损坏或格式错误", "Tag record is damaged or malformed"),
    Reason.UNSUPPORTED_VERSION: ("标签记录版本不受支持", "Record format version not supported"),
    Reason.UNKNOWN_SIGNER: ("签发机构不受信任", "Record signed by an unknown centre"),
    Reason.BAD_SIGNATURE: ("签名无效，记录可能被篡改", "Signature invalid: record forged or altered"),
    Reason.SIGNER_REVOKED: ("签发机构证书已被吊销", "Signing centre's certificate revoked"),
    Reason.SIGNER_NOT_VALID_AT_ISSUE: ("签发时机构证书无效", "Centre certificate not valid when the record was issued"),
    Reason.TRUST_LIST_STALE: ("信任列表过期，请联网更新", "Trust list out of date: connect to update"),
    Reason.TRUST_LIST_NOT_AUTHENTIC: ("信任列表无效", "Trust list not authentic"),
    Reason.ISSUED_IN_FUTURE: ("记录签发时间在未来，请检查时钟", "Record issued in the future: check the clock"),
    Reason.UID_MISMATCH: ("记录与标签不符（复制或转移的标签）", "Record belongs to another tag (copied or moved)"),
    Reason.INSPECTION_OVERDUE: ("气瓶超期未检", "Periodic inspection overdue"),
    Reason.INSPECTION_FAILED: ("气瓶检验不合格", "Cylinder failed its inspection"),
    Reason.PAST_SERVICE_LIFE: ("气瓶超过设计使用年限", "Cylinder past its design service life"),
    Reason.CYLINDER_REVOKED: ("气瓶已报废、判废或报失", "Cylinder condemned, scrapped or reported stolen"),
    Reason.RECORD_SUPERSEDED: ("记录已被更新的检验记录取代", "Record superseded by a newer inspection"),
    Reason.CHIP_NOT_GENUINE: ("标签芯片非原厂（疑似仿制）", "Tag chip is not genuine (suspected clone)"),
    Reason.DUE_SOON: ("气瓶即将到期，请尽快检验", "Inspection or end of life due soon"),
    Reason.CHIP_NOT_GENUINE_WARNING: ("标签芯片非原厂（仅提示）", "Tag chip is not genuine (warning only)"),
}


def _pick(pair: tuple[str, str], language: Language) -> str:
    return pair[0] if language == "zh" else pair[1]


def claim_label(name: str, language: Language = "zh") -> str:
    return _pick(CLAIM_LABELS.get(name, (name, name)), language)


def reason_text(reason: Reason, language: Language = "zh") -> str:
    return _pick(REASON_TEXT[reason], language)


def decision_text(decision: Decision, language: Language = "zh") -> str:
    return _pick(DECISION_TEXT[decision], language)
