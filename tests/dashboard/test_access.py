"""Who gets in: sign-in, roles, the centre's scope, CSRF on every POST, lockout, session expiry."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.dashboard.helpers import csrf_token, sign_in
from tests.dashboard.world import Clock

PROTECTED = ["/dashboard/", "/dashboard/overview", "/dashboard/attempts", "/dashboard/attempts.csv",
             "/dashboard/inspections", "/dashboard/stations/ST-410105-01", "/dashboard/vehicles/X",
             "/dashboard/cylinders/156-4101-20000001", "/dashboard/station-faults"]


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
    for bureau_page in ("/dashboard/overview", "/dashboard/attempts", "/dashboard/attempts.csv",
                        "/dashboard/stations/ST-410105-01"):
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


def test_session_expires_after_eight_hours(client: FlaskClient, clock: Clock) -> None:
    sign_in(client, "bureau")
    clock.advance(hours=7, minutes=59)
    assert client.get("/dashboard/overview").status_code == 200
    clock.advance(minutes=2)
    assert client.get("/dashboard/overview").status_code == 302


def test_session_cookie_is_http_only_and_same_site(client: FlaskClient) -> None:
    response = sign_in(client, "bureau")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("cg_dashboard="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
