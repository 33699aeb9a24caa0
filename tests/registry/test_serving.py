"""The server `cylinder-registry serve` runs (registry_service/serving.py): requests that wait for
a thread are counted by a gauge, not logged one line each."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from registry_service import serving
from registry_service.metrics import RegistryMetrics
from tests.waitress_thread import running_in_thread

WAITING = "cylinder_registry_requests_waiting"


@pytest.fixture
def queue_logger_unset() -> Iterator[None]:
    """waitress's queue logger as a fresh process has it, whatever an earlier test set."""
    logger = logging.getLogger(serving.QUEUE_LOGGER)
    level = logger.level
    logger.setLevel(logging.NOTSET)
    yield
    logger.setLevel(level)


@pytest.mark.usefixtures("queue_logger_unset")
def test_requests_waiting_for_a_thread_are_a_gauge_not_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    release = threading.Event()

    def held(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        release.wait(10)  # every request holds the only thread until the test lets go
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = serving.create_server(held, {"host": "127.0.0.1", "port": 0, "threads": 1})
    metrics = RegistryMetrics()
    metrics.watch_queue(server.task_dispatcher)
    with running_in_thread(server) as running, ThreadPoolExecutor(3) as pool:
        url = f"http://127.0.0.1:{running.effective_port}/"
        answers = [pool.submit(lambda: urllib.request.urlopen(url, timeout=20).read()) for _ in range(3)]
        deadline = time.monotonic() + 10
        while metrics.registry.get_sample_value(WAITING) != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert metrics.registry.get_sample_value(WAITING) == 2  # one request on the thread, two waiting
        release.set()
        assert [answer.result(timeout=20) for answer in answers] == [b"ok"] * 3
        assert metrics.registry.get_sample_value(WAITING) == 0
    assert not [record for record in caplog.records if record.name == serving.QUEUE_LOGGER]
