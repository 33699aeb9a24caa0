"""A bypass seen from the dispenser to the bureau's screen: the totaliser (pymodbus's own server as
the dispenser's controller) advances while the relay is off, the agent's idle poll finds the gas,
its sync delivers the unexplained_quantity report over HTTP to a real registry, and a bureau user
signing in with Chromium sees the alarm with its kilograms. Every clock is injected: the test
drives the agent's loop and its sync by hand and never waits for a timer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.models import Role, StationAlarm
from registry_service.services import accounts
from station_agent.agent import Agent
from station_agent.config import parse_config
from station_agent.interlock import LogInterlock
from station_agent.outbox import Outbox
from station_agent.registry_client import HttpRegistryClient
from station_agent.sync import SyncWorker
from station_agent.totaliser import open_totaliser
from tests.dashboard.browser import chromium_peer
from tests.dashboard.browser import sign_in as browser_sign_in
from tests.registry.conftest import Clock as RegistryClock
from tests.station_agent.conftest import build_agent, config_document, sync_of
from tests.station_agent.fakes import Clock
from tests.station_agent.metered import dispenser, totaliser_table
from tests.station_agent.modbus_peer import DispenserPeer
from tests.station_agent.registry_peer import STATION, RegistryPeer, database_url
from tests.testkit import TestPki

__all__ = ["dispenser"]  # the fixture, imported for this module's test

PASSWORD = "correct-horse-battery"
POLL_S = 5.0  # the agent's idle poll of the totaliser
BYPASS_KG = 7.25  # what flows through the wires around the relay
START_KG = 48_210.5  # the dispenser's totaliser when the agent starts


@pytest.fixture
def registry(tmp_path: Path, test_pki: TestPki, now: datetime) -> Iterator[RegistryPeer]:
    """The registry over HTTP on its own clock, with a bureau officer who can sign in."""
    peer = RegistryPeer(database_url("sqlite", tmp_path), test_pki, RegistryClock(now))
    peer.registry.transaction(
        lambda s: accounts.create_user(s, "test", now, username="bureau", role=Role.BUREAU, password=PASSWORD)
    )
    yield peer.start()
    peer.dispose()


@pytest.fixture
def agent(
    tmp_path: Path,
    root_pem: Path,
    test_pki: TestPki,
    clock: Clock,
    dispenser: DispenserPeer,
    registry: RegistryPeer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Agent]:
    """A metered agent (relay `log:`) whose sync talks to the registry over HTTP; its sync thread is
    not started: the test calls the sync's duties itself, so nothing races the assertions."""
    document = config_document(tmp_path / "state", root_pem, min_refill_interval_min=0)
    document["totaliser"] = totaliser_table(dispenser.port, poll_s=POLL_S)
    document["registry"] = {"url": registry.url, "token": registry.token}
    config = parse_config(document)
    assert config.totaliser is not None
    dispenser.set_total(START_KG)  # the module's dispenser: before the agent's first reading
    made = build_agent(
        config,
        Outbox(config.outbox_path, pump=config.pump, clock=clock),
        LogInterlock(),
        test_pki,
        clock,
        echo=lambda line: None,
        client=HttpRegistryClient(registry.url, registry.token, wall_clock=clock),
        meter=open_totaliser(config.totaliser),
    )
    sync = sync_of(made)
    monkeypatch.setattr(sync, "start", lambda: sync)
    made.start()  # pump off, agent_started with the totaliser's reading
    yield made
    made.stop()
    made.outbox.close()


def _alarms(registry: RegistryPeer) -> list[StationAlarm]:
    with Session(registry.engine) as session:
        return list(session.scalars(select(StationAlarm).where(StationAlarm.kind == "unexplained_quantity")))


def test_a_bypass_reaches_the_bureaus_alarm_page_with_its_kilograms(
    agent: Agent, dispenser: DispenserPeer, registry: RegistryPeer, clock: Clock
) -> None:
    agent.tick()
    sync: SyncWorker = sync_of(agent)
    assert sync.upload_reports() >= 1  # agent_started: the registry now holds the last reading
    assert _alarms(registry) == []

    dispenser.advance(BYPASS_KG)  # gas flows with the relay off: someone wired around it
    clock.advance(seconds=POLL_S + 1)
    agent.tick()  # the idle poll is due: it reads the totaliser
    assert not agent.pump.enabled
    assert sync.upload_reports() == 1  # the unexplained_quantity report, by POST /faults
    assert sync.upload_reports() == 0

    (alarm,) = _alarms(registry)
    assert alarm.quantity == pytest.approx(BYPASS_KG) and alarm.unit == "kg"
    assert alarm.source == "agent" and alarm.cleared_at is None and alarm.pump == 1
    reading = agent.meter_reading()
    assert reading is not None and reading[0] == pytest.approx(START_KG + BYPASS_KG) and reading[1] == "kg"

    with chromium_peer() as browser:
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(10_000)
        base_url = f"http://127.0.0.1:{registry.port}"
        browser_sign_in(page, base_url, "bureau", PASSWORD)
        page.wait_for_url(re.compile(r"/dashboard/overview"))
        page.goto(f"{base_url}/dashboard/station-alarms?kind=unexplained_quantity&station={STATION}")
        row = page.locator(f"tr[data-alarm='{alarm.id}']")
        assert row.locator("td.quantity").inner_text() == "7.25 kg"
        assert "无法解释的加气量" in row.inner_text()
        page.goto(f"{base_url}/dashboard/station-alarms?lang=en&kind=unexplained_quantity")
        assert page.locator("tr[data-alarm] td.quantity").all_inner_texts() == ["7.25 kg"]
        context.close()
