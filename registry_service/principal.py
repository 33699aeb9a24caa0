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

from sqlalchemy import select
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
    paths: tuple[str, ...] = ()
    if user.role is Role.GRID:
        rows = session.scalars(
            select(Region.path).join(GridPerson, GridPerson.region_id == Region.id).where(GridPerson.user_id == user.id)
        )
        paths = tuple(sorted(set(rows)))
    return principal_for_user(user, token_id, paths)


def resolve_token(session: Session, token: str, now: datetime) -> Principal:
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise NotAuthenticated("unknown token")
    api_token, user = row
    if api_token.revoked_at is not None:
        raise NotAuthenticated("this token was revoked")
    if api_token.expires_at is not None and api_token.expires_at <= now:
        raise NotAuthenticated("this token has expired")
    if not user.active:
        raise NotAuthenticated("this account is disabled")
    return loaded_principal(session, user, api_token.id)


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
