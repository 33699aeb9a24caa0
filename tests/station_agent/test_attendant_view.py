"""What the attendant's screen is told, without a browser: one look per state that never says "fill"
with the pump off, a refusal that stays until the next vehicle, faults and refused actions in the
attendant's words (never an exception's text), the override form only where the policy allows it,
times on the station's clock, and an event stream that beats while nothing changes."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from station_agent import view
from station_agent.config import parse_config
from station_agent.errors import ConfigError, OutboxFullError, OverrideLocked, OverrideRefused
from station_agent.session import SessionState
from station_agent.tagsource import TagReading
from station_agent.web import STREAM_BEAT_S, AttendantServer
from tag_tools.verdict import ChipEvidence, Originality
from tests.station_agent.booth_http import BoothClient
from tests.station_agent.conftest import OVERDUE, SUPERVISOR_PASSWORD, Station, config_document, uid_for, vehicle_claims


def _not_genuine(station: Station, index: int, count: int = 1, **claims: Any) -> None:
    """A read of a cylinder whose chip is not genuine: refused, and a supervisor may release it."""
    message = station.pki.ndef_message(uid_for(index), **vehicle_claims(index, count, **claims))
    station.agent.handle(TagReading(uid_for(index), message, ChipEvidence(Originality.NOT_GENUINE)))


def test_every_state_has_one_look_and_none_says_fill_with_the_pump_off() -> None:
    looks = {view.FILL, view.STOP, view.WAIT, view.IDLE}
    assert len({look.colour for look in looks}) == len({look.shape for look in looks}) == 4
    for state in view.PANEL_STATES:
        for pump_on in (True, False):
            shown, look = view.screen(state, pump_on)
            assert shown in view.PANEL_STATES
            assert look in looks
            if look is view.FILL:
                assert pump_on and shown not in view.STOP_STATES, (state, pump_on)
            if shown in view.STOP_STATES:
                assert look is view.STOP, (state, pump_on)
            if shown in view.FILL_STATES:
                assert look is view.FILL, (state, pump_on)  # a fill state is shown only while the pump is on
    assert view.screen("collecting", False) == ("collecting", view.WAIT)
    assert view.screen("ready", False) == ("done", view.IDLE)  # the fill ended a moment ago


def test_a_refused_vehicle_stays_refused_until_the_next_vehicle(make_station: Callable[..., Station]) -> None:
    station = make_station(session_window_s=60)
    station.read(uid_for(0), **vehicle_claims(0, **OVERDUE))
    station.clock.advance(seconds=61)  # the session window passes with the vehicle still refused
    station.agent.tick()
    state = station.snapshot()
    assert state["state"] == "refused" and state["colour"] == "red" and state["shape"] == "cross"
    assert state["headline"]["en"] == "Do not fill" and not state["pump_enabled"]
    assert [r["code"] for r in state["session"]["reasons"]] == ["inspection_overdue"]  # not "cylinder missing"
    assert station.session_state() is SessionState.REFUSED
    # The next vehicle starts a session of its own (it is not refused as the refused one's cylinder).
    second = station.read(uid_for(1), **vehicle_claims(1, plate="豫A00002"))
    assert second.decision == "allow" and station.agent.pump.enabled
    assert station.snapshot()["state"] == "ready"
    assert station.pump_changes() == [False, True]


def test_a_partly_read_refused_vehicle_stays_refused_and_cannot_be_released_once_over(
    make_station: Callable[..., Station],
) -> None:
    station = make_station(session_window_s=60)
    _not_genuine(station, 0, 2)  # one of two cylinders, refused (a refusal a supervisor may release)
    _not_genuine(station, 1, 2)
    assert station.snapshot()["override_allowed"]
    station.clock.advance(seconds=61)
    state = station.snapshot()  # the page's stream asks for the state: time ends the session
    assert state["state"] == "refused" and not state["override_allowed"]
    with pytest.raises(OverrideRefused) as refused:
        station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "supervisor arrived late")
    assert refused.value.code == "no_refused_vehicle"
    assert not station.agent.pump.enabled and True not in station.pump_changes()
    station.agent.new_vehicle()
    assert station.snapshot()["state"] == "idle"


def test_the_override_form_is_offered_only_where_the_policy_allows(make_station: Callable[..., Station]) -> None:
    station = make_station()
    assert not station.snapshot()["override_allowed"]  # nothing read
    station.read(uid_for(0), **vehicle_claims(0, **OVERDUE))
    assert not station.snapshot()["override_allowed"]  # overdue: not on policy.overridable
    station.agent.new_vehicle()
    _not_genuine(station, 1, 2)
    assert not station.snapshot()["override_allowed"]  # one of two read: read the other first
    _not_genuine(station, 2, 2)
    assert station.snapshot()["override_allowed"]
    station.agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "chip replaced, ticket 79")
    state = station.snapshot()
    assert state["state"] == "overridden" and state["colour"] == "green" and not state["override_allowed"]
    monitor = make_station(mode="monitor")
    _not_genuine(monitor, 0)
    state = monitor.snapshot()
    assert state["state"] == "would_refuse" and not state["override_allowed"]
    assert state["pump_enabled"] and state["colour"] == "green"  # monitor mode fills: the screen says so


def test_a_fault_is_shown_in_the_attendants_words_at_the_stations_time(
    make_station: Callable[..., Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    station = make_station(timezone="Asia/Shanghai")

    def broken(*args: object) -> None:
        raise OutboxFullError("database or disk is full")

    monkeypatch.setattr(station.agent.assessor, "assess", broken)
    station.read(uid_for(0), **vehicle_claims(0))
    state = station.snapshot()
    assert state["state"] == "fault" and state["colour"] == "red" and not state["pump_enabled"]
    assert "OutboxFullError" in state["fault"]  # kept for the log and for tools ...
    # What the page shows of the state (attendant.js): the headline, each fault's text, the session.
    shown = json.dumps([state["headline"], [f["text"] for f in state["faults"]], state["session"]], ensure_ascii=False)
    assert "OutboxFullError" not in shown and "disk is full" not in shown  # ... never for the screen
    # 08:00 UTC is 16:00 in Zhengzhou: the page and the terminal line use the station's clock.
    assert state["faults"][0]["text"] == {"zh": "站控程序出错（16:00 起）", "en": "Station software error (since 16:00)"}
    assert station.lines[0].startswith("16:00:00 pump 1 ")


def test_every_fault_code_has_words() -> None:
    from station_agent import faults

    codes = {value for name, value in vars(faults).items() if name.isupper() and isinstance(value, str)}
    assert codes == set(view.FAULT_CODES)


@pytest.fixture
def served(make_station: Callable[..., Station]) -> Iterator[tuple[Station, AttendantServer]]:
    station = make_station()
    server = AttendantServer(station.agent, "127.0.0.1", 0).start()
    yield station, server
    server.stop()


def test_refused_actions_are_answered_in_the_attendants_words(served: tuple[Station, AttendantServer]) -> None:
    station, server = served
    client = BoothClient(server.url)

    def refused(path: str, **body: str) -> tuple[int, str, dict[str, str]]:
        answer = client.post(path, body)
        return answer.status, answer.json()["code"], answer.json()["text"]

    assert refused("/api/attendant", attendant=" ") == (
        400,
        "input_empty",
        {"zh": "请填写加气员工号", "en": "Enter the attendant code"},
    )
    override = {"attendant": "A-009", "supervisor": "S-01", "password": SUPERVISOR_PASSWORD}
    assert refused("/api/override", **override, reason="ok")[2]["zh"] == "授权原因至少需要 4 个字符"
    assert refused("/api/override", **override, reason="chip replaced")[1:] == (
        "no_refused_vehicle",
        {"zh": "当前没有被禁止加气的车辆", "en": "No refused vehicle to override"},
    )
    _not_genuine(station, 0, 2)
    assert refused("/api/override", **override, reason="chip replaced")[2]["en"] == "Read the remaining cylinder first"
    station.agent.new_vehicle()
    station.read(uid_for(1), **vehicle_claims(1, **OVERDUE))
    assert refused("/api/override", **override, reason="chip replaced") == (
        403,
        "not_overridable",
        {
            "zh": "按规定主管不能授权：气瓶超期未检",
            "en": "The policy does not let a supervisor release: Periodic inspection overdue",
        },
    )


def test_refusal_words_for_every_code() -> None:
    def words(error: OverrideRefused) -> dict[str, str]:
        texts = view.refusal_texts(error)
        assert set(texts) == {"zh", "en"} and all(texts.values())
        return texts

    assert words(OverrideRefused("x", code="cylinders_missing", n=3))["en"] == "Read the remaining 3 cylinders first"
    assert words(OverrideLocked("x", retry_after_s=1.2))["zh"] == "密码错误次数过多，请 2 秒后再试"
    assert words(OverrideLocked("x", retry_after_s=899))["en"].endswith("try again in 15 min")
    assert words(OverrideRefused("x", code="input_too_long", field="supervisor", max=64))["zh"] == "主管工号最多 64 个字符"
    assert words(OverrideRefused("x", code="wrong_credentials"))["zh"] == "主管工号或密码错误"
    assert words(OverrideRefused("a future agent's refusal"))["en"] == "The override was refused"


def test_the_refusal_sound_is_set_in_the_config(tmp_path: Path, root_pem: Path, make_station: Callable[..., Station]) -> None:
    document = config_document(tmp_path, root_pem)
    assert parse_config(document).refusal_sound is True
    document["attendant"]["refusal_sound"] = False
    assert parse_config(document).refusal_sound is False
    document["attendant"]["refusal_sound"] = "off"
    with pytest.raises(ConfigError, match=r"attendant\.refusal_sound must be a bool"):
        parse_config(document)
    station = make_station()
    assert station.snapshot()["refusal_sound"] is True
    station.agent.config = replace(station.agent.config, refusal_sound=False)
    assert station.snapshot()["refusal_sound"] is False


def _events(url: str, cookie: str, seconds: float, then: Callable[[], None] = lambda: None) -> list[tuple[float, str, str]]:
    """(arrival time, event type, data) of what the stream sends in `seconds`; `then` runs once the
    first event (the snapshot every stream starts with) has arrived."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    events: list[tuple[float, str, str]] = []
    try:
        connection.request("GET", "/api/stream", headers={"Cookie": cookie})
        response = connection.getresponse()
        assert response.status == 200
        end = time.monotonic() + seconds
        kind, data = "message", ""
        while time.monotonic() < end:
            line = response.fp.readline().decode().rstrip("\n")
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif not line:
                events.append((time.monotonic(), kind, data))
                kind, data = "message", ""
                if len(events) == 1:
                    then()
    finally:
        connection.close()
    return events


def test_the_stream_beats_while_nothing_changes(served: tuple[Station, AttendantServer]) -> None:
    station, server = served
    events = _events(server.url, BoothClient(server.url).cookie, 2.2)
    assert events[0][1] == "message" and json.loads(events[0][2])["state"] == "idle"
    beats = [event for event in events if event[1] == "beat"]
    version = str(station.snapshot()["version"])
    assert len(beats) >= 3 and {data for _, _, data in beats} == {version}
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(events)]
    # The page calls 1.2 s of silence a lost agent (attendant.js SILENCE_MS): never that long here.
    assert max(gaps) < 1.2 and STREAM_BEAT_S <= 0.4, gaps


def test_time_ends_a_session_on_the_stream_without_a_read(served: tuple[Station, AttendantServer]) -> None:
    station, server = served
    station.read(uid_for(0), **vehicle_claims(0, 2))
    window = station.agent.policy.session_window

    def time_passes() -> None:  # nothing calls the agent after this: the stream's own snapshots notice
        station.clock.advance(seconds=window.total_seconds() + 1)

    events = _events(server.url, BoothClient(server.url).cookie, 1.2, time_passes)
    states = [json.loads(data)["state"] for _, kind, data in events if kind == "message"]
    assert states == ["collecting", "expired"], states
