"""Who is calling, as a plain value: the Principal a bearer token resolves to, and the cache of them.

No Flask here: services take a Principal as an argument (registry_service.auth, the web glue,
finds it in the request and re-exports these names). Resolved tokens are cached for a few seconds
per node so a busy station's status checks do not each cost a token lookup; revoking clears this
node's cache at once, other nodes within the TTL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from registry_service.errors import Forbidden, NotAuthenticated
from registry_service.models import ApiToken, GridPerson, Region, Role, User
from registry_service.security import token_hash


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    station_id: int | None
    centre_id: int | None
    token_id: int | None = None
    # A grid user's scope: the paths of the regions it is a grid person of (services/grid_scope.py);
    # empty for every other role. Loaded with the principal, once per request or cached token.
    region_paths: tuple[str, ...] = ()

    def require_station(self, station_id: int) -> None:
        if self.role is Role.STATION and self.station_id != station_id:
            raise Forbidden("this credential belongs to another station")

    def require_centre(self, centre_id: int) -> None:
        if self.role is Role.CENTRE and self.centre_id != centre_id:
            raise Forbidden("this credential belongs to another inspection centre")


def principal_for_user(user: User, token_id: int | None = None, region_paths: tuple[str, ...] = ()) -> Principal:
    return Principal(user.id, user.username, user.role, user.station_id, user.centre_id, token_id, region_paths)


def loaded_principal(session: Session, user: User, token_id: int | None = None) -> Principal:
    """The principal with its grid scope read from grid_people (one indexed query, grid users only)."""
    paths = _region_paths(session.connection(), user.id) if user.role is Role.GRID else ()
    return principal_for_user(user, token_id, paths)


def _region_paths(connection: Connection, user_id: int) -> tuple[str, ...]:
    rows = connection.scalars(
        select(Region.path).join(GridPerson, GridPerson.region_id == Region.id).where(GridPerson.user_id == user_id)
    )
    return tuple(sorted(set(rows)))


def resolve_token(session: Session, token: str, now: datetime) -> Principal:
    return resolve_token_row(session.connection(), token, now)[0]


def resolve_token_row(connection: Connection, token: str, now: datetime) -> tuple[Principal, datetime | None]:
    """The token's principal and the token's expiry (for the cache), as one Core row: no ORM
    objects, and read on an autocommit connection by `Registry.authenticate`, since a cache miss is
    paid by every station request at national size (docs/performance.md). Tokens are 256 random
    bits, so their one SHA-256 (security.token_hash) is the right hash and costs microseconds;
    Argon2id is for passwords only (docs/security.md)."""
    row = connection.execute(
        select(
            ApiToken.id,
            ApiToken.expires_at,
            ApiToken.revoked_at,
            User.id,
            User.username,
            User.role,
            User.station_id,
            User.centre_id,
            User.active,
        )
        .join_from(ApiToken, User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise NotAuthenticated("unknown token")
    token_id, expires_at, revoked_at, user_id, username, role, station_id, centre_id, active = row
    if revoked_at is not None:
        raise NotAuthenticated("this token was revoked")
    if expires_at is not None and expires_at <= now:
        raise NotAuthenticated("this token has expired")
    if not active:
        raise NotAuthenticated("this account is disabled")
    paths = _region_paths(connection, user_id) if role is Role.GRID else ()
    return Principal(user_id, username, role, station_id, centre_id, token_id, paths), expires_at


class TokenCache:
    """token hash -> (principal, expiry of the cache entry, token expiry)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[Principal, float, datetime | None]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, now: datetime) -> Principal | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(token_hash(token))
        if entry is None or entry[1] < time.monotonic() or (entry[2] is not None and entry[2] <= now):
            return None
        return entry[0]

    def put(self, token: str, principal: Principal, token_expires: datetime | None) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[token_hash(token)] = (principal, time.monotonic() + self.ttl_s, token_expires)

    def forget_token(self, token_id: int) -> None:
        with self._lock:
            for key in [k for k, v in self._entries.items() if v[0].token_id == token_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
