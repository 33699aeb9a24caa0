"""The booth page's HTTP API without a browser, and the tag sources other than real readers."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from station_agent.errors import TagSourceError
from station_agent.tagsource import FileTagSource, ReaderTagSource, open_tag_source
from station_agent.web import AttendantServer
from tag_tools.readers.base import TagRead
from tag_tools.readers.errors import ReaderNotFoundError, ReadTimeout, TagRemovedError
from tag_tools.verdict import Originality
from tests.station_agent.booth_http import BoothClient
from tests.station_agent.conftest import OVERDUE, Station, uid_for, vehicle_claims
from tests.testkit import TestPki


@pytest.fixture
def served(make_station: Callable[..., Station]) -> Iterator[tuple[Any, str]]:
    station = make_station()
    server = AttendantServer(station.agent, "127.0.0.1", 0).start()
    yield station, server.url
    server.stop()


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """A POST as the page sends it (with the page's token), to a path under the page's URL."""
    parts = url.split("/", 3)
    answer = BoothClient("/".join(parts[:3]) + "/").post("/" + parts[3], body)
    return answer.status, answer.json()


def test_state_page_and_errors(served: tuple[Any, str]) -> None:
    station, url = served
    station.read(uid_for(0), **vehicle_claims(0, **OVERDUE))
    state = BoothClient(url).state()
    assert state["state"] == "refused" and state["headline"]["zh"] == "禁止加气"
    assert state["session"]["cylinders"][0]["reasons"][0] == {
        "code": "inspection_overdue",
        "zh": "气瓶超期未检",
        "en": "Periodic inspection overdue",
    }
    with urllib.request.urlopen(url, timeout=10) as response:
        assert "text/html" in response.headers["Content-Type"] and b"/static/attendant.js" in response.read()
    with urllib.request.urlopen(url + "static/attendant.js", timeout=10) as response:
        assert b"EventSource" in response.read()
    assert _post(url + "api/nowhere", b"{}")[0] == 404
    status, body = _post(url + "api/attendant", b'{"attendant": "  "}')
    assert status == 400 and body["error"] == "attendant must not be empty" and body["code"] == "input_empty"
    status, body = _post(url + "api/attendant", b'{"attendant": "A-031"}')
    assert status == 200 and body["attendant"] == "A-031" and station.agent.attendant == "A-031"
    assert _post(url + "api/override", b"[1, 2]") == (400, {"error": "send a JSON object"})
    assert _post(url + "api/override", b'{"supervisor": "S-01"}')[1]["error"] == "attendant must not be empty"
    status, body = _post(
        url + "api/override",
        json.dumps({"attendant": "A-1", "supervisor": "S-01", "password": "x", "reason": "some reason"}).encode(),
    )
    # An overdue cylinder cannot be overridden: refused before any password is looked at.
    assert status == 403 and body["error"] == "the policy does not allow overriding: inspection_overdue"


def test_event_stream_sends_a_snapshot_on_each_change(served: tuple[Any, str]) -> None:
    station, url = served
    received: list[dict[str, Any]] = []
    got_two = threading.Event()

    cookie = BoothClient(url).cookie

    def listen() -> None:
        request = urllib.request.Request(url + "api/stream", headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=10) as response:
            for raw in response:
                if raw.startswith(b"data: "):
                    received.append(json.loads(raw[6:]))
                    if len(received) == 2:
                        got_two.set()
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    while not received and thread.is_alive():
        got_two.wait(0.02)
    station.read(uid_for(0), **vehicle_claims(0))
    assert got_two.wait(10)
    assert received[0]["state"] == "idle" and received[1]["session"]["plate"] == "豫A8M2K7"


def test_file_source_serves_each_read_once(tmp_path: Path, test_pki: TestPki) -> None:
    path = tmp_path / "reads.jsonl"
    message = test_pki.ndef_message(uid_for(0))
    path.write_text(
        json.dumps({"uid": uid_for(0).hex(), "ndef": message.hex(), "read_counter": 7, "originality": "genuine"})
        + "\n\n"
        + json.dumps({"uid": "04aa", "ndef": None})
        + "\n"
    )
    source = open_tag_source(f"file:{path}")
    first = source.next_read(0.1)
    assert first is not None and first.ndef_message == message and first.read_counter == 7
    assert first.chip is not None and first.chip.originality is Originality.GENUINE
    second = source.next_read(0.1)
    assert second is not None and second.ndef_message is None
    assert source.next_read(0.01) is None
    path.write_text('{"uid": "zz"}\n')
    with pytest.raises(TagSourceError, match=":1: not a read"):
        FileTagSource(path)


class FakeReader:
    def __init__(self, script: list[TagRead | Exception]) -> None:
        self.script = script
        self.closed = False

    def next_tag(self) -> TagRead:
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


def _tag(uid: bytes) -> TagRead:
    return TagRead(uid, "NTAG215", None, b"\xd0\x00\x00", 3, Originality.GENUINE, None, 5)


def test_reader_source_debounces_and_translates_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = FakeReader(
        [
            _tag(uid_for(0)),
            _tag(uid_for(0)),
            ReadTimeout("none"),
            TagRemovedError("gone"),
            _tag(uid_for(1)),
            ReaderNotFoundError("unplugged"),
        ]
    )
    monkeypatch.setattr("tag_tools.readers.open_reader", lambda path: reader)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # the back-off's sleeps (tagsource calls time.sleep)
    source = ReaderTagSource("pcsc:Fake", repeat_after_s=60, read=lambda reader, *_: reader.next_tag())
    first = source.next_read(0.01)
    assert first is not None and first.uid == uid_for(0) and first.read_counter == 3
    assert source.next_read(0.01) is None  # the same tag still on the reader
    assert source.next_read(0.01) is None  # timeout
    assert source.next_read(0.01) is None  # pulled away mid-read: no read
    second = source.next_read(0.01)
    assert second is not None and second.uid == uid_for(1)
    with pytest.raises(TagSourceError, match="unplugged"):
        source.next_read(0.01)
    source.close()
    assert reader.closed
