"""Words and formats for the bureau's pages, in any language with a "dashboard" catalogue.

Every word is a message of the gettext domain "dashboard" (tag_tools/locale/<locale>/LC_MESSAGES/
dashboard.po, or the same path under a directory of CYLINDER_LOCALE_PATH), loaded by
tag_tools.messages; a message missing from a locale falls back to English. Dates, numbers,
percentages and lists use the locale's CLDR formats through Babel, so a new language needs a
catalogue and no code. Which locale a request gets is languages.py's business (Flask-Babel).

Message ids are keys: "overview", or family.member ("outcome.refused") for words picked at run time
from one of FAMILIES. Placeholders are in braces; numbers and dates put in them are formatted for
the locale first. A plural message's msgid_plural is its key plus ".plural". Reason texts are the
reason catalogue's (tag_tools.reason_catalogue), the words the attendant's screen shows.
"""

from __future__ import annotations

import copy
import gettext
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton
from babel.lists import format_list
from babel.numbers import NumberPattern, format_decimal
from babel.units import format_unit

from registry_service import grading_rules
from registry_service.dashboard import case_actions
from registry_service.dashboard.filters import FIELD_ERRORS
from registry_service.models import CaseAction, CaseKind, CaseState, CylinderState, Outcome, RevocationKind
from registry_service.models.grid import DUTIES
from registry_service.services import clones, health_reports, station_faults
from registry_service.services import patrols as patrol_service
from tag_tools import messages
from tag_tools.reason_catalogue import reason_text

DOMAIN = "dashboard"
DEFAULT_LOCALE = "zh_CN"
EMPTY = "–"  # a value that is not there: no word, the same in every language

# Vehicle uses the registry accepts (registry_service/csv_import.py).
VEHICLE_USES = ("taxi", "private", "bus", "truck", "other")
INSPECTION_RESULTS = ("pass", "fail")
# Station fault codes the bureau has words for (station_agent/faults.py, outbox.py); a code a station
# invents is shown as it was sent, and can never pick up one of the page's own words.
# Then the booth's supervisor-password faults and the station_event codes (the life of a fill and of the agent).
FAULT_CODES: tuple[str, ...] = (
    *("registry_rejected", "undecodable_event", "outbox_full", "interlock_fault", "reader_lost", "clock_skew"),
    *("override_refused", "supervisor_locked"),
    *("agent_started", "agent_stopped", "pump_enabled", "fill_ended", "session_abandoned", "clock_jump"),
    *("config_changed", "unexplained_quantity"),
)
ERRORS = ("not_found", "forbidden", "bad_request", "internal_error")

# Message families: a value known only at run time is worded by the message "<family>.<value>". This
# is their one list (tests/dashboard/test_catalogue.py asks the catalogues for each of them).
FAMILIES: Mapping[str, tuple[str, ...]] = {
    "outcome": tuple(o.value for o in Outcome),
    "state": tuple(s.value for s in CylinderState),
    "revocation": tuple(k.value for k in RevocationKind),
    "use": VEHICLE_USES,
    "result": INSPECTION_RESULTS,
    "clone": clones.KINDS,
    "clone_detail": clones.KINDS,
    "fault": (*station_faults.KINDS, *FAULT_CODES),
    "error": ERRORS,
    "field_error": FIELD_ERRORS,
    "offset": ("days", "hours", "minutes", "seconds"),
    # Station health pages (health_views.py).
    "alarm": health_reports.ALARM_KINDS,
    "alarm_source": health_reports.ALARM_SOURCES,
    "unit": health_reports.UNITS,
    "policy_mode": health_reports.POLICY_MODES,
    "override": ("overridden", *health_reports.REFUSED_OVERRIDE_CODES),
    # Grid case pages (case_views.py): kinds, states (and the list's "open"), timeline steps,
    # the action buttons, why an action was refused, a grid person's duty.
    "case_kind": tuple(k.value for k in CaseKind),
    "case_state": (*(s.value for s in CaseState), "open"),
    "case_action": tuple(a.value for a in CaseAction),
    "case_do": case_actions.ACTIONS,
    "case_error": case_actions.CASE_ERRORS,
    "grid_duty": DUTIES,
    # Station grades and patrols (grade_views.py); a checklist code from a rules file has no words: shown as it is.
    "grade": grading_rules.GRADES,
    "measure": grading_rules.MEASURES,
    "patrol_item": grading_rules.DEFAULT_CHECKLIST,
    "patrol_result": patrol_service.RESULTS,
}
# Which fact of a suspect chooses the plural form of its detail (the others have none).
_CLONE_DETAIL_COUNTS: Mapping[str, str] = {"too_many_fills_per_day": "count"}
# Units of a clock offset, largest first: (seconds per unit, its "offset" family member).
_OFFSET_UNITS: tuple[tuple[int, str], ...] = ((86400, "days"), (3600, "hours"), (60, "minutes"), (1, "seconds"))


def installed() -> tuple[str, ...]:
    """Every locale with a dashboard catalogue (built-in or in CYLINDER_LOCALE_PATH), e.g. ("en", "zh_CN")."""
    return messages.available_locales(DOMAIN)


def resolve(value: str | None) -> str | None:
    """The installed locale that serves `value` ("zh" → "zh_CN"), None for anything else."""
    return messages.resolve_locale(value, DOMAIN) if value else None


def language_tag(code: str) -> str:
    """The BCP 47 tag of a catalogue's locale, for `lang` attributes: "zh_CN" → "zh-CN"."""
    return code.replace("_", "-")


def parse_locale(code: str) -> Locale:
    """Babel's locale data for a catalogue's directory name; English formats for a name CLDR lacks."""
    try:
        return Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(messages.SOURCE_LOCALE)


@dataclass(frozen=True)
class Words:
    """Everything the pages say in one locale: catalogue messages and CLDR formats."""

    code: str  # the catalogue's locale, e.g. "zh_CN"
    locale: Locale
    translations: gettext.NullTranslations

    @classmethod
    def of(cls, code: str) -> Words:
        return cls(code, parse_locale(code), messages.translations(code, DOMAIN))

    @property
    def language_tag(self) -> str:
        return language_tag(self.code)

    @property
    def name(self) -> str:
        return messages.own_name(self.code)

    # Messages ------------------------------------------------------------------------------------

    def gettext(self, key: str, **values: object) -> str:
        return self._fill(self.translations.gettext(key), values)

    def ngettext(self, key: str, number: int, **values: object) -> str:
        """The plural form of `key` the locale's rules choose for `number`."""
        return self._fill(self.translations.ngettext(key, key + ".plural", number), values)

    def label(self, family: str, value: str | None, **values: object) -> str:
        """A value's words from its family's messages; a value the family does not list, as it is."""
        if value is None:
            return EMPTY
        key = family + "." + value  # not an f-string: the message extractor warns about those
        return self.gettext(key, **values) if value in FAMILIES[family] else value

    def label_plural(self, family: str, value: str, number: int, **values: object) -> str:
        """A family member's message with plural forms, chosen for `number`."""
        key = family + "." + value
        return self.ngettext(key, number, **values) if value in FAMILIES[family] else value

    def reason(self, code: str) -> str:
        return reason_text(code, self.code)

    def clone_detail(self, suspect: clones.Suspect) -> str:
        """A suspect's facts in words (the API words the same facts in English: Suspect.detail)."""
        count = _CLONE_DETAIL_COUNTS.get(suspect.kind)
        if count is None:
            return self.label("clone_detail", suspect.kind, **suspect.facts)
        number = suspect.facts[count]
        return self.label_plural("clone_detail", suspect.kind, number if isinstance(number, int) else 0, **suspect.facts)

    def _fill(self, text: str, values: Mapping[str, object]) -> str:
        return messages.filled(text, {name: self._value(v) for name, v in values.items()})

    def _value(self, value: object) -> object:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return self.integer(value)
        if isinstance(value, float):
            return self.decimal(value)
        if isinstance(value, date):
            return self.day(value)
        return value

    # Formats -------------------------------------------------------------------------------------

    def integer(self, value: int | float | None) -> str:
        return EMPTY if value is None else format_decimal(int(value), locale=self.locale)

    def decimal(self, value: float, digits: int = 1) -> str:
        """A number with exactly `digits` decimals, in the locale's pattern and symbols."""
        return str(_fixed(self.locale.decimal_formats[None], digits).apply(value, self.locale))

    def percent(self, value: float) -> str:
        """A share (0.123) as a percentage with one decimal: 12.3% / 12,3 %."""
        return str(_fixed(self.locale.percent_formats[None], 1).apply(value, self.locale))

    def day(self, value: date | None) -> str:
        return EMPTY if value is None else format_date(value, "medium", locale=self.locale)

    def day_short(self, value: date) -> str:
        """Axis labels: month and day (11月22日 / Nov 22)."""
        return format_skeleton("MMMd", value, locale=self.locale)

    def timestamp(self, value: datetime | None, utc_offset_hours: int) -> str:
        """An instant in the bureau's time zone (a fixed UTC offset, as the reports count days)."""
        if value is None:
            return EMPTY
        zone = timezone(timedelta(hours=utc_offset_hours))
        return format_datetime(value, "medium", tzinfo=zone, locale=self.locale)

    def offset(self, milliseconds: int | None) -> str:
        """A station's clock offset in the largest unit that keeps two or more of it: +11 min, or 2 d behind
        with a minus sign (U+2212)."""
        if milliseconds is None:
            return ""
        seconds = abs(milliseconds) // 1000
        size, unit = next((u for u in _OFFSET_UNITS if seconds >= 2 * u[0]), _OFFSET_UNITS[-1])
        sign = "−" if milliseconds < 0 else "+"
        count = seconds // size
        return sign + self.label_plural("offset", unit, count, n=count)

    def quantity(self, value: float | None, unit: str | None) -> str:
        """Gas in its unit, with up to three decimals as a totaliser gives them: 12.5 kg, 1,234.5 Nm³."""
        if value is None:
            return EMPTY
        number = format_decimal(value, format="#,##0.###", locale=self.locale)
        return self.gettext("quantity_in_unit", n=number, unit=self.label("unit", unit)) if unit else number

    def duration(self, seconds: float) -> str:
        """How long, in CLDR's short units: minutes under two hours, else hours with one decimal."""
        if seconds < 7200:
            return format_unit(round(seconds / 60), "duration-minute", length="short", locale=self.locale)
        return format_unit(seconds / 3600, "duration-hour", length="short", format="#,##0.0", locale=self.locale)

    def joined(self, items: Iterable[str]) -> str:
        """Several items as one phrase, the locale's way (A, B, and C / A、B和C)."""
        return format_list(list(items), locale=self.locale)


def _fixed(pattern: NumberPattern, digits: int) -> NumberPattern:
    """The locale's number pattern with exactly `digits` decimals (CLDR's have none or up to three)."""
    fixed = copy.copy(pattern)
    fixed.frac_prec = (digits, digits)
    return fixed
