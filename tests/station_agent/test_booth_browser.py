"""The booth page's same-origin, Host and CSRF checks in real headless Chromium (Debian's
/usr/bin/chromium through Playwright): a page of another origin, and a DNS-rebinding page that
reaches the agent under its own name, try every state-changing request a browser lets them make
and change nothing; the real page, on the same box and on a LAN display, still works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from station_agent.tagsource import TagReading
from station_agent.web import AttendantServer
from tag_tools.verdict import ChipEvidence, Originality
from tests.dashboard.browser import chromium_peer
from tests.station_agent.conftest import SUPERVISOR_PASSWORD, Station, uid_for, vehicle_claims
from tests.station_agent.test_attendant_page import WAIT_MS

# Two names Chromium resolves to this machine: the attacker's (rebinding) and the LAN display's.
RESOLVER = "--host-resolver-rules=MAP rebind.test 127.0.0.1, MAP booth-display.lan 127.0.0.1"
BODIES = {
    "/api/override": {
        "attendant": "A-666",
        "supervisor": "S-01",
        "password": SUPERVISOR_PASSWORD,
        "reason": "forged from another site",
    },
    "/api/attendant": {"attendant": "EVIL"},
    "/api/fill-done": {},
    "/api/new-vehicle": {},
}
# Everything a script on another origin can make a browser send: a CORS request with JSON and a
# guessed token (preflighted), no-cors simple requests, and plain form posts into a hidden frame.
ATTACK_JS = r"""async ([target, bodies]) => {
  const outcomes = [];
  for (const [path, body] of Object.entries(bodies)) {
    const json = JSON.stringify(body);
    for (const init of [
        {method: "POST", headers: {"Content-Type": "application/json", "X-Booth-Token": "guess"}, body: json,
         credentials: "include"},
        {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: json, credentials: "include"},
        {method: "POST", mode: "no-cors", body: new URLSearchParams(body), credentials: "include"}]) {
      try { const r = await fetch(target + path, init); outcomes.push([path, r.type, r.status]); }
      catch (error) { outcomes.push([path, "error", 0]); }
    }
    const frame = document.createElement("iframe");  // the form's answer lands here; nobody waits for it
    frame.name = "sink-" + path.replace(/\W/g, "");
    document.body.append(frame);
    const form = document.createElement("form");
    form.method = "POST"; form.action = target + path + "?via=form"; form.target = frame.name; form.enctype = "text/plain";
    const field = document.createElement("input");
    field.name = json.slice(0, -1) + ',"x":"'; field.value = '"}';  // the body reads as JSON
    form.append(field); document.body.append(form);
    form.submit();
  }
  try { const r = await fetch(target + "/api/state", {credentials: "include"}); outcomes.push(["state", await r.text()]); }
  catch (error) { outcomes.push(["state", "unreadable"]); }
  return outcomes;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_peer(RESOLVER) as browser:
        yield browser


class _AttackerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><html><body><h1>cheap CNG coupons</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[str]:
    """Another origin on this machine (another port): a page the booth's browser might open."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _refused_vehicle(station: Any) -> None:
    message = station.pki.ndef_message(uid_for(0), **vehicle_claims(0))
    station.agent.handle(TagReading(uid_for(0), message, ChipEvidence(Originality.NOT_GENUINE)))


def _eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _wait_for_refusals(server: AttendantServer, expected: set[tuple[str, str]]) -> None:
    """Each attack reached the agent's server and was refused there (forms post without waiting)."""
    _eventually(lambda: expected <= set(server.refusals), f"refusals {sorted(expected - set(server.refusals))}")


def test_other_origins_and_rebinding_pages_change_nothing(
    make_station: Callable[..., Station], browser: Any, attacker: str
) -> None:
    station = make_station()
    _refused_vehicle(station)  # an overridable refusal: a forged override would switch the pump on
    session, events = station.agent.session, len(station.agent.outbox.unsent(10))
    assert session is not None
    server = AttendantServer(station.agent, "127.0.0.1", 0).start()
    port = server.httpd.server_address[1]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url)  # the booth page is open in the same browser: its cookie is there
        page.goto(attacker)
        outcomes = page.evaluate(ATTACK_JS, [f"http://127.0.0.1:{port}", BODIES])
        assert ["state", "unreadable"] in outcomes
        assert all(o[1] in ("error", "opaque") for o in outcomes if o[0] != "state"), outcomes

        # DNS rebinding: the attacker's name now resolves to this machine, so its page is same-origin
        # with the agent's port as far as the browser knows; the Host header gives it away.
        page.goto(f"http://rebind.test:{port}/")
        outcomes += page.evaluate(ATTACK_JS, [f"http://rebind.test:{port}", BODIES])
        rebound = page.evaluate("() => fetch('/').then((r) => r.status)")
        assert rebound == 421
        _wait_for_refusals(
            server,
            {(path + tail, rule) for path in BODIES for tail, rule in (("", "origin"), ("?via=form", "origin"), ("", "host"))},
        )
    finally:
        context.close()
        server.stop()
    agent = station.agent
    assert agent.session is session and not session.finished and session.state.value == "refused"
    assert not agent.pump.enabled and True not in station.pump_commands()
    assert agent.attendant == "A-007" and len(agent.outbox.unsent(10)) == events and agent.faults.active() == []


def test_the_page_works_on_the_box_and_on_a_lan_display(make_station: Callable[..., Station], browser: Any) -> None:
    from playwright.sync_api import expect

    station = make_station()
    local = AttendantServer(station.agent, "127.0.0.1", 0).start()
    lan = AttendantServer(station.agent, "0.0.0.0", 0, allowed_hosts=("booth-display.lan",)).start()
    context = browser.new_context()
    try:
        display = context.new_page()
        display.goto(f"http://booth-display.lan:{lan.httpd.server_address[1]}/")
        expect(display.get_by_test_id("headline")).to_have_text("请读取气瓶标签", timeout=WAIT_MS)
        display.locator("#shift").fill("A-021")
        display.locator("#shift-set").click()
        _eventually(lambda: station.agent.attendant == "A-021", "the attendant set from the LAN display")

        page = context.new_page()
        page.goto(local.url)
        _refused_vehicle(station)
        expect(page.get_by_test_id("headline")).to_have_text("禁止加气", timeout=WAIT_MS)
        expect(display.get_by_test_id("headline")).to_have_text("禁止加气", timeout=WAIT_MS)  # its stream follows
        page.locator("#ov-attendant").fill("A-021")
        page.locator("#ov-supervisor").fill("S-01")
        page.locator("#ov-password").fill(SUPERVISOR_PASSWORD)
        page.locator("#ov-reason").fill("chip replaced, ticket 78")
        page.locator("#ov-submit").click()
        expect(page.get_by_test_id("headline")).to_have_text("主管已授权加气", timeout=WAIT_MS)
        assert station.agent.pump.enabled
    finally:
        context.close()
        local.stop()
        lan.stop()
