"""The booth page as an attacker at the booth, a web page in the booth's browser or a script on the
station LAN would use it: shared field rules before the pump, the supervisor password's throttle,
bad input, same-origin/CSRF checks and the bounded server (issue 12). Chromium: test_booth_browser.py."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from station_agent import events, passwords
from station_agent.config import parse_config
from station_agent.errors import BoothInputError, ConfigError, OverrideLocked, OverrideRefused
from station_agent.passwords import hash_password, verify_password
from station_agent.tagsource import TagReading
from station_agent.web import AttendantServer
from tag_tools.fields import OVERRIDE_REASON
from tag_tools.passwords import CHEAP_FOR_TESTS
from tag_tools.verdict import ChipEvidence, Originality
from tests.station_agent.booth_http import BoothClient, request
from tests.station_agent.conftest import SUPERVISOR_PASSWORD, Station, config_document, uid_for, vehicle_claims

GOOD_REASON = "chip replaced, ticket 77"


def _refused_vehicle(station: Any, index: int = 0) -> None:
    """A vehicle refused for an overridable reason (a chip that is not genuine)."""
    message = station.pki.ndef_message(uid_for(index), **vehicle_claims(index))
    station.agent.handle(TagReading(uid_for(index), message, ChipEvidence(Originality.NOT_GENUINE)))
    assert station.agent.session.state.value == "refused" and not station.agent.pump.enabled


def _reports(station: Any, code: str) -> list[dict[str, Any]]:
    return [r for r in station.agent.outbox.unsent_reports(100) if r["code"] == code]


# -- 1. shared rules before the pump ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("attendant", "supervisor", "reason"),
    [
        ("A-009", "S-01", "chip replaced\x00, ticket 77"),  # NUL: PostgreSQL refuses it at the registry
        ("A-\ud800", "S-01", GOOD_REASON),  # lone surrogate: not UTF-8, breaks every JSON writer
        ("A-009", "S-01\n", GOOD_REASON + "\x1b[2J"),
        ("A-009", "S-01", "x" * 201),  # longer than the registry keeps: it would be cut, or refused later
        ("A-009", "S-01", "  ok  "),
    ],  # too short once stripped
)
def test_override_with_text_the_registry_refuses_is_refused_before_the_pump(
    make_station: Callable[..., Station], attendant: str, supervisor: str, reason: str
) -> None:
    station = make_station()
    _refused_vehicle(station)
    with pytest.raises(BoothInputError):
        station.agent.override(attendant, supervisor, SUPERVISOR_PASSWORD, reason)
    assert not station.agent.pump.enabled and True not in station.pump_commands()
    assert [e.body["registry"]["outcome"] for e in station.agent.outbox.unsent(10)] == ["refused"]


def test_override_stores_the_reason_as_the_registry_will_read_it(make_station: Callable[..., Station]) -> None:
    """300 spaces then "reason": the old agent cut it to 200 spaces (refused for good by the registry,
    after the pump had run); now the event carries exactly what the shared rule makes of it."""
    station = make_station()
    _refused_vehicle(station)
    station.agent.override(" A-009 ", "S-01", SUPERVISOR_PASSWORD, " " * 300 + "reason")
    override = station.agent.outbox.unsent(10)[-1].body["registry"]
    assert override["override_reason"] == "reason" == OVERRIDE_REASON.check(override["override_reason"])
    assert override["attendant"] == "A-009" and station.agent.pump.enabled


def test_an_override_whose_event_cannot_be_made_is_refused(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    station = make_station()
    _refused_vehicle(station)
    real = events.scan_event

    def refusing(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("supervisor"):
            raise ValueError("override_reason breaks the registry's rules")
        return real(*args, **kwargs)

    monkeypatch.setattr("station_agent.agent.scan_event", refusing)
    with pytest.raises(OverrideRefused, match="cannot record the override"):
        station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, GOOD_REASON)
    assert not station.agent.pump.enabled and len(station.agent.outbox.unsent(10)) == 1
    assert station.agent.faults.active() == []


def test_attendant_code_follows_the_shared_rule(make_station: Callable[..., Station]) -> None:
    station = make_station()
    for bad in ("A-\ud800", "A\x00", "", "x" * 33, 7):
        with pytest.raises(BoothInputError):
            station.agent.set_attendant(bad)
    assert station.agent.attendant == "A-007"
    station.agent.set_attendant("  A-012 ")
    assert station.agent.attendant == "A-012"


def test_config_checks_attendant_supervisor_ids_and_hosts(tmp_path: Path, root_pem: Path) -> None:
    def parse(**changes: Any) -> Any:
        document = config_document(tmp_path, root_pem)
        for table, values in changes.items():
            if table == "supervisors":
                document["supervisors"] = values
            else:
                document[table].update(values)
        return parse_config(document)

    assert parse(station={"attendant": " A-007 "}).attendant == "A-007"
    with pytest.raises(ConfigError, match=r"station\.attendant: attendant contains a control character"):
        parse(station={"attendant": "A\x00"})
    with pytest.raises(ConfigError, match=r"supervisors\[0\].id: supervisor contains a control character"):
        parse(supervisors=[{"id": "S-01\n", "password_hash": hash_password("x", cost=CHEAP_FOR_TESTS)}])
    with pytest.raises(ConfigError, match=r"needs attendant\.allowed_hosts"):
        parse(attendant={"listen": "0.0.0.0:8080"})
    with pytest.raises(ConfigError, match=r"allowed_hosts\[0\]"):
        parse(attendant={"listen": "0.0.0.0:8080", "allowed_hosts": ["http://booth.lan/"]})
    lan = parse(
        attendant={"listen": "0.0.0.0:8080", "allowed_hosts": ["Booth.LAN:8080"], "lock_after_failures": 3, "lock_minutes": 5}
    )
    assert lan.allowed_hosts == ("booth.lan:8080",) and lan.override_lock_after == 3
    assert lan.override_lock.total_seconds() == 300


# -- 2. the supervisor password ----------------------------------------------------------------------


def test_no_refused_vehicle_is_answered_without_looking_at_the_password(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    station = make_station()
    checked: list[object] = []

    def spy(password: object, stored: str) -> bool:
        checked.append(password)
        return False

    monkeypatch.setattr("station_agent.overrides.verify_password", spy)
    for password in (SUPERVISOR_PASSWORD, "wrong"):
        with pytest.raises(OverrideRefused) as refused:
            station.agent.override("A-009", "S-01", password, GOOD_REASON)
        assert str(refused.value) == "no refused vehicle to override"
    message = station.pki.ndef_message(uid_for(0), **vehicle_claims(0, 2))  # refused, one cylinder of two unread
    station.agent.handle(TagReading(uid_for(0), message, ChipEvidence(Originality.NOT_GENUINE)))
    with pytest.raises(OverrideRefused, match="remaining 1"):
        station.agent.override("A-009", "S-01", "wrong", GOOD_REASON)
    assert checked == [] and _reports(station, "override_refused") == []


def test_wrong_passwords_are_delayed_then_locked_per_supervisor_and_reported(
    make_station: Callable[..., Station], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    station = make_station()
    agent, clock = station.agent, station.clock
    _refused_vehicle(station)
    for attempt in range(5):
        with pytest.raises(OverrideRefused, match="unknown supervisor or wrong password"):
            agent.override("A-009", "S-01", f"guess-{attempt}", GOOD_REASON, client="10.0.0.5")
        if attempt < 4:  # exponential delay: the right password is refused until it has passed
            with pytest.raises(OverrideLocked, match=f"try again in {2**attempt} s"):
                agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, GOOD_REASON, client="10.0.0.5")
            clock.advance(seconds=2**attempt)
    for client in ("10.0.0.5", "10.0.0.6"):  # locked: the supervisor from anywhere, and this client
        with pytest.raises(OverrideLocked, match="locked after too many wrong passwords, try again in 15 min"):
            agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, GOOD_REASON, client=client)
    assert not agent.pump.enabled and True not in station.pump_commands()

    failures = _reports(station, "override_refused")
    assert len(failures) == 5 and all(r["kind"] == "station_fault" and r["pump"] == 1 for r in failures)
    assert failures[0]["detail"] == "override refused (wrong_password): supervisor 'S-01', client 10.0.0.5"
    (lock,) = _reports(station, "supervisor_locked")
    assert "supervisor:S-01" in lock["detail"] and "client:10.0.0.5" in lock["detail"]
    assert lock["cleared_at"] > lock["occurred_at"]
    assert agent.faults.active() == []  # a report for the bureau, not a fault that stops the pump

    clock.advance(minutes=15)  # the lock ends (the vehicle's session too: read it again)
    _refused_vehicle(station, 1)
    agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, GOOD_REASON, client="10.0.0.5")
    assert agent.pump.enabled
    everything = caplog.text + json.dumps(agent.outbox.unsent_reports(100))
    assert SUPERVISOR_PASSWORD not in everything and "guess-" not in everything


def test_a_client_trying_many_supervisor_ids_is_locked(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    station = make_station()
    agent, clock = station.agent, station.clock
    _refused_vehicle(station)
    stored: list[str] = []

    def spy(password: object, hashed: str) -> bool:
        stored.append(hashed)
        return passwords.verify_password(password, hashed)

    monkeypatch.setattr("station_agent.overrides.verify_password", spy)
    for attempt in range(5):
        with pytest.raises(OverrideRefused, match="unknown supervisor or wrong password"):
            agent.override("A-009", f"S-9{attempt}", SUPERVISOR_PASSWORD, GOOD_REASON, client="10.0.0.7")
        clock.advance(seconds=2**attempt)
    # Unknown ids cost one verification against a hash of the current algorithm and cost.
    assert len(stored) == 5 and all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in stored)
    assert _reports(station, "override_refused")[0]["detail"].startswith("override refused (unknown_supervisor)")
    with pytest.raises(OverrideLocked, match="15 min"):
        agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, GOOD_REASON, client="10.0.0.7")
    agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, GOOD_REASON, client="127.0.0.1")  # another client
    assert agent.pump.enabled


def test_unusable_passwords_are_wrong_not_errors() -> None:
    stored = hash_password("a password", cost=CHEAP_FOR_TESTS)
    for value in ("\ud800", "a\x00", "x" * 10_000, None, 42, ""):
        assert verify_password(value, stored) is False


# -- 3. bad input never changes the pump or the agent's health ------------------------------------


@pytest.fixture
def served(make_station: Callable[..., Station]) -> Iterator[tuple[Any, AttendantServer]]:
    station = make_station()
    server = AttendantServer(station.agent, "127.0.0.1", 0, request_timeout_s=2.0).start()
    yield station, server
    server.stop()


def _unchanged(station: Any, server: AttendantServer, session: Any) -> None:
    """Nothing moved: same session, pump off, attendant as configured, no fault; the page and its
    state are still served."""
    agent = station.agent
    assert agent.session is session and not agent.pump.enabled and True not in station.pump_commands()
    assert agent.attendant == "A-007" and agent.faults.active() == []
    client = BoothClient(server.url)
    assert client.state()["attendant"] == "A-007"


def test_bad_input_answers_4xx_and_changes_nothing(served: tuple[Any, AttendantServer]) -> None:
    station, server = served
    _refused_vehicle(station)
    session = station.agent.session
    client = BoothClient(server.url)
    surrogate = b'{"attendant": "\\ud800"}'  # JSON-escaped lone surrogate
    cases: list[tuple[str, bytes, dict[str, str], str | None, int]] = [
        ("/api/attendant", surrogate, {"Content-Type": "text/plain"}, None, 415),  # what any web page can send
        ("/api/attendant", surrogate, {}, None, 400),
        ("/api/attendant", b'{"attendant": "A\\u0000"}', {}, None, 400),
        ("/api/attendant", b'{"attendant": ["A-1"]}', {}, None, 400),
        ("/api/attendant", b'{"attendant": "A-1", "admin": true}', {}, None, 400),
        (
            "/api/override",
            json.dumps(
                {"attendant": "A\ud800", "supervisor": "S-01", "password": SUPERVISOR_PASSWORD, "reason": GOOD_REASON}
            ).encode(),
            {},
            None,
            400,
        ),
        (
            "/api/override",
            json.dumps({"attendant": "A-9", "supervisor": "S-01", "password": "\ud800", "reason": GOOD_REASON}).encode(),
            {},
            None,
            403,
        ),
        ("/api/attendant", b"not json", {}, None, 400),
        ("/api/attendant", b"\xff\xfe{}", {}, None, 400),
        ("/api/attendant", b"[" * 5000 + b"]" * 5000, {}, None, 413),
        ("/api/attendant", b'{"a":' * 1300 + b"1" + b"}" * 1300, {}, None, 400),
        ("/api/attendant", b"[" * 4000, {}, None, 400),
        ("/api/attendant", b"{}", {}, "-1", 400),
        ("/api/attendant", b"{}", {}, "1e3", 400),
        ("/api/attendant", b"{}", {}, "\u00b2", 400),  # "²".isdigit() is True: digits are ASCII here
        ("/api/attendant", b"{}", {}, "", 411),
        ("/api/attendant", b"", {}, "9" * 40, 413),  # never read, never int()-ed at length
        ("/api/attendant", b"{}", {"Transfer-Encoding": "chunked"}, None, 411),
        ("/api/nowhere", b"{}", {}, None, 404),
    ]
    for path, body, headers, length, status in cases:
        sent = {"Content-Type": "application/json", "X-Booth-Token": client.token, **headers}
        answer = request(server.url, "POST", path, body, sent, length=length)
        assert answer.status == status, (path, body[:40], headers, length, answer.status, answer.body[:200])
        assert json.loads(answer.body)["error"]
    for method, path in (
        ("GET", "/nowhere"),
        ("GET", "/static/../web.py"),
        ("PUT", "/api/attendant"),
        ("DELETE", "/"),
        ("GET", "/api/%00"),
    ):
        answer = request(server.url, method, path)
        assert 400 <= answer.status < 500 or answer.status == 501, (method, path, answer.status)
        assert answer.headers["X-Frame-Options"] == "DENY"
    with socket.create_connection(("127.0.0.1", int(server.httpd.server_address[1])), timeout=5) as raw:
        raw.sendall(b"\x00\xff\xfe GARBAGE\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 400")
    _unchanged(station, server, session)


def test_a_bug_in_a_handler_answers_500_and_touches_nothing(
    served: tuple[Any, AttendantServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    station, server = served
    _refused_vehicle(station)
    session = station.agent.session
    client = BoothClient(server.url)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(station.agent, "new_vehicle", broken)
    answer = client.post("/api/new-vehicle")
    assert answer.status == 500 and answer.json() == {"error": "internal error"}
    _unchanged(station, server, session)


# -- 4. same origin, Host and CSRF -----------------------------------------------------------------


def test_every_answer_carries_the_security_headers_and_the_page_no_inline_script(served: tuple[Any, AttendantServer]) -> None:
    _, server = served
    client = BoothClient(server.url)
    answers = [
        request(server.url, "GET", "/"),
        client.get("/api/state"),
        client.get("/api/words"),
        request(server.url, "GET", "/api/state"),
        request(server.url, "GET", "/", host="evil.test"),
        request(server.url, "OPTIONS", "/api/override"),
        client.get("/static/attendant.js"),
        client.post("/api/nowhere"),
    ]
    for answer in answers:
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'; frame-ancestors 'none'")
        assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "Access-Control-Allow-Origin" not in answer.headers
    page = answers[0].body
    assert b"<script>" not in page and b"<style>" not in page and b'<script src="/static/attendant.js">' in page
    assert "SameSite=Strict" in answers[0].headers["Set-Cookie"] and "HttpOnly" in answers[0].headers["Set-Cookie"]


def test_state_changes_need_host_origin_json_and_token(served: tuple[Any, AttendantServer]) -> None:
    station, server = served
    _refused_vehicle(station)
    session = station.agent.session
    client = BoothClient(server.url)
    port = server.httpd.server_address[1]
    body = {"attendant": "EVIL"}
    refused = [
        (client.post("/api/attendant", body, {"X-Booth-Token": ""}), 403, "token"),
        (client.post("/api/attendant", body, {"X-Booth-Token": _one_character_off(client.token)}), 403, "token"),
        (client.post("/api/attendant", body, {"X-Booth-Token": "é" * 10}), 403, "token"),
        (client.post("/api/attendant", body, {"Content-Type": "text/plain"}), 415, "content-type"),
        (client.post("/api/attendant", body, {"Content-Type": "application/x-www-form-urlencoded"}), 415, "content-type"),
        (client.post("/api/attendant", body, {"Origin": f"http://127.0.0.1:{port + 1}"}), 403, "origin"),
        (client.post("/api/attendant", body, {"Origin": "null"}), 403, "origin"),
        (client.post("/api/attendant", body, {"Referer": "http://evil.test/attack.html"}), 403, "origin"),
        (
            request(
                server.url,
                "POST",
                "/api/attendant",
                json.dumps(body).encode(),
                {"Content-Type": "application/json", "X-Booth-Token": client.token},
                host=f"evil.test:{port}",
            ),
            421,
            "host",
        ),
        (request(server.url, "GET", "/", host=f"evil.test:{port}"), 421, "host"),  # DNS rebinding reads nothing
        (request(server.url, "GET", "/api/state"), 403, "token"),
        (request(server.url, "GET", "/api/words"), 403, "token"),
        (request(server.url, "GET", "/api/stream"), 403, "token"),
    ]
    for answer, status, rule in refused:
        assert (answer.status, answer.json().get("rule")) == (status, rule), answer
    for path in ("/api/fill-done", "/api/new-vehicle"):
        assert client.post(path, {}, {"X-Booth-Token": ""}).status == 403
    assert (
        client.post(
            "/api/override",
            {"attendant": "A-9", "supervisor": "S-01", "password": SUPERVISOR_PASSWORD, "reason": GOOD_REASON},
            {"X-Booth-Token": ""},
        ).status
        == 403
    )
    _unchanged(station, server, session)
    # The page's own request, same origin and with its token, is taken.
    answer = client.post("/api/attendant", body, {"Origin": f"http://127.0.0.1:{port}"})
    assert answer.status == 200 and station.agent.attendant == "EVIL"


def test_lan_display_with_an_allow_listed_host(make_station: Callable[..., Station]) -> None:
    """The second supported kiosk set-up: bound to every interface, the display opens the page by
    the name in attendant.allowed_hosts; any other name is refused."""
    station = make_station()
    server = AttendantServer(station.agent, "0.0.0.0", 0, allowed_hosts=("booth-display.lan",)).start()
    try:
        port = server.httpd.server_address[1]
        display = BoothClient(server.url, host=f"booth-display.lan:{port}")
        assert (
            display.post("/api/attendant", {"attendant": "A-020"}, {"Origin": f"http://booth-display.lan:{port}"}).status == 200
        )
        assert station.agent.attendant == "A-020"
        for host in (f"other.lan:{port}", "booth-display.lan:1", f"0.0.0.0:{port}", f"booth-display.lan.evil.test:{port}"):
            assert request(server.url, "GET", "/", host=host).status == 421
        assert BoothClient(server.url).state()["attendant"] == "A-020"  # and the screen on the same box
    finally:
        server.stop()


# -- 5. a bounded server ------------------------------------------------------------------------


def test_connections_and_streams_are_bounded_and_slow_clients_cut_off(make_station: Callable[..., Station]) -> None:
    station = make_station()
    server = AttendantServer(station.agent, "127.0.0.1", 0, max_connections=4, stream_slots=1, request_timeout_s=1.0).start()
    address = ("127.0.0.1", int(server.httpd.server_address[1]))
    try:
        client = BoothClient(server.url)
        idle = [socket.create_connection(address, timeout=5) for _ in range(4)]
        idle[0].sendall(b"POST /api/attendant HTTP/1.1\r\n")  # a slow client: it never finishes
        time.sleep(0.2)
        with socket.create_connection(address, timeout=5) as extra:  # the fifth: turned away at once
            assert extra.recv(100).startswith(b"HTTP/1.1 503")
        started = time.monotonic()
        for connection in idle:  # each is cut off by the request deadline, not left to hold a thread
            connection.settimeout(5)
            while connection.recv(4096):
                pass
            connection.close()
        assert time.monotonic() - started < 3
        time.sleep(0.1)
        stream = socket.create_connection(address, timeout=5)
        stream.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {address[0]}:{address[1]}\r\nCookie: {client.cookie}\r\n\r\n".encode())
        assert stream.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(1.2)  # the request deadline does not cut a stream
        assert client.get("/api/stream").status == 503  # one stream slot
        assert client.state()["attendant"] == "A-007"  # the page's other requests still go through
        stream.close()
        large = request(
            server.url,
            "POST",
            "/api/attendant",
            None,
            {"Content-Type": "application/json", "X-Booth-Token": client.token},
            length="100000",
        )
        assert large.status == 413  # answered from the headers: the body was never awaited
    finally:
        server.stop()
    assert station.agent.faults.active() == [] and not station.agent.pump.enabled


def _one_character_off(token: str) -> str:
    """The token with its first character changed: always another token ("x" + token[1:] was the
    same token whenever the random token began with "x", one run in 64)."""
    return ("y" if token[0] == "x" else "x") + token[1:]
