"""Who is calling, as a plain value: the Principal a bearer token resolves to, and the cache of them.

No Flask here: services take a Principal as an argument (registry_service.auth, the web glue,
finds it in the request and re-exports these names). Resolved tokens are cached for a few seconds
per node so a busy station's status checks do not each cost a token lookup; revoking clears this
node's cache at once, other nodes within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from registry_service.errors import Forbidden, NotAuthenticated
from registry_service.models import ApiToken, GridPerson, Region, Role, User
from registry_service.security import token_hash

if TYPE_CHECKING:
    from registry_service.services.status_reads import PgPrepared


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


# Built once (SQLAlchemy's compiled cache then skips compiling them too): constructing the select
# cost more CPU than running it, and a cache miss is paid by nearly every station request.
_REGION_PATHS = (
    select(Region.path).join(GridPerson, GridPerson.region_id == Region.id).where(GridPerson.user_id == bindparam("user_id"))
)
_TOKEN_ROW = (
    select(
        ApiToken.id,
        ApiToken.expires_at,
        ApiToken.revoked_at.is_not(None),
        User.id,
        User.username,
        User.role,
        User.station_id,
        User.centre_id,
        User.active,
    )
    .join_from(ApiToken, User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)
# The same two reads for PostgreSQL's prepared-statement path (`resolve_token_row_pg`), columns in
# the same order; tests/registry/test_token_reads.py checks that both ways give the same answers.
_PG_TOKEN_ROW = (
    b"cg_token_row",
    "SELECT t.id, t.expires_at, t.revoked_at IS NOT NULL, u.id, u.username, u.role, u.station_id, u.centre_id, u.active"
    " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
)
_PG_REGION_PATHS = (
    b"cg_grid_region_paths",
    "SELECT r.path FROM regions r JOIN grid_people g ON g.region_id = r.id WHERE g.user_id = $1",
)


class _TokenRow(NamedTuple):
    token_id: int
    expires_at: datetime | None
    revoked: bool
    user_id: int
    username: str
    role: Role
    station_id: int | None
    centre_id: int | None
    active: bool


def _region_paths(connection: Connection, user_id: int) -> tuple[str, ...]:
    return tuple(sorted(set(connection.scalars(_REGION_PATHS, {"user_id": user_id}))))


def resolve_token(session: Session, token: str, now: datetime) -> Principal:
    return resolve_token_row(session.connection(), token, now)[0]


def resolve_token_row(connection: Connection, token: str, now: datetime) -> tuple[Principal, datetime | None]:
    """The token's principal and the token's expiry (for the cache), as one Core row: no ORM
    objects. On PostgreSQL `Registry.authenticate` uses `resolve_token_row_pg` instead, since a
    cache miss is paid by nearly every station request at national size (docs/performance.md).
    Tokens are 256 random bits, so their one SHA-256 (security.token_hash) is the right hash and
    costs microseconds; Argon2id is for passwords only (docs/security.md)."""
    row = connection.execute(_TOKEN_ROW, {"token_hash": token_hash(token)}).first()
    return _checked(None if row is None else _TokenRow(*row), now, lambda user_id: _region_paths(connection, user_id))


def resolve_token_row_pg(pg: PgPrepared, token: str, now: datetime) -> tuple[Principal, datetime | None]:
    """`resolve_token_row` as prepared statements run with libpq (services/status_reads.py), on the
    status path's per-thread autocommit connection: no pool checkout, no statement compiled or
    adapted, which is most of a miss's CPU through SQLAlchemy."""
    result = pg.execute(*_PG_TOKEN_ROW, token_hash(token).encode())
    row = None
    if result.ntuples:
        v = [result.get_value(0, column) for column in range(9)]
        # NOT NULL columns (ids, username, role, active, the IS NOT NULL) are asserted, not guessed.
        assert v[0] is not None and v[2] is not None and v[3] is not None and v[4] is not None
        assert v[5] is not None and v[8] is not None
        row = _TokenRow(
            int(v[0]),
            _timestamp(v[1]),
            v[2] == b"t",
            int(v[3]),
            v[4].decode(),
            Role(v[5].decode()),
            None if v[6] is None else int(v[6]),
            None if v[7] is None else int(v[7]),
            v[8] == b"t",
        )

    def region_paths(user_id: int) -> tuple[str, ...]:
        paths = pg.execute(*_PG_REGION_PATHS, str(user_id).encode())
        return tuple(sorted({_text(paths.get_value(i, 0)) for i in range(paths.ntuples)}))

    return _checked(row, now, region_paths)


def _timestamp(value: bytes | None) -> datetime | None:
    """A timestamptz in PostgreSQL's ISO output (any session TimeZone), in UTC as UTCDateTime gives it."""
    return None if value is None else datetime.fromisoformat(value.decode()).astimezone(UTC)


def _text(value: bytes | None) -> str:
    assert value is not None  # regions.path is NOT NULL
    return value.decode()


def _checked(
    row: _TokenRow | None, now: datetime, region_paths: Callable[[int], tuple[str, ...]]
) -> tuple[Principal, datetime | None]:
    """Every check a bearer token passes, in this order, whichever way its row was read."""
    if row is None:
        raise NotAuthenticated("unknown token")
    if row.revoked:
        raise NotAuthenticated("this token was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated("this token has expired")
    if not row.active:
        raise NotAuthenticated("this account is disabled")
    paths = region_paths(row.user_id) if row.role is Role.GRID else ()
    principal = Principal(row.user_id, row.username, row.role, row.station_id, row.centre_id, row.token_id, paths)
    return principal, row.expires_at


class TokenCache:
    """token hash -> (principal, expiry of the cache entry, token expiry).

    An entry is kept `ttl_s` after its lookup, or `listening_ttl_s` while this node hears every
    revocation as it commits (token_watch.TokenWatch says so with `listening`). `generation` moves
    on every eviction: a lookup that began before one (it may have read the row the eviction is
    about) is not cached, so an entry never outlives the revocation it raced."""

    def __init__(self, ttl_s: float, listening_ttl_s: float | None = None) -> None:
        self.ttl_s = ttl_s
        self.listening_ttl_s = ttl_s if listening_ttl_s is None else listening_ttl_s
        self._listening = False
        self.generation = 0  # read without the lock: an int read is atomic
        self._entries: dict[str, tuple[Principal, float, datetime | None]] = {}
        self._lock = threading.Lock()

    @property
    def entry_ttl_s(self) -> float:
        return self.listening_ttl_s if self._listening else self.ttl_s

    def get(self, token: str, now: datetime) -> Principal | None:
        if self.entry_ttl_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(token_hash(token))
        if entry is None or entry[1] < time.monotonic() or (entry[2] is not None and entry[2] <= now):
            return None
        return entry[0]

    def put(self, token: str, principal: Principal, token_expires: datetime | None, generation: int) -> None:
        """Cache a lookup that began at `generation` (read before the lookup), unless an eviction came since."""
        with self._lock:
            ttl_s = self.entry_ttl_s
            if ttl_s <= 0 or generation != self.generation:
                return
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[token_hash(token)] = (principal, time.monotonic() + ttl_s, token_expires)

    def forget_token(self, token_id: int) -> None:
        self._forget(lambda principal: principal.token_id == token_id)

    def forget_user(self, user_id: int) -> None:
        self._forget(lambda principal: principal.user_id == user_id)

    def _forget(self, matches: Callable[[Principal], bool]) -> None:
        with self._lock:
            self.generation += 1
            for key in [k for k, v in self._entries.items() if matches(v[0])]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def listening(self, listening: bool) -> None:
        """Whether revocations now reach this node as they commit. Both ways the cache starts empty:
        when it stops, a revocation may come unheard; when it starts, one may have come just before."""
        with self._lock:
            self._listening = listening
            self.generation += 1
            self._entries.clear()
