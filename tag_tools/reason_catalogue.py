"""The one catalogue of reason codes: code, bit, severity, default overridability, text key.

The catalogue is data (`tag_tools/locale/reasons.json`, beside the gettext catalogues that hold the
texts) so that the handheld verifier's JavaScript reads the same file. Every Python consumer goes
through this module: tag_tools.verdict (which reasons only warn), the registry's reason bit masks,
the station's default `policy.overridable` and known codes, and every screen's reason words.

Adding a reason: append one line to reasons.json with the next bit, add its text to every
`locale/*/LC_MESSAGES/reasons.po`; tests then say what else is missing (a verifier reason needs its
tag_tools.verdict.Reason member). Bits are append-only: the registry stores masks built from them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from tag_tools.errors import TagToolsError
from tag_tools.messages import LOCALE_DIR, filled, message, plural_message

CATALOGUE_FILE: Path = LOCALE_DIR / "reasons.json"
DOMAIN = "reasons"  # gettext domain of the texts: locale/<locale>/LC_MESSAGES/reasons.po
FORMAT = 1
# The registry keeps masks in a signed 64-bit column and bit 62 for codes it does not know yet.
MAX_BIT = 61
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,47}")  # the registry's and the API's ReasonCode pattern
PARAM_PATTERN = re.compile(r"[a-z][a-z_]*")

# Messages the texts' placeholders use. {interval}: the station's minimum refill interval.
INTERVAL_MESSAGES: tuple[tuple[int, str, str], ...] = (
    (3600, "interval.hours", "interval.hours.plural"),
    (60, "interval.minutes", "interval.minutes.plural"),
    (1, "interval.seconds", "interval.seconds.plural"),
)


class ReasonCatalogueError(TagToolsError, ValueError):
    """reasons.json is not a valid catalogue (a packaging or editing mistake, caught at import)."""


class Severity(StrEnum):
    REFUSE = "refuse"  # no fill (unless a supervisor may and does override)
    WARNING = "warning"  # the fill goes ahead, the attendant is told
    INFO = "info"  # recorded for the bureau; decides nothing by itself


class Origin(StrEnum):
    VERIFIER = "verifier"  # tag_tools.verify: a tag_tools.verdict.Reason member
    STATION = "station"  # the station agent, beyond the tag's own verdict
    REGISTRY = "registry"  # the registry's status answers


@dataclass(frozen=True)
class ReasonEntry:
    code: str
    bit: int
    severity: Severity
    overridable: bool  # by default; a station's policy.overridable may say otherwise
    origin: Origin
    msgid: str
    params: tuple[str, ...] = ()

    @property
    def mask(self) -> int:
        return 1 << self.bit


@dataclass(frozen=True)
class ReasonCatalogue:
    entries: tuple[ReasonEntry, ...]  # in bit order

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(e.code for e in self.entries)

    def get(self, code: str) -> ReasonEntry | None:
        return next((e for e in self.entries if e.code == code), None)

    def codes_where(
        self, *, severity: Severity | None = None, origin: Origin | None = None, overridable: bool | None = None
    ) -> tuple[str, ...]:
        return tuple(
            e.code
            for e in self.entries
            if (severity is None or e.severity is severity)
            and (origin is None or e.origin is origin)
            and (overridable is None or e.overridable is overridable)
        )

    def msgids(self) -> frozenset[str]:
        """Every message the reason texts use: what each reasons.po must hold, and nothing more."""
        params = {p for e in self.entries for p in e.params}
        used = {e.msgid for e in self.entries} | {unknown_param_msgid(p) for p in params}
        if "interval" in params:
            used |= {one for _, one, _many in INTERVAL_MESSAGES}  # a plural message's key is its singular msgid
        return frozenset(used)


def unknown_param_msgid(param: str) -> str:
    """Said in place of a placeholder whose value the screen does not know (the bureau does not know
    each station's refill interval)."""
    return f"param.{param}.unknown"


def _entry(raw: object, position: int) -> ReasonEntry:
    if not isinstance(raw, dict):
        raise ReasonCatalogueError(f"reason #{position} is not an object")
    allowed = {"code", "bit", "severity", "overridable", "origin", "msgid", "params"}
    if set(raw) - allowed or not {"code", "bit", "severity", "overridable", "origin", "msgid"} <= set(raw):
        raise ReasonCatalogueError(f"reason #{position} must have exactly the keys {sorted(allowed)} (params optional)")
    code, bit, params = raw["code"], raw["bit"], raw.get("params", [])
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        raise ReasonCatalogueError(f"reason #{position}: bad code {code!r}")
    # Bits are the file's order: append-only by construction, no gaps, none reused.
    if not isinstance(bit, int) or isinstance(bit, bool) or bit != position:
        raise ReasonCatalogueError(f"{code}: bit {bit!r} must be {position} (bits are append-only, in file order)")
    if bit > MAX_BIT:
        raise ReasonCatalogueError(f"{code}: bit {bit} beyond {MAX_BIT}, the registry's mask is full")
    if not isinstance(raw["overridable"], bool) or not isinstance(raw["msgid"], str) or not raw["msgid"]:
        raise ReasonCatalogueError(f"{code}: overridable must be true/false and msgid a non-empty string")
    if not isinstance(params, list) or not all(isinstance(p, str) and PARAM_PATTERN.fullmatch(p) for p in params):
        raise ReasonCatalogueError(f"{code}: params must be a list of placeholder names")
    try:
        severity, origin = Severity(raw["severity"]), Origin(raw["origin"])
    except ValueError as exc:
        raise ReasonCatalogueError(f"{code}: {exc}") from exc
    if raw["overridable"] and severity is not Severity.REFUSE:
        raise ReasonCatalogueError(f"{code}: only a refusal can be overridable")
    return ReasonEntry(code, bit, severity, raw["overridable"], origin, raw["msgid"], tuple(params))


def parse(data: object) -> ReasonCatalogue:
    """Check and type a decoded reasons.json."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("reasons"), list):
        raise ReasonCatalogueError(f"a reason catalogue is an object with format {FORMAT} and a reasons list")
    entries = tuple(_entry(raw, position) for position, raw in enumerate(data["reasons"]))
    for field in ("code", "msgid"):
        values = [getattr(e, field) for e in entries]
        if len(values) != len(set(values)):
            raise ReasonCatalogueError(f"duplicate {field} in the reason catalogue")
    return ReasonCatalogue(entries)


@lru_cache(maxsize=1)
def catalogue() -> ReasonCatalogue:
    """The packaged catalogue, read once."""
    try:
        data = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReasonCatalogueError(f"cannot read {CATALOGUE_FILE}: {exc}") from exc
    return parse(data)


def interval_text(interval: timedelta, locale: str) -> str:
    """A refill interval in the largest whole unit: "1 hour", "90 minutes"; "1小时", "90分钟"."""
    seconds = max(int(interval.total_seconds()), 0)
    size, one, many = next((m for m in INTERVAL_MESSAGES if seconds and seconds % m[0] == 0), INTERVAL_MESSAGES[-1])
    count = seconds // size
    return plural_message(locale, DOMAIN, one, many, count).format(n=count)


def reason_text(code: str, locale: str = "zh", **params: str) -> str:
    """The words for a reason code in `locale` ("zh", "zh_CN", "en", "es", ...).

    `params` fill the text's placeholders; one not given reads as that placeholder's "unknown"
    message. An unknown code (from a newer peer) or one with no text in any catalogue shows as is.
    """
    entry = catalogue().get(code)
    if entry is None:
        return code
    text = message(locale, DOMAIN, entry.msgid, code)
    if text == code or not entry.params:
        return text
    values = {p: params.get(p) or message(locale, DOMAIN, unknown_param_msgid(p), p) for p in entry.params}
    return filled(text, values)
