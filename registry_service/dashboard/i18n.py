"""Words and formats for the bureau's pages: Chinese by default, English on request.

A small formatter of our own for the page words: the pages need two locales, local dates in the
bureau's time zone and grouped integers. Reason codes are not here: their words come from the reason
catalogue's gettext catalogues (tag_tools.reason_catalogue), the same the attendant's screen reads,
in any language with a catalogue installed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from tag_tools.reason_catalogue import reason_text

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
LANG_COOKIE = "lang"

MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("车用气瓶加气监管", "Vehicle cylinder filling supervision"),
    "bureau": ("市场监督管理局", "Market supervision bureau"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "bad_credentials": ("用户名或密码错误", "Wrong user name or password"),
    "locked_out": ("登录失败次数过多，请于 {minutes} 分钟后再试", "Too many failed sign-ins: try again in {minutes} minutes"),
    "role_refused": ("此账户无权使用监管平台", "This account may not use the bureau's dashboard"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "overview": ("总览", "Overview"),
    "attempts": ("加气记录查询", "Refuel attempts"),
    "inspections": ("检验记录", "Inspections"),
    "refused": ("拒绝加气", "Refused"),
    "overridden": ("强制加气", "Overridden"),
    "would_refuse": ("试运行应拒", "Would refuse (monitor)"),
    "allowed": ("正常加气", "Allowed"),
    "total": ("合计", "Total"),
    "per_day": ("每日问题加气次数", "Problem attempts per day"),
    "by_area": ("按网格统计", "By grid area"),
    "top_stations": ("强制加气与拒绝最多的加气站", "Stations with most overrides and refusals"),
    "suspected_clones": ("疑似复制标签", "Suspected cloned tags"),
    "no_data": ("所选范围内没有记录", "Nothing in the selected range"),
    "area": ("区域", "Area"),
    "station": ("加气站", "Station"),
    "stations": ("加气站", "Stations"),
    "vehicle": ("车辆", "Vehicle"),
    "cylinder": ("气瓶", "Cylinder"),
    "plate": ("车牌号", "Plate"),
    "cylinder_id": ("气瓶识别码", "Cylinder ID"),
    "tag_uid": ("标签 UID", "Tag UID"),
    "outcome": ("结果", "Outcome"),
    "reason": ("原因", "Reason"),
    "reasons": ("原因", "Reasons"),
    "any": ("全部", "Any"),
    "since": ("开始日期", "From"),
    "until": ("结束日期", "To"),
    "region": ("网格/区域代码", "Grid cell or area code"),
    "time": ("时间", "Time"),
    "pump": ("加气枪", "Pump"),
    "attendant": ("操作员", "Attendant"),
    "supervisor": ("授权主管", "Supervisor"),
    "override_reason": ("强制加气理由", "Override reason"),
    "offline": ("离线", "offline"),
    "decided_offline": ("加气站离线判定", "Decided by the station offline"),
    "apply": ("查询", "Search"),
    "reset": ("重置", "Reset"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "results": ("共 {count} 条记录", "{count} attempts"),
    "results_capped": ("超过 {count} 条记录", "More than {count} attempts"),
    "page_of": ("第 {page} 页", "Page {page}"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "kind": ("类型", "Kind"),
    "detail": ("说明", "Detail"),
    "previous_station": ("上一次加气站", "Previous station"),
    "history_scans": ("加气记录", "Refuel attempts"),
    "history_inspections": ("检验记录", "Inspections"),
    "history_overrides": ("强制加气记录", "Overrides"),
    "history_revocations": ("吊销/报废记录", "Revocations"),
    "cylinders": ("车载气瓶", "Cylinders on the vehicle"),
    "use": ("车辆用途", "Use"),
    "state": ("状态", "State"),
    "next_due": ("下次检验日期", "Next inspection due"),
    "end_of_life": ("设计使用年限届满", "End of service life"),
    "last_result": ("最近检验结论", "Last inspection result"),
    "manufacturer": ("制造单位", "Manufacturer"),
    "serial": ("钢印编号", "Serial"),
    "inspected_on": ("检验日期", "Inspected on"),
    "report_number": ("报告编号", "Report number"),
    "result": ("结论", "Result"),
    "centre": ("检验机构", "Inspection centre"),
    "monitor_mode": ("试运行（只记录不拦截）", "Monitor mode (logs, does not block)"),
    "enforcing": ("拦截模式", "Enforcing"),
    "pumps": ("加气枪数", "Pumps"),
    "coordinates": ("坐标", "Coordinates"),
    "overdue": ("已超期", "Overdue"),
    "not_found": ("没有找到", "Not found"),
    "forbidden": ("无权访问此页面", "You may not see this page"),
    "internal_error": ("系统出错，已记录，请稍后再试", "Something went wrong; it was logged, try again later"),
    "bad_request": ("请求无效，请刷新页面后重试", "Invalid request: reload the page and try again"),
    "back_to_overview": ("返回总览", "Back to overview"),
    "local_time_note": ("时间为北京时间（UTC+{hours}）", "Times are local (UTC+{hours})"),
    "city": ("全市", "Whole city"),
    "drill_hint": ("点击区域名称查看下一级", "Click an area to see the level below"),
    "last_days": ("最近 {days} 天", "Last {days} days"),
    "sort_by": ("排序", "Sort"),
    "pass": ("合格", "Pass"),
    "fail": ("不合格", "Fail"),
    "active": ("在用", "In use"),
    "condemned": ("判废", "Condemned"),
    "scrapped": ("已报废", "Scrapped"),
    "reported_stolen": ("报失", "Reported stolen"),
    "superseded": ("记录被取代", "Record superseded"),
    "taxi": ("出租车", "Taxi"),
    "private": ("私家车", "Private car"),
    "bus": ("公交车", "Bus"),
    "truck": ("货车", "Truck"),
    "impossible_travel": ("异地加气时间间隔过短", "Impossible travel between stations"),
    "counter_not_increasing": ("标签读取计数未递增", "Tag read counter did not increase"),
    "fills_within_hour": ("一小时内重复加气", "Two fills within an hour"),
    "too_many_fills_per_day": ("单日加气次数过多", "Too many fills in one day"),
    "language": ("English", "中文"),
    "centre_scope": ("仅显示本机构的检验记录", "Only your centre's inspections are shown"),
    "none": ("无", "None"),
    # Station fault reports (schemas/station-fault-report.md)
    "station_faults": ("加气站故障报告", "Station fault reports"),
    "station_faults_of": ("本站故障报告", "This station's fault reports"),
    "fault_code": ("代码", "Code"),
    "occurred_at": ("发生时间（加气站时钟）", "Occurred (station clock)"),
    "received_at": ("接收时间", "Received"),
    "cleared_at": ("恢复时间", "Cleared"),
    "not_cleared": ("未恢复", "Not cleared"),
    "malformed": ("格式有误（保存原文）", "Malformed (kept as sent)"),
    "subject": ("相关记录", "About"),
    "payload": ("被拒数据", "Refused data"),
    "payload_bytes": ("{count} 字节", "{count} bytes"),
    "hash_only": ("仅保存哈希", "hash only"),
    "faults_count": ("本页 {count} 条报告", "{count} reports on this page"),
    # Events from a station whose clock was off (services/events.py): the time shown is corrected.
    "clock_off": ("时钟偏差", "Clock off"),
    "station_clock_said": ("已按偏差校正；加气站时钟显示 {time}", "Corrected for the offset; the station's clock said {time}"),
}

# Units of a clock offset, largest first: (seconds per unit, zh, en).
_OFFSET_UNITS: tuple[tuple[int, str, str], ...] = ((86400, "天", "d"), (3600, "小时", "h"), (60, "分钟", "min"), (1, "秒", "s"))

# Kinds and codes of station fault reports: their own table, so a code a station invents can never
# pick up the text of one of the page's own words.
FAULT_LABELS: dict[str, tuple[str, str]] = {
    "rejected_event": ("被登记系统拒收的记录", "Event rejected by the registry"),
    "quarantined_event": ("无法读取、已隔离的记录", "Unreadable event, quarantined"),
    "station_fault": ("加气站设备故障", "Station equipment fault"),
    "registry_rejected": ("登记系统拒收", "Refused by the registry"),
    "undecodable_event": ("记录无法解码", "Event could not be decoded"),
    "outbox_full": ("待上传队列已满", "Upload queue full"),
    "interlock_fault": ("加气机联锁故障", "Pump interlock fault"),
    "reader_lost": ("读卡器断开", "Tag reader lost"),
    "clock_skew": ("加气站时钟偏差", "Station clock off"),
}

# The clone detector (services/clones.py) explains each suspect in an English sentence; these
# patterns give the Chinese reading. A sentence they do not know is shown as it is.
_CLONE_DETAILS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^(?P<km>[\d.]+) km in (?P<min>\d+) min \((?P<speed>\d+) km/h\)$"),
        "{min} 分钟内相距 {km} 公里（约 {speed} 公里/小时）",
    ),
    (re.compile(r"^read counter (?P<now>\d+) after (?P<before>\d+)$"), "读取计数 {now}，低于上次的 {before}"),
    (re.compile(r"^two fills (?P<min>\d+) min apart$"), "两次加气相隔 {min} 分钟"),
    (re.compile(r"^(?P<count>\d+) fills on (?P<day>[\d-]+)$"), "{day} 加气 {count} 次"),
)

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pick_lang(query_value: str | None, cookie_value: str | None) -> Lang:
    """?lang= wins over the cookie; anything unknown falls back to Chinese."""
    for value in (query_value, cookie_value):
        if value in LANGS:
            return value
    return DEFAULT_LANG


def translate(key: str, lang: Lang, **values: object) -> str:
    pair = MESSAGES.get(key)
    text = key if pair is None else pair[0 if lang == "zh" else 1]
    return text.format(**values) if values else text


def reason_label(code: str, lang: str) -> str:
    """A reason's words in `lang` ("zh", "en", or any locale with a reasons catalogue); the code itself
    if unknown. The bureau does not know each station's refill interval: the text says so in words."""
    return reason_text(code, lang)


def fault_label(code: str | None, lang: Lang) -> str:
    if code is None:
        return "–"
    pair = FAULT_LABELS.get(code)
    return code if pair is None else pair[0 if lang == "zh" else 1]


def clone_detail(detail: str, lang: Lang) -> str:
    if lang == "en":
        return detail
    for pattern, text in _CLONE_DETAILS:
        match = pattern.match(detail)
        if match:
            return text.format(**match.groupdict())
    return detail


def format_int(value: int | float | None, lang: Lang) -> str:
    """Grouped by thousands: both zh-CN and en use a comma."""
    if value is None:
        return "–"
    return f"{int(value):,}"


def format_offset(milliseconds: int | None, lang: Lang) -> str:
    """A station's clock offset in the largest unit that keeps two or more of it: +11 分钟, -2 天 (shown with a minus sign)."""
    if milliseconds is None:
        return ""
    seconds = abs(milliseconds) // 1000
    size, zh, en = next((unit for unit in _OFFSET_UNITS if seconds >= 2 * unit[0]), _OFFSET_UNITS[-1])
    sign = "−" if milliseconds < 0 else "+"
    return f"{sign}{seconds // size:,} {zh if lang == 'zh' else en}"


def format_percent(value: float, lang: Lang) -> str:
    return f"{value * 100:.1f}%"


def to_local(value: datetime, utc_offset_hours: int) -> datetime:
    return value.astimezone(timezone(timedelta(hours=utc_offset_hours)))


def format_date(value: date | None, lang: Lang) -> str:
    if value is None:
        return "–"
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def format_day_short(value: date, lang: Lang) -> str:
    """Axis labels: 11月22日 / 22 Nov."""
    return f"{value.month}月{value.day}日" if lang == "zh" else f"{value.day} {_MONTHS_EN[value.month - 1]}"


def format_datetime(value: datetime | None, lang: Lang, utc_offset_hours: int) -> str:
    if value is None:
        return "–"
    local = to_local(value, utc_offset_hours)
    return f"{format_date(local.date(), lang)} {local:%H:%M:%S}"
