"""Step deadlines of cases: how long a case may stay in each state before it escalates (docs/grid.md).

Defaults are in code; a bureau changes them with a JSON file named by REGISTRY_CASE_RULES:

    {"deadlines_hours": {"default": {"reported": 12},
                         "silent_station": {"reported": 2, "dispatched": 8}}}

"default" changes every kind; a kind's own entry wins over it. A file gives only what it changes. An
unknown kind or state, a value that is not a positive number of hours, or an unreadable file is a
CaseRulesError naming the key, raised when the rules are loaded (at start), never a half-read file.
A closed case has no deadline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from registry_service.errors import ConfigError
from registry_service.models.cases import CaseKind, CaseState

# Hours a case may stay in each open state. Reported -> accepted within a working day; dispatching
# is a lead's decision the same day; the work itself gets three days; verification and closing a
# day each. A station gone dark or gas nobody explains is acted on within hours.
DEFAULT_HOURS: Final[Mapping[CaseState, float]] = {
    CaseState.REPORTED: 24.0,
    CaseState.ACCEPTED: 24.0,
    CaseState.DISPATCHED: 72.0,
    CaseState.HANDLED: 48.0,
    CaseState.VERIFIED: 24.0,
}
KIND_HOURS: Final[Mapping[CaseKind, Mapping[CaseState, float]]] = {
    CaseKind.SILENT_STATION: {CaseState.REPORTED: 4.0, CaseState.ACCEPTED: 4.0, CaseState.DISPATCHED: 24.0},
    CaseKind.UNEXPLAINED_QUANTITY: {CaseState.REPORTED: 8.0, CaseState.ACCEPTED: 8.0},
    CaseKind.CLONE_SUSPECT: {CaseState.REPORTED: 8.0},
}
OPEN_STATES: Final = tuple(state for state in CaseState if state is not CaseState.CLOSED)
MAX_HOURS: Final = 24.0 * 366
_OPEN_VALUES: Final = frozenset(state.value for state in OPEN_STATES)
_KIND_VALUES: Final = frozenset(kind.value for kind in CaseKind)


class CaseRulesError(ConfigError):
    """A case rules file that cannot be used: unreadable, not JSON, or a value out of place."""


@dataclass(frozen=True)
class CaseRules:
    hours: Mapping[CaseKind, Mapping[CaseState, float]] = field(default_factory=dict)

    def deadline(self, kind: str, state: str) -> timedelta | None:
        """How long a case of `kind` may stay in `state`; None for a closed case."""
        if state not in _OPEN_VALUES:
            return None
        step = CaseState(state)
        by_kind = self.hours.get(CaseKind(kind), DEFAULT_HOURS) if kind in _KIND_VALUES else DEFAULT_HOURS
        return timedelta(hours=by_kind.get(step, DEFAULT_HOURS[step]))


def default_rules() -> CaseRules:
    return _built({})


def load(path: str | Path | None) -> CaseRules:
    """The rules from a JSON file (None: the defaults)."""
    if path is None:
        return default_rules()
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CaseRulesError(f"case rules {path}: cannot read it ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaseRulesError(f"case rules {path}: not a JSON document ({exc})") from exc
    return from_document(document)


def from_document(document: Any) -> CaseRules:
    if not isinstance(document, dict) or set(document) - {"deadlines_hours"}:
        raise CaseRulesError("case rules: an object with the one key deadlines_hours")
    given = document.get("deadlines_hours", {})
    if not isinstance(given, dict):
        raise CaseRulesError("case rules: deadlines_hours must be an object")
    kinds = _KIND_VALUES
    changes: dict[str, dict[CaseState, float]] = {}
    for name, steps in given.items():
        if name != "default" and name not in kinds:
            raise CaseRulesError(f"case rules: deadlines_hours.{name} is not a case kind (default, {', '.join(sorted(kinds))})")
        if not isinstance(steps, dict):
            raise CaseRulesError(f"case rules: deadlines_hours.{name} must be an object of state: hours")
        changes[name] = {_state(name, state): _hours(name, state, hours) for state, hours in steps.items()}
    return _built(changes)


def _built(changes: Mapping[str, Mapping[CaseState, float]]) -> CaseRules:
    base = {**DEFAULT_HOURS, **changes.get("default", {})}
    hours = {kind: {**base, **KIND_HOURS.get(kind, {}), **changes.get(kind.value, {})} for kind in CaseKind}
    return CaseRules(hours)


def _state(kind: str, state: object) -> CaseState:
    if state not in _OPEN_VALUES:
        raise CaseRulesError(f"case rules: deadlines_hours.{kind}.{state} is not an open state ({', '.join(OPEN_STATES)})")
    return CaseState(str(state))


def _hours(kind: str, state: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CaseRulesError(f"case rules: deadlines_hours.{kind}.{state} must be a number of hours")
    if not 0 < value <= MAX_HOURS:
        raise CaseRulesError(f"case rules: deadlines_hours.{kind}.{state} must be above 0 and at most {MAX_HOURS:g} hours")
    return float(value)


_active: list[CaseRules] = []


def use(rules: CaseRules) -> None:
    """The rules this process applies where no caller passes its own (set once at start, from
    RegistryConfig.case_rules_path: the ingest hooks cannot carry the configuration down)."""
    _active[:] = [rules]


def active() -> CaseRules:
    return _active[0] if _active else _DEFAULT


_DEFAULT: Final = default_rules()
