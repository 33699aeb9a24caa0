"""Prometheus metrics of one station agent: reads, decisions by reason, decision latency, and at
each scrape the outbox backlog, the age of the last exchange with the registry, and the reader's and
the relay's state.

Served on a listen address of its own (`[metrics] listen = "127.0.0.1:9465"` in the config, off by
default), never on the booth page's port: booth_guard keeps that one to the attendant's page.
Each agent has its own CollectorRegistry, so tests that build many agents never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import start_wsgi_server
from prometheus_client.registry import Collector

from station_agent.errors import OutboxError
from station_agent.outbox import Outbox
from station_agent.pump import PumpGuard
from station_agent.session import CylinderResult
from station_agent.sync import SyncWorker

# Seconds; the decision waits for the registry's status answer within the read budget (300 ms default).
DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0)
NO_REASON = "none"


class Watched(Protocol):
    """What the state collector reads of the agent (station_agent.agent.Agent)."""

    outbox: Outbox
    sync: SyncWorker | None
    pump: PumpGuard
    reader_problem: str | None
    clock: Callable[[], datetime]


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reads = Counter("cylinder_station_reads_total", "Tag reads judged at this pump.", ["online"], registry=self.registry)
        self.decisions = Counter(
            "cylinder_station_decisions_total",
            "Decisions by decision and reason; a read with several reasons counts once per reason, one with none as 'none'.",
            ["decision", "reason"],
            registry=self.registry,
        )
        self.decision_latency = Histogram(
            "cylinder_station_decision_duration_seconds",
            "Time from a read to its decision, the registry's status answer included.",
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )

    def decided(self, result: CylinderResult, seconds: float) -> None:
        self.reads.labels("true" if result.online else "false").inc()
        for reason in result.reasons or (NO_REASON,):
            self.decisions.labels(result.decision, reason).inc()
        self.decision_latency.observe(seconds)

    def watch(self, agent: Watched) -> None:
        self.registry.register(_StateCollector(agent))

    def serve(self, host: str, port: int) -> WSGIServer:
        """Serve the text exposition on host:port (0: any free port) from a daemon thread; the
        server's `server_address` says where, `shutdown()` stops it."""
        server, _ = start_wsgi_server(port, host, registry=self.registry)
        return server


class _StateCollector(Collector):
    """Gauges read from the agent at scrape time, so they are never stale."""

    def __init__(self, agent: Watched) -> None:
        self.agent = agent

    def collect(self) -> Iterable[Metric]:
        agent = self.agent
        try:
            counts = agent.outbox.counts()
            backlog: float = counts.unsent + counts.reports_unsent
        except OutboxError:
            backlog = float("nan")  # the outbox cannot be read: its own fault is raised by the agent
        yield _gauge("cylinder_station_outbox_backlog", "Events and reports in the outbox not yet delivered.", backlog)
        yield _gauge(
            "cylinder_station_sync_age_seconds",
            "Seconds since the last successful exchange with the registry (upload or trust sync); NaN before the first.",
            self._sync_age(),
        )
        yield _gauge(
            "cylinder_station_reader_up",
            "1 while the tag reader answers, 0 while it reports a problem.",
            agent.reader_problem is None,
        )
        yield _gauge(
            "cylinder_station_relay_enabled", "1 while the pump relay is enabled (an allowed fill), else 0.", agent.pump.enabled
        )
        yield _gauge(
            "cylinder_station_relay_healthy", "1 while the interlock takes commands, 0 after a relay fault.", agent.pump.healthy
        )

    def _sync_age(self) -> float:
        sync = self.agent.sync
        if sync is None:
            return float("nan")
        times = [t for t in (sync.status.last_upload, sync.status.last_trust_sync) if t is not None]
        if not times:
            return float("nan")
        return max(0.0, (self.agent.clock() - max(times)).total_seconds())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))
