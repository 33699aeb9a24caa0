"""The waitress server `cylinder-registry serve` runs its app on.

waitress warns "Task queue depth is N" on its `waitress.queue` logger for every request that
arrives while all its threads are busy. Under load that is a log line per request: a log nobody can
read, and 4.8 % of the serve process's Python time in bench_registry_ingest.py's realistic phase
(2.8 % in bench_registry_status.py; py-spy, docs/performance.md). The depth is a metric instead (RegistryMetrics.watch_queue), which
an alert can follow. The benchmarks' baselines are built here too, so that only the application
differs between them and the registry, never the server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import waitress

QUEUE_LOGGER = "waitress.queue"


def create_server(app: Any, options: Mapping[str, object]) -> Any:
    """A waitress server for `app` with `options` (cli.waitress_options), its queue warnings off;
    `.run()` serves, `.task_dispatcher.queue` holds the requests waiting for a thread."""
    logging.getLogger(QUEUE_LOGGER).setLevel(logging.ERROR)
    return waitress.create_server(app, **options)
