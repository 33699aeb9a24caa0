"""One persistent log-in throttle for every password path (dashboard sign-in, API POST /auth/tokens).

A lock earned on one path refuses the right password on the other; it is kept in the database, so
a new app instance (another node, a restart) still refuses; old rows expire instead of the table
being wiped; a client address is a second key. An unknown user name costs the same KDF work as a
wrong password, on both paths (counted as calls to Argon2's verify, not timed: timing belongs in
bench/).

Users get cheap Argon2id hashes (CHEAP_FOR_TESTS) so the many wrong passwords stay fast; the dummy
hash for unknown names keeps its real cost except where a test says otherwise.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import low_level
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from registry_service import security
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.models import AuditEntry, LoginThrottleEntry, Role, User
from registry_service.services.login_throttle import POLICY_EXTENSION, ThrottlePolicy
from tag_tools.passwords import CHEAP_FOR_TESTS
from tests.registry.conftest import Clock, World

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def people(world: World) -> Any:
    """bureau, centre and station users with (cheaply hashed) passwords; u1..u3 for the client key."""
    cheap = security.hash_password(PASSWORD, cost=CHEAP_FOR_TESTS)

    def work(s: Session) -> None:
        s.execute(update(User).values(password_hash=cheap))

    for name in ("u1", "u2", "u3"):
        world.add_user(name, Role.CENTRE, centre="ZZTJ01")
    world.registry.transaction(work)
    return world


def api_login(client: FlaskClient, username: str, password: str = PASSWORD, address: str = "127.0.0.1") -> TestResponse:
    return client.post(
        "/api/v1/auth/tokens", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def dashboard_sign_in(client: FlaskClient, username: str, password: str = PASSWORD, address: str = "127.0.0.1") -> TestResponse:
    page = client.get("/dashboard/sign-in", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)
    token = CSRF.search(page)
    assert token is not None
    return client.post(
        "/dashboard/sign-in",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_lock_earned_on_the_dashboard_refuses_the_api(client: FlaskClient, people: Any, engine: Engine) -> None:
    for _ in range(5):
        assert dashboard_sign_in(client, "bureau", "wrong password!").status_code == 401
    assert dashboard_sign_in(client, "bureau").status_code == 429
    r = api_login(client, "bureau")  # the right password, on the other path
    assert r.status_code == 429 and r.content_type == "application/problem+json"
    assert r.headers["Retry-After"] == str(15 * 60) and "token" not in r.get_json()
    with engine.connect() as c:  # the failures were recorded: the lock is in the audit log
        locks = c.execute(select(AuditEntry.entity, AuditEntry.entity_ref).where(AuditEntry.action == "login_locked")).all()
    assert locks == [("login_user", "bureau")]


def test_a_lock_earned_on_the_api_refuses_the_dashboard(client: FlaskClient, people: Any, clock: Clock) -> None:
    for _ in range(5):
        assert api_login(client, "Bureau ", "wrong password!").status_code == 401  # the name as typed, any case
    page = dashboard_sign_in(client, "bureau")
    assert page.status_code == 429 and "15 分钟" in page.get_data(as_text=True)
    clock.advance(minutes=15, seconds=1)
    assert api_login(client, "bureau").status_code == 201
    assert dashboard_sign_in(client, "bureau").status_code == 302


def test_a_lock_survives_a_new_app_instance(
    client: FlaskClient, people: Any, engine: Engine, config: RegistryConfig, clock: Clock
) -> None:
    for _ in range(5):
        api_login(client, "centre", "wrong password!")
    restarted = create_app(config, engine=engine, clock=clock).test_client()  # another node, or after a restart
    assert api_login(restarted, "centre").status_code == 429
    assert dashboard_sign_in(restarted, "centre").status_code == 429


@SQLITE_ONLY
def test_a_client_address_is_locked_across_user_names(app: Flask, client: FlaskClient, people: Any) -> None:
    app.extensions[POLICY_EXTENSION] = ThrottlePolicy(max_failures=5, client_max_failures=3)
    for name in ("u1", "u2", "u3"):  # one wrong guess each: no user name is locked...
        assert api_login(client, name, "wrong password!", address="192.0.2.7").status_code == 401
    assert api_login(client, "bureau", address="192.0.2.7").status_code == 429  # ...the address is
    assert dashboard_sign_in(client, "bureau", address="192.0.2.7").status_code == 429
    assert api_login(client, "bureau", address="198.51.100.1").status_code == 201


@SQLITE_ONLY
def test_a_success_clears_the_name_not_the_address(app: Flask, client: FlaskClient, people: Any) -> None:
    app.extensions[POLICY_EXTENSION] = ThrottlePolicy(max_failures=2, client_max_failures=3)
    assert api_login(client, "u1", "wrong password!").status_code == 401
    assert api_login(client, "u1").status_code == 201  # u1 starts again from zero
    assert api_login(client, "u1", "wrong password!").status_code == 401
    assert api_login(client, "u1").status_code == 201
    assert api_login(client, "u2", "wrong password!").status_code == 401  # the address's third failure
    assert api_login(client, "u3").status_code == 429


def test_old_rows_expire_and_a_lock_is_never_wiped_by_other_names(
    client: FlaskClient, people: Any, clock: Clock, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(security, "dummy_hash", lambda: security.hash_password("x" * 12, cost=CHEAP_FOR_TESTS))
    for _ in range(5):
        api_login(client, "bureau", "wrong password!", address="192.0.2.1")
    for number in range(30):  # a spray of made-up names from many addresses
        api_login(client, f"nobody-{number}", "wrong password!", address=f"198.51.100.{number}")
    assert api_login(client, "bureau", address="192.0.2.2").status_code == 429
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(LoginThrottleEntry)) == 63  # 31 names, 32 addresses
    clock.advance(days=1, minutes=1)
    api_login(client, "someone", "wrong password!", address="192.0.2.3")
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(LoginThrottleEntry)) == 2  # only this attempt's rows


@SQLITE_ONLY
def test_unknown_disabled_and_broken_users_cost_one_kdf_like_a_wrong_password(
    client: FlaskClient, people: Any, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    security.dummy_hash()  # made once per process, before counting
    calls: list[bytes] = []
    real = low_level.verify_secret

    def counting(hash: bytes, secret: bytes, type: low_level.Type) -> Any:
        calls.append(hash)
        return real(hash, secret, type)

    monkeypatch.setattr(low_level, "verify_secret", counting)
    with engine.begin() as c:
        c.execute(update(User).where(User.username == "u1").values(active=False))
        c.execute(update(User).where(User.username == "u2").values(password_hash=None))
        c.execute(update(User).where(User.username == "u3").values(password_hash="scrypt$broken"))
    wrong = api_login(client, "bureau", "wrong password!")
    answers = [wrong]
    for username in ("no-such-user", "u1", "u2", "u3"):
        before = len(calls)
        answers.append(api_login(client, username))
        assert len(calls) == before + 1  # the KDF ran once, for a user that does not exist or cannot log in
    assert calls[1].startswith(b"$argon2id$v=19$m=19456,t=2,p=1$")  # the dummy hash has a real user's cost
    assert {(a.status_code, a.get_json()["detail"]) for a in answers} == {(401, "wrong user name or password")}
    before = len(calls)
    assert dashboard_sign_in(client, "no-such-user").status_code == 401
    assert len(calls) == before + 1
