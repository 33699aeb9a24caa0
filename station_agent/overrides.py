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


def check_session(config: StationConfig, session: VehicleSession | None) -> None:
    """Raise OverrideRefused naming the first rule that fails, without looking at any credential."""
    if not config.policy.enforcing:
        raise OverrideRefused("monitor mode blocks nothing: there is nothing to override")
    if session is None or session.state is not SessionState.REFUSED:
        raise OverrideRefused("no refused vehicle to override")
    if session.missing():
        raise OverrideRefused(f"read the remaining {session.missing()} cylinder(s) first")
    blocked = sorted(
        {r for c in session.refused_cylinders for r in c.reasons}
        - config.policy.overridable
        - {"due_soon", "chip_not_genuine_warning"}
    )
    if blocked:
        raise OverrideRefused(f"the policy does not allow overriding: {', '.join(blocked)}")


def credentials_match(config: StationConfig, supervisor_id: str, password: object) -> bool:
    """True for a configured supervisor and their password. An unknown id is verified against a
    dummy hash of the same cost, so the time taken does not tell known ids from unknown ones."""
    supervisor = config.supervisor(supervisor_id)
    matches = verify_password(password, supervisor.password_hash if supervisor is not None else dummy_hash())
    return matches and supervisor is not None
