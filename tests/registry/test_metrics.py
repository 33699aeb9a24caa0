"""The registry's Prometheus metrics: `cylinder-registry serve --metrics-listen` run for real,
scraped over HTTP on its own address and parsed by prometheus_client's own text parser; the
counters move with real traffic on the API's port, which itself serves no metrics."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from registry_service.errors import ConfigError
from registry_service.metrics import parse_listen
from tests.peers import free_tcp_port
from tests.registry.conftest import World
from tests.registry.helpers import event, post_json, refused
from tests.registry.served import serving
from tests.scrape import scrape, value

NAME = re.compile(r"cylinder_registry_[a-z0-9_]+")


def test_served_metrics_move_with_real_traffic(database_url: str, world: World) -> None:
    metrics_port = free_tcp_port()
    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    token = world.tokens["station"]
    with serving(database_url, "--metrics-listen", f"127.0.0.1:{metrics_port}") as base:
        before, types = scrape(metrics)
        assert value(before, "cylinder_registry_status_checks_total", outcome="answered") == 0
        assert value(before, "cylinder_registry_events_ingested_total", result="new") == 0

        assert post_json(f"{base}/api/v1/status", token, {"plate": "豫A00000"})[0] == 200
        assert post_json(f"{base}/api/v1/status", "cgr_nope", {"plate": "豫A00000"})[0] == 401
        now = datetime.now(UTC)
        batch = [event(now, cylinder_id="156-4101-7001"), refused(now, ["inspection_overdue"])]
        upload = f"{base}/api/v1/stations/ST-JS-01/scan-events"
        assert post_json(upload, token, {"events": batch})[0] == 200
        assert post_json(upload, token, {"events": batch[:1]})[0] == 200  # a retry: a duplicate
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/api/v1/nowhere/{'x' * 40}", timeout=10)

        after, _ = scrape(metrics)
        assert value(after, "cylinder_registry_status_checks_total", outcome="answered") == 1
        assert value(after, "cylinder_registry_status_checks_total", outcome="refused") == 1
        assert value(after, "cylinder_registry_events_ingested_total", result="new") == 2
        assert value(after, "cylinder_registry_events_ingested_total", result="duplicate") == 1
        status = {"route": "/api/v1/status", "method": "POST"}
        assert value(after, "cylinder_registry_http_requests_total", **status, status="200") == 1
        assert value(after, "cylinder_registry_http_requests_total", **status, status="401") == 1
        assert value(after, "cylinder_registry_http_request_duration_seconds_count", **status) == 2
        uploads = {"route": "/api/v1/stations/<station_code>/scan-events", "method": "POST"}
        assert value(after, "cylinder_registry_http_requests_total", **uploads, status="200") == 2
        assert value(after, "cylinder_registry_http_request_duration_seconds_sum", **uploads) > 0
        # An unknown path counts under one bounded label, never as itself.
        assert value(after, "cylinder_registry_http_requests_total", route="unmatched", method="GET", status="404") == 1
        assert not any("x" * 40 in str(labels) for _, labels in after)
        assert value(after, "cylinder_registry_database_errors_total", kind="disconnect") == 0

        # The clone watch runs beside the requests (every second by default): the one new upload
        # with a cylinder is judged, and nothing is left waiting.
        deadline = time.monotonic() + 30
        while value(after, "cylinder_registry_clone_watch_judged_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            after, _ = scrape(metrics)
        assert value(after, "cylinder_registry_clone_watch_judged_total") == 1
        assert value(after, "cylinder_registry_clone_watch_lag_seconds") == 0
        assert value(after, "cylinder_registry_requests_waiting") == 0  # the server's queue, idle again
        # `serve` runs the token watch on PostgreSQL (token_watch.py); SQLite has nothing to listen to.
        listening = 1 if database_url.startswith("postgresql") else 0
        while value(after, "cylinder_registry_token_watch_listening") != listening and time.monotonic() < deadline:
            time.sleep(0.2)
            after, _ = scrape(metrics)
        assert value(after, "cylinder_registry_token_watch_listening") == listening

        with pytest.raises(urllib.error.HTTPError) as hidden:  # the API's port serves no metrics
            urllib.request.urlopen(f"{base}/metrics", timeout=10)
        assert hidden.value.code == 404

    assert types["cylinder_registry_http_requests"] == "counter"
    assert types["cylinder_registry_http_request_duration_seconds"] == "histogram"
    assert types["cylinder_registry_database_errors"] == "counter"
    assert types["cylinder_registry_clone_watch_lag_seconds"] == "gauge"
    assert types["cylinder_registry_requests_waiting"] == "gauge"
    assert types["cylinder_registry_token_watch_listening"] == "gauge"
    ours = {name for name, _ in after if name.startswith("cylinder_registry_")}
    assert ours and all(NAME.fullmatch(name) for name in ours), ours


def test_the_metrics_listen_address_is_checked() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    for bad in ("9464", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000"):
        with pytest.raises(ConfigError):
            parse_listen(bad)
