"""Token revocations reach every node as they commit (registry_service/token_watch.py), so a node
may cache tokens long: the cache's own rules without a database, then two nodes on one PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from registry_service import migrate
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.db import libpq_conninfo, make_engine
from registry_service.errors import NotAuthenticated
from registry_service.metrics import RegistryMetrics
from registry_service.models import Role
from registry_service.node import Registry
from registry_service.principal import Principal, TokenCache
from registry_service.services import accounts, grid_people
from registry_service.token_watch import TokenWatch, announce, apply
from tests.registry.conftest import NOW, Clock, World, empty_all_tables
from tests.registry.pg_cluster import scratch_database
from tests.testkit import TestPki

STATION = Principal(7, "station", Role.STATION, 3, None, 70)
OTHER = Principal(8, "station2", Role.STATION, 4, None, 80)


def test_a_lookup_that_raced_an_eviction_is_not_cached() -> None:
    cache = TokenCache(ttl_s=10)
    generation = cache.generation  # the lookup begins ...
    cache.forget_token(99)  # ... a revocation is heard while it reads ...
    cache.put("secret", STATION, None, generation)  # ... and its (maybe stale) answer is dropped
    assert cache.get("secret", NOW) is None
    cache.put("secret", STATION, None, cache.generation)
    assert cache.get("secret", NOW) == STATION


def test_entries_last_long_only_while_the_node_listens() -> None:
    cache = TokenCache(ttl_s=10, listening_ttl_s=600)
    assert cache.entry_ttl_s == 10
    cache.put("secret", STATION, None, cache.generation)
    cache.listening(True)  # a revocation may have come unheard just before: nothing cached survives
    assert (cache.get("secret", NOW), cache.entry_ttl_s) == (None, 600)
    cache.put("secret", STATION, None, cache.generation)
    assert cache.get("secret", NOW) == STATION
    cache.listening(False)  # revocations may now come unheard: the long entries go
    assert (cache.get("secret", NOW), cache.entry_ttl_s) == (None, 10)
    cache.put("secret", STATION, None, cache.generation)
    assert cache.get("secret", NOW) == STATION
    assert TokenCache(ttl_s=0, listening_ttl_s=600).get("secret", NOW) is None  # 0: no cache


def test_messages_evict_a_token_or_a_users_tokens_and_an_unreadable_one_everything() -> None:
    cache = TokenCache(ttl_s=60)

    def fill() -> None:
        cache.clear()
        cache.put("a", STATION, None, cache.generation)
        cache.put("b", OTHER, None, cache.generation)

    fill()
    apply(cache, "token:70")
    assert (cache.get("a", NOW), cache.get("b", NOW)) == (None, OTHER)
    fill()
    apply(cache, "user:8")
    assert (cache.get("a", NOW), cache.get("b", NOW)) == (STATION, None)
    for garbage in ("token:", "user:x", "group:1", "", "token:\u00b2", "token:-1"):
        fill()
        apply(cache, garbage)
        assert (cache.get("a", NOW), cache.get("b", NOW)) == (None, None)


# Two nodes on one PostgreSQL ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    with scratch_database("registry_token_watch") as url:
        engine = make_engine(RegistryConfig(database_url=url, pool_size=4, max_overflow=4))
        migrate.upgrade(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def pg_world(pg_engine: Engine) -> World:
    """The first node (it takes the revocations) and its world, on a database emptied for each test."""
    empty_all_tables(pg_engine)
    clock = Clock()
    config = RegistryConfig(
        database_url=str(pg_engine.url), bureau_root_pem=TestPki.create(NOW).root_certificate_pem, token_cache_s=0
    )
    return World(create_app(config, engine=pg_engine, clock=clock), clock).build()


@pytest.fixture
def other_node(pg_world: World, pg_engine: Engine) -> Iterator[tuple[Registry, TokenWatch]]:
    """A second node whose cache keeps tokens 600 s while its watch listens, 10 s otherwise."""
    node_config = replace(pg_world.registry.config, token_cache_s=10, token_cache_listening_s=600)
    node: Registry = create_app(node_config, engine=pg_engine, clock=pg_world.clock).extensions["registry"]
    # Listening again 3 s after a loss, not 1: long enough for the test to see it not listening.
    watch = TokenWatch(libpq_conninfo(node.engine), node.tokens, RegistryMetrics(), retry_s=3.0)
    watch.start()
    assert watch.listening.wait(10), "the token watch did not start listening"
    assert _listening_gauge(watch) == 1
    yield node, watch
    watch.stop()


def _revoke_behind_the_registrys_back(engine: Engine, token_id: int) -> None:
    """What no registry path does: a revocation that tells no node (shows what the cache holds)."""
    with engine.begin() as connection:
        connection.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE id = :id"), {"id": token_id})


def _eventually(check: Callable[[], bool], within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _refused(node: Registry, token: str) -> bool:
    try:
        node.authenticate(token)
    except NotAuthenticated:
        return True
    return False


def test_a_revocation_on_one_node_ends_the_token_on_another_at_once(
    pg_world: World, other_node: tuple[Registry, TokenWatch], pg_engine: Engine
) -> None:
    node, _ = other_node
    station, station2 = pg_world.tokens["station"], pg_world.tokens["station2"]
    token_id = node.authenticate(station).token_id
    other_id = node.authenticate(station2).token_id
    assert token_id is not None and other_id is not None
    # The node holds both tokens: a revocation it is not told of does not reach it ...
    _revoke_behind_the_registrys_back(pg_engine, other_id)
    assert node.authenticate(station2).username == "station2"
    # ... and one made the registry's way, on the first node, does, as it commits.
    pg_world.registry.transaction(lambda s: accounts.revoke_token(s, "test", pg_world.clock(), token_id))
    assert _eventually(lambda: _refused(node, station)), "the revoked token still worked on the other node"


def test_a_lost_listening_connection_empties_the_cache_until_it_listens_again(
    pg_world: World, other_node: tuple[Registry, TokenWatch], pg_engine: Engine
) -> None:
    node, watch = other_node
    station = pg_world.tokens["station"]
    token_id = node.authenticate(station).token_id
    assert token_id is not None
    _revoke_behind_the_registrys_back(pg_engine, token_id)
    assert node.authenticate(station).username == "station"  # cached, as above
    with pg_engine.connect() as connection:  # a failover or a restart, as the watch sees it
        killed = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'cylinder-registry-token-watch' AND datname = current_database()"
            )
        ).all()
    assert killed
    # Messages sent while it was gone are lost to it: what it held is dropped, so the revocation
    # it never heard of is seen by the next lookup.
    assert _eventually(lambda: _refused(node, station)), "a stale entry outlived the lost connection"
    assert _eventually(lambda: _listening_gauge(watch) == 0, within_s=2.5), "the metrics say it still listens"
    assert _eventually(watch.listening.is_set), "the token watch did not listen again"


def test_a_grid_user_given_a_region_is_seen_with_it_on_every_node(
    pg_world: World, other_node: tuple[Registry, TokenWatch]
) -> None:
    node, _ = other_node
    grid = pg_world.tokens["grid"]
    assert node.authenticate(grid).region_paths == _paths(pg_world, "410105-01")

    def assign(session: Session) -> None:
        grid_people.add_person(session, "test", pg_world.clock(), region_code="410103-01", name="grid", username="grid")

    pg_world.registry.transaction(assign)
    wanted = _paths(pg_world, "410105-01", "410103-01")
    assert _eventually(lambda: node.authenticate(grid).region_paths == wanted), "the other node kept the old scope"


def test_nothing_is_announced_for_a_change_rolled_back(pg_world: World, other_node: tuple[Registry, TokenWatch]) -> None:
    node, _ = other_node
    station = pg_world.tokens["station"]
    token_id = node.authenticate(station).token_id
    generation = node.tokens.generation

    class RolledBack(Exception):
        pass

    def revoke_then_fail(session: Session) -> None:
        announce(session, token_id=token_id)
        raise RolledBack

    with pytest.raises(RolledBack):
        pg_world.registry.transaction(revoke_then_fail)
    pg_world.registry.transaction(lambda s: announce(s, user_id=999_999))  # a later message, to know the first had its chance
    assert _eventually(lambda: node.tokens.generation > generation)
    assert node.tokens.generation == generation + 1
    assert node.authenticate(station).token_id == token_id


def _paths(world: World, *codes: str) -> tuple[str, ...]:
    def read(session: Session) -> tuple[str, ...]:
        rows = session.execute(text("SELECT path FROM regions WHERE code = ANY(:codes)"), {"codes": list(codes)}).scalars()
        return tuple(sorted(rows))

    found = world.registry.transaction(read)
    assert len(found) == len(codes)
    return found


def _listening_gauge(watch: TokenWatch) -> float | None:
    metrics = watch._metrics  # the node's metrics, as its scrape would read them
    assert metrics is not None
    return metrics.registry.get_sample_value("cylinder_registry_token_watch_listening")


def test_only_a_node_on_postgresql_has_a_token_watch(pg_world: World, tmp_path: Path) -> None:
    assert TokenWatch.for_registry(pg_world.registry) is not None
    sqlite_node = create_app(RegistryConfig(database_url=f"sqlite:///{tmp_path / 'r.sqlite3'}")).extensions["registry"]
    assert TokenWatch.for_registry(sqlite_node) is None
