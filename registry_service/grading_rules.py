"""The rules that grade stations A-D and set how often each grade is patrolled, and the patrol checklist.

Defaults are in code; a bureau changes them with a JSON file named by REGISTRY_GRADING_RULES
(docs/grid.md, "Station grades and patrols", shows the file and the table). A file gives only what
it changes; a key it does not know, a wrong type, thresholds out of order or a bad checklist code is
a GradingRulesError naming the key, raised when the rules are loaded, never a grade computed from a
half-read file.

Measures, each per station over the window (default the last 90 days):
- overrides_per_1000: fills released over a refusal per 1,000 fills. Counted from the day roll-ups,
  and divided by at least `min_fills`, so that a station with a few dozen fills is not a D for one
  override (the count still shows: a station with many overrides and few fills still grades down).
- refusals_handled: the share of the station's cases (not its patrol failures, which are the last
  measure) that are closed; cases younger than `handling_grace_days` are not counted yet, since no
  one could have closed them; 1.0 when there are none. Higher is better.
- hours_dark: hours the station was silent while open (silent alarms, overlaps once).
- unexplained_quantity: unexplained_quantity alarms raised (a count: kg and Nm3 do not add up).
- patrol_failures: failed checklist items in the last `patrols_considered` patrols.

The worst measure decides the grade (not points): each measure is a different way gas reaches a
cylinder that should not be filled, and a station good at four of them must not average away the
fifth. It also tells the station exactly what to fix: the stored grade lists its deciding measures.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from registry_service.errors import ConfigError

GRADES: Final = ("A", "B", "C", "D")
OVERRIDES_PER_1000: Final = "overrides_per_1000"
REFUSALS_HANDLED: Final = "refusals_handled"
HOURS_DARK: Final = "hours_dark"
UNEXPLAINED_QUANTITY: Final = "unexplained_quantity"
PATROL_FAILURES: Final = "patrol_failures"
MEASURES: Final = (OVERRIDES_PER_1000, REFUSALS_HANDLED, HOURS_DARK, UNEXPLAINED_QUANTITY, PATROL_FAILURES)
HIGHER_IS_BETTER: Final = frozenset({REFUSALS_HANDLED})

# The fixed checklist a patrol fills in, as codes (the words are the dashboard catalogue's,
# "patrol_item" family). What an officer can see and try at a filling station in a few minutes.
DEFAULT_CHECKLIST: Final = (
    "reader_works",  # each pump's tag reader reads a tag
    "interlock_blocks",  # a refused tag leaves the pump locked
    "no_bypass",  # no hose, switch or wiring around the interlock
    "overrides_logged",  # every override in the booth's log has a supervisor and a reason
    "supervisor_secret_kept",  # the supervisor's password is not posted or shared
    "clock_correct",  # the booth's clock agrees with the officer's
    "meter_matches",  # the pump totaliser agrees with the last reading the registry holds
    "refusal_notice_posted",  # drivers can read why a fill is refused and where to inspect
    "responsibility_sign",  # the sign naming the station's and the grid's responsible people
    "staff_know_procedure",  # the attendant on duty can tell what to do with a refused cylinder
)
MAX_CHECKLIST_ITEMS: Final = 60
ITEM_CODE: Final = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_TOP_KEYS: Final = frozenset(
    {"window_days", "min_fills", "handling_grace_days", "patrols_considered", "thresholds", "patrol_interval_days", "checklist"}
)


class GradingRulesError(ConfigError):
    """A grading rules file that cannot be used: unreadable, not JSON, or a value out of place."""


@dataclass(frozen=True)
class Limits:
    """The worst value still graded A, B and C; anything worse is D. For a measure where higher is
    better, the least value still at each grade."""

    a: float
    b: float
    c: float

    def grade(self, value: float, higher_is_better: bool) -> str:
        for grade, limit in zip(GRADES, (self.a, self.b, self.c), strict=False):
            if (value >= limit) if higher_is_better else (value <= limit):
                return grade
        return "D"


DEFAULT_THRESHOLDS: Final[Mapping[str, Limits]] = {
    OVERRIDES_PER_1000: Limits(1.0, 5.0, 20.0),
    REFUSALS_HANDLED: Limits(0.9, 0.75, 0.5),
    HOURS_DARK: Limits(4.0, 24.0, 72.0),
    UNEXPLAINED_QUANTITY: Limits(0, 1, 3),
    PATROL_FAILURES: Limits(0, 1, 3),
}
DEFAULT_INTERVALS: Final[Mapping[str, int]] = {"A": 90, "B": 30, "C": 14, "D": 7}


@dataclass(frozen=True)
class GradingRules:
    window_days: int = 90
    min_fills: int = 500
    handling_grace_days: int = 14
    patrols_considered: int = 2
    thresholds: Mapping[str, Limits] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    # Days between patrols by grade; a station never graded is patrolled as a B.
    patrol_interval_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_INTERVALS))
    checklist: tuple[str, ...] = DEFAULT_CHECKLIST

    def grade(self, measures: Mapping[str, float]) -> tuple[str, list[str]]:
        """The worst grade any measure reaches, and the measures at it (none when the grade is A)."""
        by_measure = {name: self.thresholds[name].grade(measures[name], name in HIGHER_IS_BETTER) for name in MEASURES}
        worst = max(by_measure.values(), key=GRADES.index)
        return worst, [] if worst == "A" else [name for name in MEASURES if by_measure[name] == worst]

    def interval_days(self, grade: str | None) -> int:
        return self.patrol_interval_days[grade or "B"]


def load(path: str | Path | None) -> GradingRules:
    """The defaults, changed by the JSON file at `path` (None: the defaults)."""
    if path is None:
        return GradingRules()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GradingRulesError(f"cannot read the grading rules file {path}: {exc}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise GradingRulesError(f"grading rules file {path} is not JSON: {exc}") from exc
    return from_document(document)


def current(path: str | Path | None) -> GradingRules:
    """The rules at `path` as the file is now: read again only when the file changed (the API and
    the pages ask on every request; a bureau editing the file needs no restart)."""
    if path is None:
        return GradingRules()
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise GradingRulesError(f"cannot read the grading rules file {path}: {exc.strerror}") from exc
    return _load_at(str(path), stamp)


@functools.lru_cache(maxsize=4)
def _load_at(path: str, stamp: int) -> GradingRules:
    return load(path)


def from_document(document: object) -> GradingRules:
    """Rules from a parsed JSON document (see load)."""
    if not isinstance(document, dict):
        raise GradingRulesError("grading rules: the file must hold one JSON object")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise GradingRulesError(f"grading rules: unknown key(s) {', '.join(unknown)}")
    rules = GradingRules()
    changes: dict[str, Any] = {}
    for key, low, high in (
        ("window_days", 7, 730),
        ("min_fills", 0, 1_000_000),
        ("handling_grace_days", 0, 365),
        ("patrols_considered", 1, 20),
    ):
        if key in document:
            changes[key] = _whole(document[key], key, low, high)
    if "thresholds" in document:
        changes["thresholds"] = _thresholds(document["thresholds"], rules.thresholds)
    if "patrol_interval_days" in document:
        changes["patrol_interval_days"] = _intervals(document["patrol_interval_days"], rules.patrol_interval_days)
    if "checklist" in document:
        changes["checklist"] = _checklist(document["checklist"])
    return replace(rules, **changes)


def _whole(value: object, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GradingRulesError(f"grading rules: {key} must be a whole number from {low} to {high}")
    return value


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1_000_000:
        raise GradingRulesError(f"grading rules: {key} must be a number from 0 to 1000000")
    return float(value)


def _thresholds(value: object, defaults: Mapping[str, Limits]) -> dict[str, Limits]:
    if not isinstance(value, dict):
        raise GradingRulesError("grading rules: thresholds must be an object of measures")
    unknown = sorted(set(value) - set(MEASURES))
    if unknown:
        raise GradingRulesError(f"grading rules: unknown measure(s) {', '.join(unknown)}; known: {', '.join(MEASURES)}")
    result = dict(defaults)
    for measure, limits in value.items():
        key = f"thresholds.{measure}"
        if not isinstance(limits, dict) or set(limits) != {"A", "B", "C"}:
            raise GradingRulesError(f'grading rules: {key} must be {{"A": …, "B": …, "C": …}} (worse than C is D)')
        a, b, c = (_number(limits[g], f"{key}.{g}") for g in ("A", "B", "C"))
        ordered = a >= b >= c if measure in HIGHER_IS_BETTER else a <= b <= c
        if not ordered:
            direction = "at least" if measure in HIGHER_IS_BETTER else "at most"
            raise GradingRulesError(f"grading rules: {key}: A's limit must be {direction} B's, and B's {direction} C's")
        if measure == REFUSALS_HANDLED and a > 1:
            raise GradingRulesError(f"grading rules: {key} is a share, from 0 to 1")
        result[measure] = Limits(a, b, c)
    return result


def _intervals(value: object, defaults: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(value, dict) or not set(value) <= set(GRADES):
        raise GradingRulesError("grading rules: patrol_interval_days must be an object with keys among A, B, C, D")
    result = dict(defaults)
    for grade, days in value.items():
        result[grade] = _whole(days, f"patrol_interval_days.{grade}", 1, 366)
    days_in_order = [result[grade] for grade in GRADES]
    if days_in_order != sorted(days_in_order, reverse=True):
        raise GradingRulesError(
            "grading rules: patrol_interval_days must not grow from A to D (a worse grade is patrolled as often or more)"
        )
    return result


def _checklist(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CHECKLIST_ITEMS:
        raise GradingRulesError(f"grading rules: checklist must be a list of 1 to {MAX_CHECKLIST_ITEMS} item codes")
    bad = [repr(item) for item in value if not isinstance(item, str) or not ITEM_CODE.match(item)]
    if bad:
        raise GradingRulesError(
            f"grading rules: checklist codes must be lowercase words with _ (2-40 characters): {', '.join(bad)}"
        )
    if len(set(value)) != len(value):
        raise GradingRulesError("grading rules: checklist codes must be unique")
    return tuple(value)
