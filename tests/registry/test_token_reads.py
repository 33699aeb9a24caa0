"""A token cache miss reads the token two ways: SQLAlchemy Core (`resolve_token_row`, any database)
and, on PostgreSQL, prepared statements on the status path's connection (`resolve_token_row_pg`).
Both give the same principal and expiry, or the same refusal, for every kind of token. And the
station statement timeout bounds the stations' uploads only (their pool's sessions), not the
bureau's or admin transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, Executable, select, text, update
from sqlalchemy.orm import Session

from registry_service.errors import NotAuthenticated
from registry_service.models import ApiToken, User
from registry_service.principal import Principal, resolve_token_row, resolve_token_row_pg
from registry_service.services.status_reads import ThreadLocalPg
from tests.registry.conftest import World

Outcome = tuple[Principal, datetime | None] | str
# Both are PostgreSQL's: the prepared-statement read, and a statement timeout (SQLite has none).
ON_POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _outcome(read: Callable[[], tuple[Principal, datetime | None]]) -> Outcome:
    try:
        return read()
    except NotAuthenticated as refused:
        return f"refused: {refused}"


@ON_POSTGRESQL_ONLY
def test_core_and_prepared_token_reads_agree(world: World, engine: Engine) -> None:
    registry = world.registry
    pg = ThreadLocalPg(engine)

    def both(token: str, now: datetime) -> Outcome:
        core = _outcome(lambda: registry.read(lambda connection: resolve_token_row(connection, token, now)))
        prepared = _outcome(lambda: pg.run(lambda reads: resolve_token_row_pg(reads, token, now)))
        assert prepared == core, token
        return core

    def accepted(token: str, now: datetime) -> tuple[Principal, datetime | None]:
        outcome = both(token, now)
        assert not isinstance(outcome, str), outcome
        return outcome

    now = world.clock()
    for name in ("admin", "bureau", "station", "centre", "grid"):
        principal, expires = accepted(world.tokens[name], now)
        assert principal.username == name and expires is not None and expires > now
    grid, _ = accepted(world.tokens["grid"], now)
    assert grid.region_paths == ("4101/410105/410105-01",)  # the cell it is a grid person of
    assert both("cgr_nope", now) == "refused: unknown token"
    assert both(world.tokens["bureau"], now + timedelta(days=91)) == "refused: this token has expired"

    def change(statement: Executable) -> None:
        with Session(engine) as session, session.begin():
            session.execute(statement)

    change(update(ApiToken).values(expires_at=None))  # a token without expiry
    assert accepted(world.tokens["centre"], now + timedelta(days=3650))[1] is None
    change(update(User).where(User.username == "station").values(active=False))
    assert both(world.tokens["station"], now) == "refused: this account is disabled"
    station = select(User.id).where(User.username == "station").scalar_subquery()
    change(update(ApiToken).where(ApiToken.user_id == station).values(revoked_at=now))
    assert both(world.tokens["station"], now) == "refused: this token was revoked"  # checked before disabled


@ON_POSTGRESQL_ONLY
def test_the_station_statement_timeout_bounds_uploads_only(world: World, engine: Engine) -> None:
    registry = world.registry

    def timeout(session: Session) -> str:
        return str(session.scalar(text("SHOW statement_timeout")))

    assert registry.station_transaction(timeout) == "5s"  # station_statement_timeout_s
    assert registry.transaction(timeout) != "5s"  # the bureau's and admin work: the server's default
