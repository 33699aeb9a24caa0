"""Users and API tokens: create, log in (password -> token), issue, revoke.

`password_login` is the one password check of the registry: the API's token log-in and the
dashboard's sign-in both go through it, so both share one persistent throttle
(services/login_throttle.py) and both spend the same KDF work on an unknown user name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from registry_service import token_watch
from registry_service.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from registry_service.models import ApiToken, DashboardSession, InspectionCentre, Role, Station, User
from registry_service.principal import Principal, principal_for_user
from registry_service.security import check_password_in_constant_time, hash_password, new_token, rehashed, token_hash
from registry_service.services import audit, login_throttle
from registry_service.services.login_throttle import DEFAULT_POLICY, Attempt, LoginLocked, ThrottlePolicy

MAX_TOKEN_DAYS = 366
MAX_USERNAME = 80
T = TypeVar("T")
# Registry.transaction: runs a unit of work in its own transaction and commits it.
Transaction = Callable[[Callable[[Session], Any]], Any]


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    token_id: int
    expires_at: datetime | None


def create_user(
    session: Session,
    actor: Principal | str,
    now: datetime,
    *,
    username: str,
    role: Role,
    password: str | None = None,
    station_code: str | None = None,
    centre_code: str | None = None,
) -> User:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username} already exists")
    station_id = centre_id = None
    if role is Role.STATION:
        if not station_code:
            raise InvalidInput("a station user needs its station code")
        station_id = _station_id(session, station_code)
    elif role is Role.CENTRE:
        if not centre_code:
            raise InvalidInput("an inspection-centre user needs its centre code")
        centre_id = _centre_id(session, centre_code)
    elif station_code or centre_code:
        raise InvalidInput(f"a {role.value} user is not scoped to a station or centre")
    try:
        password_hash = hash_password(password) if password else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    user = User(
        username=username,
        role=role,
        station_id=station_id,
        centre_id=centre_id,
        password_hash=password_hash,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "create_user", "user", username, now, role=role.value, station=station_code, centre=centre_code)
    return user


def _station_id(session: Session, code: str) -> int:
    station_id = session.scalar(select(Station.id).where(Station.code == code))
    if station_id is None:
        raise NotFound(f"no station {code}")
    return station_id


def _centre_id(session: Session, code: str) -> int:
    centre_id = session.scalar(select(InspectionCentre.id).where(InspectionCentre.code == code))
    if centre_id is None:
        raise NotFound(f"no inspection centre {code}")
    return centre_id


def issue_token(
    session: Session,
    actor: Principal | str,
    now: datetime,
    *,
    username: str,
    label: str = "",
    valid_days: int | None = 90,
) -> IssuedToken:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}")
    if valid_days is not None and not 1 <= valid_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"a token is valid for 1 to {MAX_TOKEN_DAYS} days")
    token = new_token()
    expires = now + timedelta(days=valid_days) if valid_days else None
    row = ApiToken(user_id=user.id, token_hash=token_hash(token), label=label, created_at=now, expires_at=expires)
    session.add(row)
    session.flush()
    audit.record(session, actor, "issue_token", "api_token", row.id, now, user=username, label=label)
    return IssuedToken(token, row.id, expires)


@dataclass(frozen=True)
class _Candidate:
    principal: Principal
    password_hash: str | None
    active: bool


def password_login(
    transaction: Transaction,
    now: datetime,
    attempt: Attempt,
    password: str,
    then: Callable[[Session, Principal], T],
    policy: ThrottlePolicy = DEFAULT_POLICY,
) -> T:
    """Check a password and run `then` for the user it belongs to, throttled.

    Three steps, so no transaction is open while the KDF runs: (1) refuse a locked name or client
    (LoginLocked), else count the attempt and read the user; (2) the KDF, always (against a dummy
    hash for an unknown name); (3) on success clear the count and run `then` in one transaction.
    A wrong password, an unknown or disabled user all raise the same NotAuthenticated. A right
    password whose hash is legacy scrypt or has outdated parameters is re-hashed (the only moment
    the registry knows it): the new hash is made before step 3 and stored in it, unless the hash
    changed meanwhile (a password reset wins).
    """

    def start(session: Session) -> tuple[timedelta | None, _Candidate | None]:
        locked = login_throttle.admit(session, attempt, now, policy)
        return (locked, None) if locked is not None else (None, _candidate(session, attempt.username))

    locked, candidate = transaction(start)
    if locked is not None:
        raise LoginLocked(locked)
    right = check_password_in_constant_time(password, candidate.password_hash if candidate else None)
    if candidate is None or not right or not candidate.active:
        raise NotAuthenticated("wrong user name or password")
    principal = candidate.principal
    old_hash = candidate.password_hash
    new_hash = rehashed(password, old_hash) if old_hash is not None else None

    def finish(session: Session) -> T:
        login_throttle.succeeded(session, attempt, now, policy)
        if new_hash is not None:
            session.execute(
                update(User).where(User.id == principal.user_id, User.password_hash == old_hash).values(password_hash=new_hash)
            )
        return then(session, principal)

    return transaction(finish)  # type: ignore[no-any-return]


def _candidate(session: Session, username: str) -> _Candidate | None:
    name = username.strip()
    # No user name holds a control character or a lone surrogate (PostgreSQL would refuse the
    # query with a NUL in it): such a name is unknown without asking the database.
    if not name or len(name) > MAX_USERNAME or not name.isprintable():
        return None
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        return None
    return _Candidate(principal_for_user(user), user.password_hash, user.active)


def login(
    transaction: Transaction,
    now: datetime,
    *,
    username: str,
    password: str,
    label: str,
    client: str | None,
    policy: ThrottlePolicy = DEFAULT_POLICY,
) -> IssuedToken:
    """Exchange a password for a short-lived token (people; machines get tokens from the CLI)."""

    def issue(session: Session, principal: Principal) -> IssuedToken:
        return issue_token(session, principal.username, now, username=principal.username, label=label or "login", valid_days=1)

    return password_login(transaction, now, Attempt(username, client), password, issue, policy)


def revoke_token(session: Session, actor: Principal | str, now: datetime, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if isinstance(actor, Principal) and actor.role is not Role.ADMIN and row.user_id != actor.user_id:
        raise Forbidden("only an admin may revoke another user's token")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, actor, "revoke_token", "api_token", token_id, now)
        token_watch.announce(session, token_id=token_id)  # every node forgets it when this commits


def set_password(session: Session, actor: Principal | str, now: datetime, *, username: str, password: str) -> User:
    """Give a user a (new) password, e.g. a grid user created by the grid-people import without one.
    The user's dashboard sessions end: whoever signed in with the old password signs in again."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}")
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    session.execute(delete(DashboardSession).where(DashboardSession.user_id == user.id))
    audit.record(session, actor, "set_password", "user", username, now)
    return user
