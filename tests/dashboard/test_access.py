"""Who gets in: sign-in, roles, the centre's scope, CSRF on every POST, lockout, session expiry, the
server-side session (sign-out ends it), and where `next=` may send a browser."""

from __future__ import annotations

import hashlib

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import select

from registry_service.models import DashboardSession, Role
from tests.dashboard.helpers import CSRF, csrf_token, sign_in
from tests.dashboard.world import Clock

PROTECTED = [
    "/dashboard/",
    "/dashboard/overview",
    "/dashboard/attempts",
    "/dashboard/attempts.csv",
    "/dashboard/inspections",
    "/dashboard/stations/ST-410105-01",
    "/dashboard/vehicles/X",
    "/dashboard/cylinders/156-4101-20000001",
    "/dashboard/station-faults",
    "/dashboard/search?q=x",
    "/dashboard/regions.json?q=4101",
    "/dashboard/stations.json?q=ST",
    "/dashboard/clones",
    "/dashboard/clones.csv",
]
# Every page and data route of the dashboard, with a URL to try and who may use it (the view's
# `allow`). A route added without an entry here fails test_every_dashboard_route_is_in_the_matrix.
BUREAU, BOTH = frozenset({"bureau"}), frozenset({"bureau", "centre"})
ROUTES: dict[str, tuple[str, frozenset[str]]] = {
    "dashboard.index": ("/dashboard/", frozenset({"bureau", "centre", "grid"})),
    "dashboard.overview": ("/dashboard/overview", BUREAU),
    "dashboard.attempts": ("/dashboard/attempts", BUREAU),
    "dashboard.attempts_csv": ("/dashboard/attempts.csv", BUREAU),
    "dashboard.station": ("/dashboard/stations/ST-410105-01", BUREAU),
    "dashboard.station_faults": ("/dashboard/station-faults", BUREAU),
    "dashboard.vehicle": ("/dashboard/vehicles/豫B00000", BUREAU),
    "dashboard.cylinder": ("/dashboard/cylinders/156-4101-20000001", BOTH),
    "dashboard.inspections": ("/dashboard/inspections", BOTH),
    "dashboard.search_page": ("/dashboard/search?q=156-4101-20000001", BOTH),
    "dashboard.region_options": ("/dashboard/regions.json?q=金水", BUREAU),
    "dashboard.station_options": ("/dashboard/stations.json?q=ST-4101", BUREAU),
    "dashboard.clone_list": ("/dashboard/clones", BUREAU),
    "dashboard.clones_csv": ("/dashboard/clones.csv", BUREAU),
    "dashboard.map_regions": ("/dashboard/map/regions.geojson", BUREAU),
    "dashboard.map_stations": ("/dashboard/map/stations.geojson", BUREAU),
    "dashboard.station_health": ("/dashboard/station-health", BUREAU),
    "dashboard.station_alarms": ("/dashboard/station-alarms", BUREAU),
    "dashboard.unexplained_ranking": ("/dashboard/unexplained-quantity", BUREAU),
    "dashboard.override_attempts": ("/dashboard/override-attempts", BUREAU),
    "dashboard.time_dark": ("/dashboard/time-dark", BUREAU),
    "dashboard.weekly_report": ("/dashboard/weekly-report", frozenset({"bureau", "grid"})),
    "dashboard.weekly_report_csv": ("/dashboard/weekly-report.csv", frozenset({"bureau", "grid"})),
    "dashboard.station_grades": ("/dashboard/station-grades", frozenset({"bureau", "grid"})),
    "dashboard.patrol_form": ("/dashboard/patrol", frozenset({"bureau", "grid"})),
    "dashboard.patrol_submit": ("/dashboard/patrol", frozenset({"bureau", "grid"})),  # GET there is the form
    "dashboard.patrol_list": ("/dashboard/patrols", frozenset({"bureau", "grid"})),
    "dashboard.patrol_detail": ("/dashboard/patrols/1", frozenset({"bureau", "grid"})),
    "dashboard.my_cases": ("/dashboard/my-cases", frozenset({"bureau", "grid"})),
    "dashboard.case_list": ("/dashboard/cases", frozenset({"bureau", "grid"})),
    "dashboard.case_page": ("/dashboard/cases/410105-20261122-9999", frozenset({"bureau", "grid"})),
    "dashboard.case_action": ("/dashboard/cases/410105-20261122-9999", frozenset({"bureau", "grid"})),  # GET: the page
    "dashboard.case_photo": ("/dashboard/cases/410105-20261122-9999/photos/" + "0" * 64, frozenset({"bureau", "grid"})),
    "dashboard.grid_cell": ("/dashboard/grid/410105", frozenset({"bureau", "grid"})),
}
# Routes whose sample URL names a record the seeded registry does not hold: a 404 for an allowed
# role still shows the role check let it through (a refused role gets its 403 before the lookup).
ABSENT_OK = frozenset({"dashboard.patrol_detail", "dashboard.case_page", "dashboard.case_action", "dashboard.case_photo"})
# Open to anyone: signing in and out (CSRF-checked) and the stylesheet and scripts.
PUBLIC = frozenset({"dashboard.sign_in", "dashboard.sign_in_submit", "dashboard.sign_out", "dashboard.static"})


@pytest.mark.parametrize("path", PROTECTED)
def test_anonymous_is_sent_to_sign_in(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/sign-in?next=")


def test_bureau_signs_in_and_lands_where_it_was_going(client: FlaskClient) -> None:
    target = client.get("/dashboard/attempts?outcome=refused").headers["Location"].split("next=")[1]
    response = sign_in(client, "bureau", next="/dashboard/attempts?outcome=refused")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/attempts?outcome=refused"
    assert target  # the redirect carried the page asked for
    page = client.get("/dashboard/overview")
    assert page.status_code == 200 and "bureau" in page.get_data(as_text=True)


def test_next_must_be_a_dashboard_page(client: FlaskClient) -> None:
    for evil in ("https://evil.example/", "//evil.example/dashboard/", "/api/v1/bureau/centres"):
        response = sign_in(client, "bureau", next=evil)
        assert response.headers["Location"] == "/dashboard/", evil
        client.post("/dashboard/sign-out", data={"csrf_token": csrf_token(client)})


def test_wrong_password_is_refused_without_a_session(client: FlaskClient) -> None:
    response = sign_in(client, "bureau", "not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/dashboard/overview").status_code == 302


@pytest.mark.parametrize("username", ["station", "admin"])
def test_station_and_admin_accounts_are_refused(client: FlaskClient, username: str) -> None:
    response = sign_in(client, username)
    assert response.status_code == 403
    assert "无权使用" in response.get_data(as_text=True)
    assert client.get("/dashboard/overview").status_code == 302


def test_centre_user_sees_only_its_own_inspections(client: FlaskClient) -> None:
    assert sign_in(client, "centre1").headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/").headers["Location"] == "/dashboard/inspections"
    text = client.get("/dashboard/inspections").get_data(as_text=True)
    assert text.count("ZZTJ01-2026-") == 20
    assert "ZZTJ02-2026-" not in text
    for bureau_page in (
        "/dashboard/overview",
        "/dashboard/attempts",
        "/dashboard/attempts.csv",
        "/dashboard/stations/ST-410105-01",
    ):
        assert client.get(bureau_page).status_code == 403, bureau_page
    own = client.get("/dashboard/cylinders/156-4101-20000001")
    assert own.status_code == 200
    own_text = own.get_data(as_text=True)
    assert "ZZTJ01-2026-00001" in own_text and 'id="scans"' not in own_text  # no refuel history for centres
    assert client.get("/dashboard/cylinders/156-4101-20000021").status_code == 404  # centre 2's cylinder


def test_bureau_sees_every_centre(client: FlaskClient) -> None:
    sign_in(client, "bureau")
    text = client.get("/dashboard/inspections").get_data(as_text=True)
    assert "ZZTJ01-2026-" in text and "ZZTJ02-2026-" in text


def test_post_without_csrf_token_is_rejected(client: FlaskClient) -> None:
    response = client.post("/dashboard/sign-in", data={"username": "bureau", "password": "x" * 12})
    assert response.status_code == 400
    csrf_token(client)
    wrong = client.post("/dashboard/sign-in", data={"username": "bureau", "password": "x", "csrf_token": "forged"})
    assert wrong.status_code == 400


def test_sign_out_needs_the_token_and_ends_the_session(client: FlaskClient) -> None:
    sign_in(client, "bureau")
    assert client.post("/dashboard/sign-out").status_code == 400
    assert client.get("/dashboard/overview").status_code == 200
    assert client.post("/dashboard/sign-out", data={"csrf_token": csrf_token(client)}).status_code == 302
    assert client.get("/dashboard/overview").status_code == 302


def test_lockout_after_five_failures_lifts_after_fifteen_minutes(client: FlaskClient, clock: Clock) -> None:
    for _ in range(5):
        assert sign_in(client, "bureau", "wrong-password").status_code == 401
    locked = sign_in(client, "bureau")  # the right password no longer helps
    assert locked.status_code == 429 and "15 分钟" in locked.get_data(as_text=True)
    clock.advance(minutes=14)
    assert sign_in(client, "bureau").status_code == 429
    clock.advance(minutes=1, seconds=1)
    assert sign_in(client, "bureau").status_code == 302


def test_a_success_resets_the_failure_count(client: FlaskClient) -> None:
    for _ in range(4):
        sign_in(client, "centre2", "wrong-password")
    assert sign_in(client, "centre2").status_code == 302
    client.post("/dashboard/sign-out", data={"csrf_token": csrf_token(client)})
    for _ in range(4):
        assert sign_in(client, "centre2", "wrong-password").status_code == 401
    assert sign_in(client, "centre2").status_code == 302


def test_unknown_users_are_locked_out_too(client: FlaskClient) -> None:
    for _ in range(5):
        assert sign_in(client, "nobody", "wrong-password").status_code == 401
    assert sign_in(client, "nobody", "wrong-password").status_code == 429


def test_session_expires_after_eight_hours_even_when_used(client: FlaskClient, clock: Clock) -> None:
    sign_in(client, "bureau")
    for _ in range(19):  # a page every 25 minutes for 7 h 55: never idle long enough to end
        clock.advance(minutes=25)
        assert client.get("/dashboard/").headers["Location"] == "/dashboard/overview"
    clock.advance(minutes=4)
    assert client.get("/dashboard/overview").status_code == 200
    clock.advance(minutes=2)
    assert client.get("/dashboard/overview").status_code == 302


def test_an_idle_session_ends_after_thirty_minutes(client: FlaskClient, clock: Clock) -> None:
    sign_in(client, "bureau")
    clock.advance(minutes=29)
    assert client.get("/dashboard/").headers["Location"] == "/dashboard/overview"
    clock.advance(minutes=29)  # 58 minutes after signing in, 29 after the last page
    assert client.get("/dashboard/").headers["Location"] == "/dashboard/overview"
    clock.advance(minutes=30)
    assert client.get("/dashboard/").headers["Location"].startswith("/dashboard/sign-in")


def test_a_cookie_copied_before_sign_out_is_refused_after_it(client: FlaskClient, app: Flask) -> None:
    sign_in(client, "bureau")
    cookie = client.get_cookie("cg_dashboard")
    assert cookie is not None and client.get("/dashboard/").headers["Location"] == "/dashboard/overview"
    token = CSRF.search(client.get("/dashboard/inspections").get_data(as_text=True))
    assert token is not None
    assert client.post("/dashboard/sign-out", data={"csrf_token": token.group(1)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("cg_dashboard", cookie.value)
    response = thief.get("/dashboard/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/dashboard/sign-in")


def test_the_session_table_holds_no_session_id(client: FlaskClient, app: Flask) -> None:
    sign_in(client, "bureau")
    cookie = client.get_cookie("cg_dashboard")
    assert cookie is not None
    interface = app.session_interface
    assert isinstance(interface, SecureCookieSessionInterface)
    serializer = interface.get_signing_serializer(app)
    assert serializer is not None
    session_id = serializer.loads(cookie.value)["sid"]
    with app.extensions["registry"].engine.connect() as connection:
        stored = connection.scalars(select(DashboardSession.id_hash)).all()
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]


NEXT_REFUSED = [
    "/dashboard/\nSet-Cookie: stolen=1", "/dashboard/overview\r\nLocation: https://evil.example/",
    "/dashboard/\x00", "/dashboard/\u2028x", "https://evil.example/dashboard/", "//evil.example/dashboard/",
    "/\\evil.example/dashboard/", "/dashboard/..//evil.example", "/dashboard/../api/v1/bureau/centres",
    "/dashboard/%2e%2e/api/v1/bureau/centres", "javascript:alert(1)//dashboard/", "/dashboard/\\evil.example",
]  # fmt: skip


def test_next_with_control_characters_or_another_host_is_dropped(app: Flask, client: FlaskClient) -> None:
    for evil in NEXT_REFUSED:  # the page drops it (no 500) and so does the form's handler
        page = client.get("/dashboard/sign-in", query_string={"next": evil})
        assert page.status_code == 200 and 'name="next"' not in page.get_data(as_text=True), evil
    for evil in [*NEXT_REFUSED[:2], "//evil.example/dashboard/"]:  # each a password check: a few only
        response = sign_in(app.test_client(), "bureau", next=evil)
        assert response.status_code == 302 and response.headers["Location"] == "/dashboard/", evil
    protected = client.get("/dashboard/vehicles/X%0D%0ASet-Cookie:%20a=1")  # the way in, too
    assert protected.status_code == 302 and "\n" not in protected.headers["Location"]


def test_next_keeps_a_dashboard_page_with_non_ascii_text(client: FlaskClient) -> None:
    response = sign_in(client, "bureau", next="/dashboard/vehicles/豫A 12345?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/vehicles/%E8%B1%ABA%2012345?x=1"


def test_session_cookie_is_http_only_and_same_site(client: FlaskClient) -> None:
    response = sign_in(client, "bureau")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("cg_dashboard="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_dashboard_route_is_in_the_matrix(app: Flask) -> None:
    declared: dict[str, frozenset[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboard."):
            roles: frozenset[Role] = getattr(app.view_functions[rule.endpoint], "allowed_roles", frozenset())
            declared[rule.endpoint] = frozenset(role.value for role in roles)
    assert declared.keys() == ROUTES.keys() | PUBLIC, "add the route to ROUTES (or PUBLIC) with who may use it"
    assert {endpoint: roles for endpoint, (_, roles) in ROUTES.items()} == {e: declared[e] for e in ROUTES}
    assert all(not declared[endpoint] for endpoint in PUBLIC)


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_authorisation_matrix(app: Flask, endpoint: str) -> None:
    """Anonymous: to the sign-in page; a role the route is not for: 403; its roles: the page."""
    path, roles = ROUTES[endpoint]
    anonymous = app.test_client().get(path)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/dashboard/sign-in?next="), path
    for username, role in (("bureau", "bureau"), ("centre1", "centre")):
        client = app.test_client()
        assert sign_in(client, username).status_code == 302
        response = client.get(path)
        if role in roles:
            allowed = (200, 302, 404) if endpoint in ABSENT_OK else (200, 302)
            assert response.status_code in allowed, (username, path, response.status_code)
            assert "sign-in" not in response.headers.get("Location", ""), (username, path)
        else:
            assert response.status_code == 403, (username, path, response.status_code)
