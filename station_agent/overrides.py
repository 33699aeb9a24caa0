"""Supervisor overrides: the only way to fill a refused vehicle, and never a quiet one.

Rules, in the order they are checked: the station enforces; the session is refused with every
cylinder read; every refusal reason is on the policy's `overridable` list (overdue, failed,
scrapped, past-life, forged and moved records are not on it unless the station's policy file names
them); then, and only then, a configured supervisor with the right password (an Argon2id or
legacy scrypt hash in the config; an unknown id costs a check against the current algorithm's
dummy hash). The typed fields were checked with the shared rules (tag_tools.fields) before any of
this. Credentials are looked at last on purpose: without a refused vehicle the answer is the same
for a right and a wrong password, so the booth cannot be used to guess one at leisure, and each
guess costs a real vehicle session (station_agent.booth_throttle limits them further). The agent
records one event per refused cylinder, with attendant and supervisor, before the pump is enabled.
"""

from __future__ import annotations

from station_agent.config import StationConfig
from station_agent.errors import OverrideRefused
from station_agent.passwords import dummy_hash, verify_password
from station_agent.session import SessionState, VehicleSession

WRONG_CREDENTIALS = "unknown supervisor or wrong password"

# Why the booth refused an action, as codes (OverrideRefused.code): the page shows each in the
# attendant's words (station_agent.view.refusal_texts); the English message goes to the log.
MONITOR_MODE = "monitor_mode"
NO_REFUSED_VEHICLE = "no_refused_vehicle"
CYLINDERS_MISSING = "cylinders_missing"  # values: n
NOT_OVERRIDABLE = "not_overridable"  # values: reasons (codes)
BAD_CREDENTIALS = "wrong_credentials"
NOT_RECORDED = "not_recorded"  # the override's events could not be stored: nothing was released
INPUT_EMPTY = "input_empty"  # values of the input codes: field (tag_tools.fields rule), min / max
INPUT_TOO_SHORT = "input_too_short"
INPUT_TOO_LONG = "input_too_long"
INPUT_INVALID = "input_invalid"


def check_session(config: StationConfig, session: VehicleSession | None) -> None:
    """Raise OverrideRefused naming the first rule that fails, without looking at any credential."""
    if not config.policy.enforcing:
        raise OverrideRefused("monitor mode blocks nothing: there is nothing to override", code=MONITOR_MODE)
    # A refused session that has ended (its window passed) stays refused on screen, but is over:
    # only a vehicle at the pump now, read again, may be released.
    if session is None or session.state is not SessionState.REFUSED or session.finished:
        raise OverrideRefused("no refused vehicle to override", code=NO_REFUSED_VEHICLE)
    if session.missing():
        raise OverrideRefused(
            f"read the remaining {session.missing()} cylinder(s) first", code=CYLINDERS_MISSING, n=session.missing()
        )
    blocked = sorted(
        {r for c in session.refused_cylinders for r in c.reasons}
        - config.policy.overridable
        - {"due_soon", "chip_not_genuine_warning"}
    )
    if blocked:
        raise OverrideRefused(
            f"the policy does not allow overriding: {', '.join(blocked)}", code=NOT_OVERRIDABLE, reasons=tuple(blocked)
        )


def may_override(config: StationConfig, session: VehicleSession | None) -> bool:
    """Whether a supervisor could release this session now (the booth page offers the form only then)."""
    try:
        check_session(config, session)
    except OverrideRefused:
        return False
    return True


def credentials_match(config: StationConfig, supervisor_id: str, password: object) -> bool:
    """True for a configured supervisor and their password. An unknown id is verified against a
    dummy hash of the same cost, so the time taken does not tell known ids from unknown ones."""
    supervisor = config.supervisor(supervisor_id)
    matches = verify_password(password, supervisor.password_hash if supervisor is not None else dummy_hash())
    return matches and supervisor is not None
