"""Supervisor overrides: the only way to fill a refused vehicle, and never a quiet one.

Rules: a configured supervisor with the right password (scrypt hash in the config), a typed
reason, a session that is refused with every cylinder read, and every refusal reason on the
policy's `overridable` list (overdue, failed, scrapped, past-life, forged and moved records are
not on it unless the station's policy file names them). The agent records one event per refused
cylinder, with attendant and supervisor, before the pump is enabled.
"""

from __future__ import annotations

from station_agent.config import StationConfig
from station_agent.errors import OverrideRefused
from station_agent.passwords import verify_password
from station_agent.session import SessionState, VehicleSession

MIN_REASON_LENGTH = 4


def check_override(
    config: StationConfig, session: VehicleSession | None, supervisor_id: str, password: str, reason: str
) -> None:
    """Raise OverrideRefused naming the first rule that fails; return when the override may proceed."""
    if not config.policy.enforcing:
        raise OverrideRefused("monitor mode blocks nothing: there is nothing to override")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise OverrideRefused("type the reason for the override")
    supervisor = config.supervisor(supervisor_id)
    if supervisor is None or not verify_password(password, supervisor.password_hash):
        raise OverrideRefused("unknown supervisor or wrong password")
    if session is None or session.state is not SessionState.REFUSED:
        raise OverrideRefused("no refused vehicle to override")
    if session.missing():
        raise OverrideRefused(f"read the remaining {session.missing()} cylinder(s) first")
    blocked = sorted({r for c in session.refused_cylinders for r in c.reasons} - config.policy.overridable
                     - {"due_soon", "chip_not_genuine_warning"})
    if blocked:
        raise OverrideRefused(f"the policy does not allow overriding: {', '.join(blocked)}")
