"""Prometheus metrics of one registry node: requests by route template and status with latency,
status checks, scan events ingested (new or duplicate), database errors, how far the clone
watch is behind, how many requests wait for a server thread, and whether the token watch listens.

Each app gets its own CollectorRegistry (not prometheus_client's global one), so a process that
builds many apps (the tests) never registers a name twice. The metrics are served on a listen
address of their own (`cylinder-registry serve --metrics-listen 127.0.0.1:9464`, off by default),
never on the API's port: the API faces stations across the internet, the metrics only the
operator's Prometheus (docs/operations.md, "Metrics"). Below the web modules: it imports no API code.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sized
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_wsgi_server
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError

from registry_service.db import is_busy, is_disconnect
from registry_service.errors import ConfigError

EXTENSION = "cylinder_metrics"
# Seconds; the status check answers in milliseconds, an upload or a report can take seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"  # the route label of a request no rule matched: a bounded label, never the raw path


class RegistryMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cylinder_registry_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cylinder_registry_http_request_duration_seconds",
            "Time from the request reaching the app to its answer, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.status_checks = Counter(
            "cylinder_registry_status_checks_total",
            "Status checks (POST /api/v1/status) by outcome: answered, refused (4xx) or failed (5xx).",
            ["outcome"],
            registry=self.registry,
        )
        self.events = Counter(
            "cylinder_registry_events_ingested_total",
            "Scan events received from stations and committed: new, or duplicate (already stored).",
            ["result"],
            registry=self.registry,
        )
        self.database_errors = Counter(
            "cylinder_registry_database_errors_total",
            "Errors raised by the database driver, by kind: busy, disconnect, integrity or other.",
            ["kind"],
            registry=self.registry,
        )
        self.clone_watch_judged = Counter(
            "cylinder_registry_clone_watch_judged_total",
            "Uploads whose new scans this node's clone watch judged.",
            registry=self.registry,
        )
        self.clone_watch_lag = Gauge(
            "cylinder_registry_clone_watch_lag_seconds",
            "Age of the oldest upload still waiting for the clone watch after this node's last round "
            "(0: none waiting). Alert when it grows: suspected clones are found that much later.",
            registry=self.registry,
        )
        self.requests_waiting = Gauge(
            "cylinder_registry_requests_waiting",
            "Requests read and waiting for a free server thread at the scrape (the latency histogram "
            "starts when a thread takes one). Alert when it stays above zero: the node needs threads or a peer.",
            registry=self.registry,
        )
        self.token_watch_listening = Gauge(
            "cylinder_registry_token_watch_listening",
            "1 while this node's token watch listens for revocations (tokens cached token_cache_listening_s), "
            "0 otherwise (cached token_cache_s; token_watch.py). Alert when 0 for long: every request looks its token up.",
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # present at zero from the first scrape
        self._outcomes = {outcome: self.status_checks.labels(outcome) for outcome in ("answered", "refused", "failed")}
        for result in ("new", "duplicate"):
            self.events.labels(result)
        for kind in ("busy", "disconnect", "integrity", "other"):
            self.database_errors.labels(kind)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        # The labelled children, found once per (route, method, status): `labels()` validates and
        # locks on every call, which the status check, the registry's hottest request, paid three
        # times. Routes are templates and statuses few, so the dict stays small; a race only looks
        # the same children up twice.
        children = self._children.get((route, method, status))
        if children is None:
            children = self.requests.labels(route, method, str(status)), self.latency.labels(route, method)
            self._children[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def status_check(self, status: int) -> None:
        self._outcomes["answered" if status < 400 else "refused" if status < 500 else "failed"].inc()

    def ingested(self, counts: Mapping[str, int]) -> None:
        """`counts` as events.ingest returns it (accepted, duplicates); call after the commit."""
        self.events.labels("new").inc(counts.get("accepted", 0))
        self.events.labels("duplicate").inc(counts.get("duplicates", 0))

    def clone_watch_round(self, judged: int, lag_s: float) -> None:
        # The lag first: a scrape that sees the round's uploads counted sees the lag it left.
        self.clone_watch_lag.set(lag_s)
        self.clone_watch_judged.inc(judged)

    def watch_queue(self, dispatcher: Any) -> None:
        """Report the queue of waitress's task dispatcher (serving.create_server) as requests_waiting."""
        queue: Sized = dispatcher.queue  # a deque; len() of it needs no lock
        self.requests_waiting.set_function(lambda: len(queue))

    def watch(self, engine: Engine) -> None:
        """Count every driver error on this engine, retried or answered."""

        def count(context: ExceptionContext) -> None:
            error = context.original_exception
            if isinstance(context.sqlalchemy_exception, IntegrityError):
                kind = "integrity"
            elif is_busy(error) or (context.sqlalchemy_exception is not None and is_busy(context.sqlalchemy_exception)):
                kind = "busy"
            elif context.is_disconnect or is_disconnect(error):
                kind = "disconnect"
            else:
                kind = "other"
            self.database_errors.labels(kind).inc()

        event.listen(engine, "handle_error", count)

    def install(self, app: Flask) -> None:
        """Time and count every request Flask answers (the status fast path counts its own). Call
        before other before_request hooks, so a request they refuse is timed too."""
        app.extensions[EXTENSION] = self

        @app.before_request
        def _start() -> None:
            g.metrics_started = time.perf_counter()

        @app.after_request
        def _count(response: Response) -> Response:
            started = g.get("metrics_started")
            if started is not None:
                route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
                self.request(route, request.method, response.status_code, time.perf_counter() - started)
            return response

    def serve(self, listen: str) -> None:
        """Serve the text exposition on `listen` (host:port) from a daemon thread."""
        host, port = parse_listen(listen)
        start_wsgi_server(port, host, registry=self.registry)


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"the metrics listen address must be host:port, not {listen!r}")
    return host.strip("[]"), int(port)


def of_app() -> RegistryMetrics:
    """The metrics of the app handling the current request."""
    metrics: RegistryMetrics = current_app.extensions[EXTENSION]
    return metrics
