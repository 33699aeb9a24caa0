"""No input gives a 500, anywhere: every route of the app (API and dashboard, read from the URL map,
so a new route is covered without touching this file) on SQLite and on PostgreSQL, called by a
principal of the route's own role so the handler body runs, with hostile values in its path
parameters, query parameters, JSON body fields, raw bodies, content types and form fields.

Two parts per database: a fixed list of the values seen to cause 500s (deeply nested JSON, lone
surrogates, NUL bytes, Arabic-Indic and full-width digits, dates at year 1 and 9999 in filters and
cursors, header-breaking newlines, huge integers, wrong JSON types, empty bodies, wrong content
types), each tried in every slot of every route (the dashboard's shared query parameters spread over
its pages, see dashboard_query_calls); then hypothesis mixing them with generated values. Every
answer must be below 500, and the app must still answer normal requests afterwards. A JSON body's
sample comes from the OpenAPI schema (schemas/registry-api.yaml), so a hostile value put in one
field is met by the handler after every field before it passed.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from registry_service import migrate, security
from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.dashboard import URL_PREFIX, register_dashboard
from registry_service.dashboard.filters import FILTER_KEYS
from registry_service.db import make_engine
from registry_service.models import Cylinder, Role, Station, Vehicle
from registry_service.node import Registry
from registry_service.seed import DemoShape, seed_demo
from registry_service.services import accounts, places
from tag_tools.passwords import CHEAP_FOR_TESTS
from tests.registry.conftest import Clock
from tests.registry.pg_cluster import create_database, drop_database
from tests.testkit import TestPki

SPEC = yaml.safe_load((Path(__file__).parents[2] / "schemas" / "registry-api.yaml").read_text())
TODAY = date(2026, 11, 22)
PASSWORD = "correct-horse-battery"
CHEAP_PASSWORD_COST = CHEAP_FOR_TESTS  # tag_tools.passwords: Argon2id at 8 KiB
SHAPE = DemoShape(
    vehicles=40, stations_per_district=1, event_days=3, fills_per_vehicle_per_week=3.0, overdue_share=0.1, condemned_share=0.05
)
USERS = {Role.BUREAU: "bureau", Role.ADMIN: "admin", Role.STATION: "station", Role.CENTRE: "centre"}
# Who calls a route: the first of its roles in this order (every role's handler body is the same code).
ROLE_ORDER = (Role.BUREAU, Role.CENTRE, Role.STATION, Role.ADMIN)
# ... and the grid case list's state and overdue, the weekly report's week and level (issue 16).
DASHBOARD_QUERY_KEYS = (
    *(*FILTER_KEYS, "sort", "order", "page", "kind", "cursor", "q", "next", "lang"),
    *("state", "overdue", "week", "level"),
)


def _cursor(stamp: str) -> str:
    return base64.urlsafe_b64encode(f"{stamp}|{uuid.UUID(int=1)}".encode()).decode()


# One of each class seen to cause a 500, per kind of slot. Every value goes into every slot of that
# kind of every route (query values on dashboard pages: see dashboard_query_calls).
QUERY_VALUES: tuple[str, ...] = (
    "\x00",
    "\ud800",
    "١٢",
    "１２",
    "²",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9" * 40,
    "a\r\nX-Injected: 1",
    _cursor("0001-01-01T00:00:00+14:00"),
    _cursor("9999-12-31T23:59:59-14:00"),
)
PATH_VALUES: tuple[str, ...] = (
    "\x00",
    "A\x00B",
    "\ud800",
    "١٢",
    "9" * 40,
    "9" * 400,
    "a\r\nb",
    "x" * 3000,
    "..",
    "\u202e🙂",
    " ",
)
FORM_VALUES: tuple[str, ...] = (
    "\x00",
    "\ud800",
    "١٢",
    "x" * 3000,
    "/dashboard/\r\nX-Injected: 1",
    "/dashboard/\n",
    "//evil.example/",
    "",
)
DEEP = 100_000
# JSON values for a body field.
JSON_VALUES: tuple[Any, ...] = (
    "\ud800",
    "A\x00B",
    "１２",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31",
    10**40,
    -(10**40),
    True,
    None,
    [],
    {"\ud800": "\x00"},
    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
)
# Whole query strings, sent to every route: a place that selects nothing with a group_by that breaks
# a header (the aggregate then never validates it), non-ASCII paging digits, NUL and bad UTF-8 in names.
EMPTY_REGION = "EMPTY-01"
WHOLE_QUERIES: tuple[str, ...] = (
    f"region={EMPTY_REGION}&group_by=x%0D%0AX-Injected:%201&format=csv",
    f"region={EMPTY_REGION}&group_by=%E2%80%AE%F0%9F%99%82&format=csv",
    f"region={EMPTY_REGION}&group_by=%ED%A0%80&format=csv",
    "page=%D9%A1%D9%A2&limit=%EF%BC%91%EF%BC%92&%00=%00&%ED%A0%80=1&x=%ZZ",
)
# Whole bodies, sent as application/json.
NASTY_BODIES: tuple[bytes, ...] = (
    b"[" * DEEP,
    b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP,
    b'{"events":' + b"[" * DEEP + b"]" * DEEP + b"}",
    b"",
    b"null",
    b"[]",
    b'"x"',
    b"1",
    b"{",
    b"\xff\xfe\x00",
    b'"\\ud800"',
    b'{"\\ud800": 1}',
    b"9" * 5000,
    b"1e999999",
    b"NaN",
    b'{"a": Infinity}',
    b"\xef\xbb\xbf{}",
    b'{"a": 1, "a": 2}',
    b"\x00",
)
CONTENT_TYPES: tuple[str | None, ...] = (
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=utf-16",
    "application/xml",
    "application/cose",
    "application/problem+json",
)


# The registry under test ----------------------------------------------------------------------


@dataclass
class Target:
    """One database, seeded, with a token per role and a dashboard client per role."""

    app: Flask
    engine: Engine
    tokens: dict[Role, str]
    path_values: dict[str, str]
    clients: dict[Role | None, FlaskClient] = field(default_factory=dict)
    csrf: dict[Role | None, str] = field(default_factory=dict)


def _build(url: str) -> Target:
    engine = make_engine(RegistryConfig(database_url=url, pool_size=4, max_overflow=4))
    migrate.upgrade(engine)
    seed_demo(engine, 3, TODAY, SHAPE, progress=False)
    config = RegistryConfig(database_url=url, bureau_root_pem=TestPki.create(Clock()()).root_certificate_pem)
    app = create_app(config, engine=engine, clock=Clock())
    register_dashboard(app, secret_key="no-500-test-secret")
    registry: Registry = app.extensions["registry"]
    now = Clock()()

    def people(session: Session) -> tuple[dict[Role, str], dict[str, str]]:
        station = session.scalars(select(Station.code).order_by(Station.code).limit(1)).one()
        places.create_centre(session, "test", now, code="ZZTJ01", name="郑州市特种设备检验中心")
        places.ensure_region(session, EMPTY_REGION, "无站点街道")  # a place filter that selects no station
        tokens: dict[Role, str] = {}
        for role, name in USERS.items():
            user = accounts.create_user(
                session,
                "test",
                now,
                username=name,
                role=role,
                station_code=station if role is Role.STATION else None,
                centre_code="ZZTJ01" if role is Role.CENTRE else None,
            )
            user.password_hash = security.hash_password(PASSWORD, cost=CHEAP_PASSWORD_COST)
            tokens[role] = accounts.issue_token(session, "test", now, username=name).token
        values = {
            "cylinder_id": session.scalars(select(Cylinder.cylinder_id).order_by(Cylinder.id).limit(1)).one(),
            "plate": session.scalars(select(Vehicle.plate).order_by(Vehicle.id).limit(1)).one(),
            "station_code": station,
            "code": "ZZTJ01",
            "username": "admin",
            "fingerprint": "0" * 64,
            "token_id": "999999",
            "list_id": "0",
            "filename": "dashboard.css",
            "number": "410105-20261122-0001",
            "sha256": "0" * 64,  # a case step's photo (dashboard case_photo)
            "patrol_id": "1",  # a patrol (dashboard patrol_detail): none is stored, so 404
            "service_request_id": "410105-20261122-0001",
            "lang": "en",  # the handheld page's reason texts (/verify/reasons/<lang>.json)
            "name": "icon-192.png",  # the handheld app's icons (/verify/icons/<name>)
        }
        return tokens, values

    tokens, values = registry.transaction(people)
    return Target(app, engine, tokens, values)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with pytest.MonkeyPatch.context() as patch:
        # Log-in paths run the KDF (against a dummy hash for unknown users) on every attempt; its
        # cost is not what this test is about, so the hashes here are cheap ones.
        cheap = security.hash_password("no-such-user-password", cost=CHEAP_PASSWORD_COST)
        patch.setattr(security, "dummy_hash", lambda: cheap)
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('no500') / 'registry.sqlite3'}"
        else:
            url = create_database("registry_no500")
        built = _build(url)
        yield built
        built.engine.dispose()
        if request.param == "postgresql":
            drop_database(url)


# Routes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    rule: Rule
    method: str
    roles: tuple[Role, ...]  # empty: anyone

    @property
    def dashboard(self) -> bool:
        return self.rule.rule.startswith(URL_PREFIX)

    @property
    def caller(self) -> Role | None:
        return next((role for role in ROLE_ORDER if role in self.roles), None)

    def __str__(self) -> str:
        return f"{self.method} {self.rule.rule}"


def routes(app: Flask) -> list[Route]:
    out: list[Route] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        roles = tuple(getattr(view, "allowed_roles", ()))
        out.extend(Route(rule, method, roles) for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
    return out


def _spec_operation(route: Route) -> dict[str, Any]:
    path = route.rule.rule.removeprefix("/api/v1")
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
    operation: dict[str, Any] = SPEC["paths"].get(path, {}).get(route.method.lower(), {})
    return operation


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def query_keys(route: Route) -> tuple[str, ...]:
    if route.dashboard:
        return DASHBOARD_QUERY_KEYS if route.method == "GET" else ()
    params = [_resolve(p) for p in _spec_operation(route).get("parameters", [])]
    return tuple(p["name"] for p in params if p.get("in") == "query")


def body_schema(route: Route) -> dict[str, Any] | None:
    content = _spec_operation(route).get("requestBody", {}).get("content", {})
    return _resolve(content["application/json"]["schema"]) if "application/json" in content else None


def sample(schema: Any) -> Any:
    """A valid value of a (small) JSON schema, so that a hostile value put in one field is the one
    the handler trips on, after every field before it passed."""
    schema = _resolve(schema)
    if "oneOf" in schema:
        return sample(schema["oneOf"][0])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    if kind == "object":
        return {key: sample(value) for key, value in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample(schema.get("items", {"type": "string"})) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("format") == "date-time":
        return "2026-11-22T10:00:00+08:00"
    if schema.get("format") == "date":
        return "2026-11-22"
    if schema.get("examples"):
        return schema["examples"][0]
    pattern = schema.get("pattern")
    for candidate in ("x" * max(1, schema.get("minLength", 1)), "xx", "ab12"):
        if pattern is None or re.search(pattern, candidate):
            return candidate
    raise AssertionError(f"give the schema with pattern {pattern} an example")


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The places in a sample body a hostile value can go: every field, and the fields of the first
    item of each list of objects (a scan event, a cylinder asked about)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            if isinstance(inner, list) and inner and isinstance(inner[0], dict):
                yield from leaf_paths(inner[0], (*prefix, key, 0))


def replaced(body: Any, where: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    node = copy
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    return copy


# Requests ---------------------------------------------------------------------------------------


def _path_segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def url_for_route(target: Target, route: Route, hostile: tuple[str, str] | None = None) -> str:
    """The route's URL with good values in its path parameters, or one hostile value."""
    path = route.rule.rule
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", path):
        value = hostile[1] if hostile and hostile[0] == name else target.path_values[name]
        if hostile and hostile[0] == name and converter == "int":
            value = value or "0"
        path = re.sub(rf"<(?:\w+:)?{name}>", _path_segment(value), path)
    return path


def client_for(target: Target, role: Role | None) -> FlaskClient:
    """A test client signed in to the dashboard as `role` (anonymous for None), with its CSRF token."""
    if role in target.clients:
        return target.clients[role]
    client = target.app.test_client()
    page = client.get("/dashboard/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the sign-in page carries a CSRF token"
    if role is not None:
        answer = client.post(
            "/dashboard/sign-in", data={"username": USERS[role], "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert answer.status_code == 302, answer.status_code
        page = client.get("/dashboard/sign-in", follow_redirects=True).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
    target.clients[role] = client
    target.csrf[role] = token.group(1)
    return client


@dataclass
class Call:
    route: Route
    url: str
    query: str = ""
    body: bytes | None = None
    content_type: str | None = None
    form: dict[str, str] | None = None

    def describe(self) -> str:
        shown = (self.body or b"")[:120]
        return f"{self.route} url={self.url[:200]!r} query={self.query[:200]!r} body={shown!r} ct={self.content_type}"


def send(target: Target, call: Call) -> TestResponse:
    route = call.route
    caller = route.caller
    headers: dict[str, str] = {}
    if route.dashboard:
        client = client_for(target, caller if route.roles else (Role.BUREAU if route.method == "GET" else None))
        if route.method == "POST":
            form = {"csrf_token": target.csrf[caller if route.roles else None], **(call.form or {})}
            raw = "&".join(f"{_path_segment(k)}={_path_segment(v)}" for k, v in form.items())
            return client.open(
                call.url,
                method="POST",
                query_string=call.query,
                data=raw.encode(),
                content_type="application/x-www-form-urlencoded",
            )
        if "next" in call.query or route.rule.endpoint == "dashboard.sign_in":
            client = client_for(target, None)  # the sign-in page with next= is what anonymous users get
    else:
        client = target.app.test_client()
        if caller is not None:
            headers["Authorization"] = f"Bearer {target.tokens[caller]}"
    kwargs: dict[str, Any] = {"headers": headers, "query_string": call.query}
    if call.body is not None:
        kwargs["data"] = call.body
        if call.content_type is not None:
            kwargs["content_type"] = call.content_type
    return client.open(call.url, method=route.method, **kwargs)


def failure(target: Target, call: Call) -> str | None:
    """Why the call broke the rule (None when it did not)."""
    try:
        response = send(target, call)
    except Exception as exc:  # an exception escaping the app is a 500 the client never even sees
        return f"{call.describe()} raised {exc!r}"
    if response.status_code >= 500:
        return f"{call.describe()} -> {response.status_code} {response.get_data()[:200]!r}"
    return None


def check(target: Target, call: Call) -> TestResponse:
    response = send(target, call)
    assert response.status_code < 500, f"{call.describe()} -> {response.status_code} {response.get_data()[:300]!r}"
    return response


def good_body(route: Route) -> bytes | None:
    if route.method not in ("POST", "PUT") or route.dashboard:
        return None
    schema = body_schema(route)
    if schema is None:
        return b"\xd2\x84"  # a body that is not JSON (the trust list is COSE)
    return json.dumps(sample(schema)).encode()


def _content_type(route: Route) -> str | None:
    return "application/json" if body_schema(route) is not None else "application/cose"


def baseline(target: Target, route: Route) -> Call:
    body = good_body(route)
    return Call(route, url_for_route(target, route), body=body, content_type=_content_type(route) if body else None)


def fixed_calls(target: Target, route: Route) -> Iterator[Call]:
    """Every nasty value in every slot of the route, one at a time (dashboard query values apart)."""
    base = baseline(target, route)
    for name in re.findall(r"<(?:\w+:)?(\w+)>", route.rule.rule):
        for value in PATH_VALUES:
            yield Call(route, url_for_route(target, route, (name, value)), body=base.body, content_type=base.content_type)
    if not route.dashboard:
        for key in query_keys(route):
            for value in QUERY_VALUES:
                yield Call(route, base.url, query=f"{key}={_path_segment(value)}", body=base.body, content_type=base.content_type)
    for query in WHOLE_QUERIES:
        yield Call(route, base.url, query=query, body=base.body, content_type=base.content_type)
    if route.dashboard and route.method == "POST":
        for key in ("username", "password", "next", "csrf_token"):
            for value in FORM_VALUES:
                yield Call(route, base.url, form={"username": "nobody", "password": "wrong-password-1", key: value})
        return
    if base.body is None:
        return
    if body_schema(route) is not None:
        body = json.loads(base.body)
        for where in leaf_paths(body):
            for value in JSON_VALUES:
                yield Call(
                    route, base.url, body=json.dumps(replaced(body, where, value)).encode(), content_type="application/json"
                )
        for raw in NASTY_BODIES:
            yield Call(route, base.url, body=raw, content_type="application/json")
    for content_type in CONTENT_TYPES:
        yield Call(route, base.url, body=base.body, content_type=content_type)


def reads_query(target: Target, route: Route) -> bool:
    """Whether a dashboard page reads the query string: garbage in every parameter changes its answer."""
    base = baseline(target, route)
    garbage = "&".join(f"{key}=%01garbage" for key in DASHBOARD_QUERY_KEYS if key != "next")  # next: see send()
    return send(target, Call(route, base.url, query=garbage)).status_code != send(target, base).status_code


def dashboard_query_calls(target: Target, pages: list[Route]) -> Iterator[Call]:
    """Every nasty value in every query parameter of the dashboard. The pages that read the query
    string all read the same parameters, so each (parameter, value) pair goes to one of them in turn
    (with at least as many parameters as pages, every such page gets every value; a page renders in
    tens of milliseconds, and the full product would cost a minute); a page that ignores the query
    string gets each value once, in every parameter at the same time."""
    readers = [route for route in pages if reads_query(target, route)]
    assert readers and len(DASHBOARD_QUERY_KEYS) >= len(readers)
    for k, key in enumerate(DASHBOARD_QUERY_KEYS):
        for v, value in enumerate(QUERY_VALUES):
            route = readers[(k + v) % len(readers)]
            yield Call(route, url_for_route(target, route), query=f"{key}={_path_segment(value)}")
    for route in pages:
        if route not in readers:
            for value in QUERY_VALUES:
                query = "&".join(f"{key}={_path_segment(value)}" for key in DASHBOARD_QUERY_KEYS)
                yield Call(route, url_for_route(target, route), query=query)


# Tests ------------------------------------------------------------------------------------------


def _refused(response: TestResponse) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and "sign-in" in response.headers.get("Location", "")


def _still_answers(target: Target) -> None:
    assert target.app.test_client().get("/api/v1/health").status_code == 200
    status = target.app.test_client().post(
        "/api/v1/status",
        json={"plate": target.path_values["plate"]},
        headers={"Authorization": f"Bearer {target.tokens[Role.STATION]}"},
    )
    assert status.status_code == 200, status.get_data()
    assert client_for(target, Role.BUREAU).get("/dashboard/overview").status_code == 200


def test_every_route_with_every_nasty_value(target: Target) -> None:
    started = time.monotonic()
    every = routes(target.app)
    assert len(every) > 40, "the URL map lists the API and the dashboard"
    pages = [route for route in every if route.dashboard and route.method == "GET"]
    calls: list[Call] = []
    for route in every:
        if route.roles:
            answer = check(target, baseline(target, route))
            assert not _refused(answer), f"{route}: the caller must pass the role check ({answer.status_code})"
        calls.extend(fixed_calls(target, route))
    calls.extend(dashboard_query_calls(target, pages))
    failures = [why for call in calls if (why := failure(target, call)) is not None]
    sent = len(calls)
    print(f"\n{sent} hostile requests in {time.monotonic() - started:.1f} s")
    assert not failures, f"{len(failures)} answers of 500 or more:\n" + "\n".join(failures[:40])
    _still_answers(target)


# Any code point, lone surrogates included (hypothesis leaves them out unless asked).
any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12)
json_values = st.recursive(
    st.sampled_from(JSON_VALUES + QUERY_VALUES) | any_text | st.integers() | st.floats() | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)
text_values = st.sampled_from(QUERY_VALUES + PATH_VALUES + FORM_VALUES) | any_text


def test_generated_values_anywhere(target: Target) -> None:
    every = [route for route in routes(target.app) if route.rule.endpoint != "dashboard.static"]

    @settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(every))
        base = baseline(target, route)
        names: list[str] = re.findall(r"<(?:\w+:)?(\w+)>", route.rule.rule)
        url = base.url
        hostile_path: bool = data.draw(st.booleans())
        if names and hostile_path:
            url = url_for_route(target, route, (data.draw(st.sampled_from(names)), data.draw(text_values)))
        keys = query_keys(route)
        query = ""
        if keys:
            picked = data.draw(st.lists(st.sampled_from(keys), max_size=3, unique=True))
            query = "&".join(f"{key}={_path_segment(data.draw(text_values))}" for key in picked)
        body = base.body
        if body is not None and body_schema(route) is not None:
            sample_body = json.loads(body)
            where = data.draw(st.sampled_from(list(leaf_paths(sample_body))))
            body = json.dumps(replaced(sample_body, where, data.draw(json_values))).encode()
        form = None
        if route.dashboard and route.method == "POST":
            form = {"username": data.draw(text_values), "password": data.draw(text_values), "next": data.draw(text_values)}
        why = failure(target, Call(route, url, query=query, body=body, content_type=base.content_type, form=form))
        assert why is None, why

    probe()
    _still_answers(target)


def test_paging_numbers_are_ascii_digits_only(target: Target) -> None:
    """Not a 500 but the same class: Arabic-Indic and full-width digits are not 12 (int() would take them)."""
    api = target.app.test_client()
    headers = {"Authorization": f"Bearer {target.tokens[Role.BUREAU]}"}
    assert api.get("/api/v1/revocations?limit=12", headers=headers).status_code == 200
    dashboard = client_for(target, Role.BUREAU)
    assert dashboard.get("/dashboard/attempts?page=2").status_code == 200
    for digits in ("١٢", "１２", "²"):
        assert api.get(f"/api/v1/revocations?limit={_path_segment(digits)}", headers=headers).status_code == 422
        assert dashboard.get(f"/dashboard/attempts?page={_path_segment(digits)}").status_code in (400, 422)
