"""One log-in throttle for every password path (dashboard sign-in and API `POST /auth/tokens`).

State lives in the `login_throttle` table, so a lock holds on every node, survives a restart, and
a lock earned on one path refuses the other. Two keys per attempt: the user name (casefolded) and
the client address; either key's lock refuses the attempt, even with the right password.

An attempt is counted as a failure *before* the password is checked (and taken back when it was
right): concurrent guesses cannot all slip past the count while their KDFs run. Rows nobody touched
for `forget_after` are deleted on the way, so a spray of made-up names cannot grow the table without
bound (a client is itself locked after `client_max_failures`, which slows such a spray down).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from registry_service.errors import RegistryError
from registry_service.models import LoginThrottleEntry
from registry_service.services import audit

USER, CLIENT = "user", "client"
ACTOR = "login-throttle"  # the audit log's actor for the locks this module starts


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5  # per user name, then `lockout`
    client_max_failures: int = 20  # per client address (one office behind NAT shares it)
    lockout: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(days=1)


DEFAULT_POLICY = ThrottlePolicy()
# app.extensions key of an app's ThrottlePolicy (tests shorten it); DEFAULT_POLICY when absent.
POLICY_EXTENSION = "login_throttle"


class LoginLocked(RegistryError):
    """Too many failed log-ins for this user name or client: 429 with Retry-After."""

    status = 429
    type_slug = "login-locked"
    title = "Too many failed log-ins"

    def __init__(self, remaining: timedelta) -> None:
        self.retry_after_s = max(1, math.ceil(remaining.total_seconds()))
        super().__init__(f"too many failed log-ins; try again in {self.minutes} minute(s)")

    @property
    def minutes(self) -> int:
        return max(1, -(-self.retry_after_s // 60))


@dataclass(frozen=True)
class Attempt:
    """Who tries to log in, from where (`client`: the request's remote address, if known)."""

    username: str
    client: str | None

    def keys(self, policy: ThrottlePolicy) -> list[tuple[str, str, str, int]]:
        """(row key, scope, label for the audit log, failures that lock), user key first: every
        caller locks rows in this order, so two attempts never deadlock on PostgreSQL."""
        name = self.username.strip().casefold()
        keys = [(_key(USER, name), USER, printable(name), policy.max_failures)]
        if self.client:
            keys.append((_key(CLIENT, self.client), CLIENT, printable(self.client), policy.client_max_failures))
        return keys


def _key(scope: str, subject: str) -> str:
    return hashlib.sha256(f"{scope}:{subject}".encode("utf-8", "surrogatepass")).hexdigest()


def printable(text: str) -> str:
    """What an attacker typed, safe for a log or a text column (no NUL, no lone surrogate)."""
    return "".join(c if c.isprintable() else "?" for c in text)[:120]


def admit(session: Session, attempt: Attempt, now: datetime, policy: ThrottlePolicy = DEFAULT_POLICY) -> timedelta | None:
    """How long the attempt's user name or client is locked (nothing counted then), or None after
    counting the attempt as a failure in advance (`succeeded` takes it back).

    A key whose count has reached its limit is locked here, by the next attempt, not by the
    failure that reached it: an attempt charged in advance may still turn out right, and must not
    lock anything when it does."""
    forget(session, now, policy)
    rows = [(_row(session, key, scope, now), scope, label, limit) for key, scope, label, limit in attempt.keys(policy)]
    remaining = [row.locked_until - now for row, *_ in rows if row.locked_until is not None and row.locked_until > now]
    if remaining:
        return max(remaining)
    full = [(row, scope, label, limit) for row, scope, label, limit in rows if row.failures >= limit]
    for row, scope, label, limit in full:
        row.failures = 0
        row.locked_until = now + policy.lockout
        row.updated_at = now
        audit.record(
            session, ACTOR, "login_locked", f"login_{scope}", label, now, until=row.locked_until.isoformat(), failures=limit
        )
    if full:
        session.flush()
        return policy.lockout
    for row, *_ in rows:
        row.locked_until = None
        row.failures += 1
        row.updated_at = now
    session.flush()
    return None


def succeeded(session: Session, attempt: Attempt, now: datetime, policy: ThrottlePolicy = DEFAULT_POLICY) -> None:
    """The password was right: the user name starts again from zero; the client's count loses the
    failure `admit` charged in advance (its earlier failures stand: one good account does not
    launder a client's guesses at others)."""
    for key, scope, _label, _limit in attempt.keys(policy):
        row = session.get(LoginThrottleEntry, key, with_for_update=True)
        if row is None:
            continue
        if scope == USER:
            session.delete(row)
        elif row.failures > 0:
            row.failures -= 1
            row.updated_at = now
    session.flush()


def forget(session: Session, now: datetime, policy: ThrottlePolicy = DEFAULT_POLICY, batch: int = 500) -> None:
    """Delete up to `batch` rows untouched for `forget_after` whose lock (if any) has lifted. Rows
    another attempt holds are skipped (PostgreSQL's SKIP LOCKED), so the sweep never waits for, or
    deadlocks with, a log-in; what it skips the next attempt deletes."""
    stale = (
        select(LoginThrottleEntry.key)
        .where(
            LoginThrottleEntry.updated_at < now - policy.forget_after,
            or_(LoginThrottleEntry.locked_until.is_(None), LoginThrottleEntry.locked_until <= now),
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(LoginThrottleEntry).where(LoginThrottleEntry.key.in_(stale)).execution_options(synchronize_session=False)
    )


def _row(session: Session, key: str, scope: str, now: datetime) -> LoginThrottleEntry:
    """The key's row, locked for this transaction; created if missing (concurrent creators of the
    same row do not conflict: INSERT ... ON CONFLICT DO NOTHING, then SELECT ... FOR UPDATE)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottleEntry)
        .values(key=key, scope=scope, failures=0, locked_until=None, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.scalar(
        select(LoginThrottleEntry)
        .where(LoginThrottleEntry.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted or already there, in this transaction
    return row
