"""The clone watch `cylinder-registry serve` runs in the background (services/clones.py).

Every `clone_watch_interval_s` it judges the scans uploaded since its last round, by the clone
rules, in batches of at most clones.WATCH_BATCH uploads and clones.WATCH_KEYS keys (one transaction
each), until a batch finds the queue no longer than it takes. A round does not chase uploads that
arrive while it runs: under steady traffic it would go on forever in batches of a few uploads, each
paying a batch's fixed cost (its statements, its transaction), instead of one batch per interval.
Several nodes may run it: on PostgreSQL one node judges at a time (an advisory lock; the others
skip the round), on SQLite the database's writer lock serialises them. A failing round is logged and retried, and its uploads stay queued; the thread never dies of
it. After each round the node's metrics say how many uploads it judged and how old the oldest
upload still waiting is (`lag_s`; every node reports it, whichever judged). `cylinder-registry
watch-clones` runs one round (`judge_queued`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from registry_service.metrics import RegistryMetrics
from registry_service.node import Registry
from registry_service.periodic import PeriodicJob
from registry_service.services import clones
from registry_service.services.rollups import Reckoning

T = TypeVar("T")


class Transaction(Protocol):
    """Runs `work` in one transaction and returns what it returned (Registry.transaction)."""

    def __call__(self, work: Callable[[Session], T], /) -> T: ...


def judge_queued(
    transaction: Transaction,
    reckoning: Reckoning,
    clock: Callable[[], datetime],
    batch: int = clones.WATCH_BATCH,
    stopping: Callable[[], bool] = lambda: False,
    distributed: bool | None = None,
) -> int:
    """Judge what is queued now, a batch per transaction, until a batch takes all it finds (or
    finds nothing, or another node is judging); returns how many uploads were judged.
    `distributed`: as clones.judge_arrivals takes it (None: asked of the database once, here)."""
    if distributed is None:
        distributed = bool(transaction(lambda s: clones.citus_installed(s.connection())))
    judged = 0
    while not stopping():
        done = transaction(lambda s: clones.judge_arrivals(s, reckoning, clock(), batch, distributed))
        judged += done.uploads
        if not done.more:
            break
    return judged


def lag_s(registry: Registry) -> float:
    """Seconds since the oldest upload still waiting for the watch arrived (0: none waiting)."""
    oldest = registry.read(clones.oldest_queued)
    return 0.0 if oldest is None else max(0.0, (registry.clock() - oldest).total_seconds())


class CloneWatch(PeriodicJob):
    name = "clone watch"

    def __init__(self, registry: Registry, metrics: RegistryMetrics | None = None) -> None:
        self.registry = registry
        self.metrics = metrics
        self.interval_s = registry.config.clone_watch_interval_s
        self.reckoning = Reckoning.of(registry.config)
        self.batch = clones.WATCH_BATCH  # uploads per transaction at most
        self.distributed: bool | None = None  # the scans read in Citus's form; None: when Citus is installed
        super().__init__()

    def run_once(self) -> int:
        """Judge everything queued now; returns how many uploads were judged."""
        if self.distributed is None:  # asked once: an extension is not added under a running node
            self.distributed = self.registry.read(clones.citus_installed)
        judged = judge_queued(
            self.registry.transaction, self.reckoning, self.registry.clock, self.batch, lambda: self.stopping, self.distributed
        )
        if self.metrics is not None:
            self.metrics.clone_watch_round(judged, lag_s(self.registry))
        return judged
