"""Authorisation matrix (every endpoint x every role and none), token and password handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from registry_service.models import ApiToken, Role, User
from registry_service.security import hash_password, token_hash, verify_password
from tag_tools.passwords import CHEAP_FOR_TESTS
from tests.handheld.handheld_world import CSRF, PASSWORD, give_password
from tests.registry.conftest import Clock, World
from tests.tag_tools.test_passwords import AGENT_LEGACY, REGISTRY_LEGACY

SPEC = yaml.safe_load((Path(__file__).parents[2] / "schemas" / "registry-api.yaml").read_text())
SAMPLE_PATH_VALUES = {
    "cylinder_id": "156-4101-1",
    "station_code": "ST-JS-01",
    "token_id": "999999",
    "fingerprint": "0" * 64,
    "username": "admin",
    "code": "ZZTJ01",
    "list_id": "0",
    "number": "410105-20261122-0001",
    "service_request_id": "410105-20261122-0001",
}
OPERATIONS = [
    (method.upper(), path, op.get("x-roles", [])) for path, item in SPEC["paths"].items() for method, op in item.items()
]
CALLERS = ["admin", "bureau", "centre", "station", "grid", None]


def _url(path: str) -> str:
    for name, value in SAMPLE_PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return "/api/v1" + path


def _flask_path(rule: str) -> str:
    return rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{").replace(">", "}")


def test_spec_and_app_list_the_same_operations_with_the_same_roles(app: Flask) -> None:
    in_app = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):  # the dashboard's pages are not API operations
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            view = app.view_functions[rule.endpoint]
            in_app[(method, _flask_path(rule.rule))] = sorted(r.value for r in getattr(view, "allowed_roles", ()))
    in_spec = {(m, p): sorted(roles) for m, p, roles in OPERATIONS}
    assert in_app == in_spec


@pytest.mark.parametrize(("method", "path", "roles"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_authorisation_matrix(client: FlaskClient, world: World, method: str, path: str, roles: list[str]) -> None:
    for caller in CALLERS:
        headers = world.auth(caller) if caller else {}
        kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PUT") and "trust-list" not in path else {}
        if "trust-list" in path and method == "PUT":
            kwargs = {"data": b"\x00", "content_type": "application/cose"}
        response = client.open(_url(path), method=method, headers=headers, **kwargs)
        assert response.status_code < 500, (caller, response.json)
        if not roles:
            assert response.status_code not in (401, 403), (caller, response.status_code)
        elif caller is None:
            assert response.status_code == 401, response.status_code
            assert response.content_type == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        elif caller not in roles:
            assert response.status_code == 403, (caller, response.status_code)
        else:
            assert response.status_code not in (401, 403), (caller, response.status_code, response.json)


def test_metrics_are_not_served_by_the_api_to_anyone(client: FlaskClient, world: World) -> None:
    """Prometheus metrics have a listen address of their own (`serve --metrics-listen`, off by
    default; tests/registry/test_metrics.py): the API's port, which faces the internet, answers
    no caller, whatever its role, with them."""
    for caller in CALLERS:
        headers = world.auth(caller) if caller else {}
        for path in ("/metrics", "/api/v1/metrics"):
            response = client.get(path, headers=headers)
            assert response.status_code == 404, (caller, path, response.status_code)
            assert b"cylinder_registry_" not in response.data


def test_handheld_check_upload_by_dashboard_role(app: Flask, world: World) -> None:
    """The handheld page's officer upload (POST /dashboard/handheld/checks, docs/handheld.md) is not
    an /api/v1 operation: it takes the dashboard's cookie session and CSRF token. Grid people and
    the bureau pass the role check (an empty body is then 422), a centre is refused (403), roles
    that cannot sign in to the dashboard and nobody at all are anonymous (401)."""
    expected = {"grid": 422, "bureau": 422, "centre": 403, "admin": 401, "station": 401, None: 401}
    for caller in CALLERS:
        client = app.test_client()
        if caller is not None:
            give_password(world.registry, caller)
            form = CSRF.search(client.get("/dashboard/sign-in").get_data(as_text=True))
            assert form
            client.post("/dashboard/sign-in", data={"username": caller, "password": PASSWORD, "csrf_token": form.group(1)})
        token = client.get("/dashboard/handheld/me").get_json()["csrf_token"]
        response = client.post("/dashboard/handheld/checks", json={}, headers={"X-CSRF-Token": token})
        assert response.status_code == expected[caller], (caller, response.get_json())


def test_bad_revoked_and_expired_tokens_are_refused(client: FlaskClient, world: World, clock: Clock) -> None:
    assert client.get("/api/v1/auth/whoami", headers={"Authorization": "Bearer cgr_nope"}).status_code == 401
    assert client.get("/api/v1/auth/whoami", headers={"Authorization": "Basic abc"}).status_code == 401
    me = client.get("/api/v1/auth/whoami", headers=world.auth("station")).get_json()
    assert me["role"] == "station"
    assert client.delete(f"/api/v1/auth/tokens/{me['token_id']}", headers=world.auth("centre")).status_code == 403
    assert client.delete(f"/api/v1/auth/tokens/{me['token_id']}", headers=world.auth("station")).status_code == 204
    assert client.get("/api/v1/auth/whoami", headers=world.auth("station")).status_code == 401
    clock.advance(days=91)  # tokens from World are valid for 90 days
    r = client.get("/api/v1/auth/whoami", headers=world.auth("bureau"))
    assert r.status_code == 401 and "expired" in r.get_json()["detail"]


def test_tokens_are_stored_hashed_and_passwords_with_argon2id(client: FlaskClient, world: World, engine: Engine) -> None:
    world.add_user("inspector", Role.BUREAU, password="correct horse battery")
    with engine.connect() as c:
        stored = set(c.scalars(select(ApiToken.token_hash)))
        password_hash = c.scalar(select(User.password_hash).where(User.username == "inspector"))
    assert world.tokens["bureau"] not in stored and token_hash(world.tokens["bureau"]) in stored
    assert password_hash is not None and password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "correct horse" not in password_hash
    r = client.post("/api/v1/auth/tokens", json={"username": "inspector", "password": "wrong password!"})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/tokens", json={"username": "inspector", "password": "correct horse battery"})
    assert r.status_code == 201
    token = r.get_json()["token"]
    assert client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"}).get_json()["username"] == "inspector"


def test_password_hashing() -> None:
    stored = hash_password("a long passphrase", cost=CHEAP_FOR_TESTS)
    assert verify_password("a long passphrase", stored)
    assert not verify_password("a long passphrasf", stored)
    assert not verify_password("x", "garbage") and not verify_password("x", None)
    assert verify_password("legacy registry pw", REGISTRY_LEGACY) and verify_password("legacy agent pw", AGENT_LEGACY)
    with pytest.raises(ValueError):
        hash_password("short")


def test_a_legacy_scrypt_hash_is_replaced_by_argon2id_at_the_next_log_in(
    client: FlaskClient, world: World, engine: Engine
) -> None:
    """Existing users keep logging in; the right password (and only it) re-hashes with the current cost."""
    world.add_user("veteran", Role.BUREAU)
    with engine.begin() as c:
        c.execute(update(User).where(User.username == "veteran").values(password_hash=REGISTRY_LEGACY))

    def stored() -> str | None:
        with engine.connect() as c:
            return c.scalar(select(User.password_hash).where(User.username == "veteran"))

    def log_in(password: str) -> int:
        return client.post("/api/v1/auth/tokens", json={"username": "veteran", "password": password}).status_code

    assert log_in("legacy registry pw?") == 401 and stored() == REGISTRY_LEGACY  # a wrong one changes nothing
    assert log_in("legacy registry pw") == 201
    upgraded = stored()
    assert (
        upgraded is not None
        and upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        and verify_password("legacy registry pw", upgraded)
    )
    assert log_in("legacy registry pw") == 201 and stored() == upgraded  # current now: not re-hashed again
    with engine.begin() as c:  # a hash of an outdated Argon2id cost is upgraded the same way
        c.execute(
            update(User)
            .where(User.username == "veteran")
            .values(password_hash=hash_password("a long passphrase", cost=CHEAP_FOR_TESTS))
        )
    assert log_in("a long passphrase") == 201 and str(stored()).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_admin_creates_scoped_users_and_tokens(client: FlaskClient, world: World) -> None:
    r = client.post(
        "/api/v1/admin/users", json={"username": "st2", "role": "station", "station": "ST-EQ-01"}, headers=world.auth("admin")
    )
    assert r.status_code == 201
    r = client.post("/api/v1/admin/users", json={"username": "st3", "role": "station"}, headers=world.auth("admin"))
    assert r.status_code == 422
    r = client.post("/api/v1/admin/users", json={"username": "st2", "role": "bureau"}, headers=world.auth("admin"))
    assert r.status_code == 409
    token = client.post("/api/v1/admin/users/st2/tokens", json={"label": "pump PC"}, headers=world.auth("admin")).get_json()[
        "token"
    ]
    from tests.registry.helpers import event, post_events

    world.tokens["st2"] = token
    assert post_events(client, world, "ST-EQ-01", [event(world.clock())], who="st2").status_code == 200
    assert post_events(client, world, "ST-JS-01", [event(world.clock())], who="st2").status_code == 403
    audit = client.get("/api/v1/admin/audit", headers=world.auth("admin")).get_json()["entries"]
    assert [e["action"] for e in audit[:2]] == ["issue_token", "create_user"]
    assert audit[0]["actor"] == "admin"
