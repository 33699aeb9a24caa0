"""The agent's Prometheus metrics: served on an address of their own, scraped over HTTP, parsed by
prometheus_client's own text parser, moving with real reads; never on the booth page's port."""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from station_agent.config import parse_config
from station_agent.errors import ConfigError
from station_agent.web import AttendantServer
from tests.scrape import scrape, value
from tests.station_agent.conftest import OVERDUE, Station, config_document, uid_for, vehicle_claims

NAME = re.compile(r"cylinder_station_[a-z0-9_]+")


@pytest.fixture
def station_and_url(make_station: Callable[..., Station]) -> Iterator[tuple[Station, str]]:
    station = make_station()
    server = station.agent.metrics.serve("127.0.0.1", 0)
    host, port = server.server_address[:2]
    yield station, f"http://{host!s}:{port}/metrics"
    server.shutdown()
    server.server_close()


def test_reads_decisions_and_state_move_with_real_reads(station_and_url: tuple[Station, str]) -> None:
    station, url = station_and_url
    before, types = scrape(url)
    assert value(before, "cylinder_station_reads_total", online="true") == 0
    assert value(before, "cylinder_station_relay_enabled") == 0 and value(before, "cylinder_station_reader_up") == 1
    assert value(before, "cylinder_station_outbox_backlog") == 0
    assert math.isnan(value(before, "cylinder_station_sync_age_seconds"))  # never exchanged with the registry yet

    refused = station.read(uid_for(0), **vehicle_claims(0, **OVERDUE))
    assert refused.decision == "refuse" and "inspection_overdue" in refused.reasons
    middle, _ = scrape(url)
    assert value(middle, "cylinder_station_decisions_total", decision="refuse", reason="inspection_overdue") == 1
    assert value(middle, "cylinder_station_reads_total", online="true") == 1
    assert value(middle, "cylinder_station_relay_enabled") == 0
    assert value(middle, "cylinder_station_outbox_backlog") == 1  # the refused read's event, not yet uploaded

    station.agent.new_vehicle()
    allowed = station.read(uid_for(1), **vehicle_claims(1))
    assert allowed.decision == "allow"
    after, _ = scrape(url)
    assert value(after, "cylinder_station_decisions_total", decision="allow", reason="none") == 1
    assert value(after, "cylinder_station_reads_total", online="true") == 2
    assert value(after, "cylinder_station_decision_duration_seconds_count") == 2
    assert value(after, "cylinder_station_decision_duration_seconds_sum") > 0
    assert value(after, "cylinder_station_relay_enabled") == 1 and value(after, "cylinder_station_relay_healthy") == 1
    # two scan events, and two station_event reports: the refused session abandoned, the pump enabled
    assert value(after, "cylinder_station_outbox_backlog") == 4

    station.sync.run_once()  # an upload to the (fake) registry: the events go, the sync age starts
    uploaded, _ = scrape(url)
    # the two reports wait to ride on the next heartbeat sent alone (station_agent/sync.py)
    assert value(uploaded, "cylinder_station_outbox_backlog") == 2
    station.sync.send_heartbeat()
    synced, _ = scrape(url)
    assert value(synced, "cylinder_station_outbox_backlog") == 0
    assert 0 <= value(synced, "cylinder_station_sync_age_seconds") < 60

    assert types["cylinder_station_reads"] == "counter" and types["cylinder_station_decisions"] == "counter"
    assert types["cylinder_station_decision_duration_seconds"] == "histogram"
    assert types["cylinder_station_outbox_backlog"] == "gauge"
    ours = {name for name, _ in after if name.startswith("cylinder_station_")}
    assert ours and all(NAME.fullmatch(name) for name in ours), ours


def test_the_booth_port_does_not_serve_metrics(make_station: Callable[..., Station]) -> None:
    station = make_station()
    booth = AttendantServer(station.agent, "127.0.0.1", 0).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(booth.url + "metrics", timeout=10)
        assert refused.value.code == 404
    finally:
        booth.stop()


def test_metrics_listen_is_off_by_default_and_checked(tmp_path: Path, root_pem: Path) -> None:
    document = config_document(tmp_path / "state", root_pem)
    assert parse_config(document).metrics_listen is None
    assert parse_config({**document, "metrics": {"listen": "127.0.0.1:9465"}}).metrics_listen == ("127.0.0.1", 9465)
    with pytest.raises(ConfigError, match=r"metrics\.listen must be HOST:PORT"):
        parse_config({**document, "metrics": {"listen": "9465"}})
    with pytest.raises(ConfigError, match=r"unknown setting metrics\.port"):
        parse_config({**document, "metrics": {"port": 9465}})
