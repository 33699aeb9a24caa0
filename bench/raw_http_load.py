"""A lean closed-loop HTTP/1.1 load generator for the registry benchmarks: each connection sends its
own prebuilt sequence of raw requests, in order, over one keep-alive socket, and reads each answer
by its Content-Length. Not a benchmark itself.

Why not bench_registry_common.closed_loop: http.client formats and parses headers in Python, about
a core at a few thousand requests/s on this 2-core machine, which the server and PostgreSQL then
lack. Why not wrk: a station's requests must go in order (the events that ride on a status request
are the ones its previous scans made), and wrk draws bodies at random. Here a request costs the
client a sendall, a recv or two and a search for the end of the headers; requests are built
before the clock starts, or (stateful ones) as they are sent, and then their building is the
client's CPU, which the caller reports.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RawRequest:
    """One request as bytes on the wire, and what it carries (for the per-scan figures)."""

    kind: str  # "status", "heartbeat", "upload", "feed", ...
    raw: bytes
    scans: int = 0  # status requests: 1 (a scan is one status check)
    events: int = 0  # scan events carried (riding, or uploaded)
    heartbeats: int = 0
    reports: int = 0  # fault and fill-life reports carried
    # Checks on a 2xx answer (a rider refused is answered 200 with its "error" member).
    answer_must_have: bytes | None = None
    answer_must_not_have: bytes | None = None


def raw_request(method: str, target: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    """The request as http.client would send it (Host and Accept-Encoding first, then the headers)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or b"")


@dataclass
class KindTally:
    requests: int = 0
    errors: int = 0
    scans: int = 0
    events: int = 0
    heartbeats: int = 0
    reports: int = 0
    carrying_events: int = 0  # requests with at least one event
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, request: RawRequest, ok: bool, latency_ms: float) -> None:
        self.requests += 1
        self.carrying_events += request.events > 0
        self.errors += not ok
        self.scans += request.scans
        self.events += request.events
        self.heartbeats += request.heartbeats
        self.reports += request.reports
        self.latencies_ms.append(latency_ms)

    def merge(self, other: KindTally) -> None:
        for name in ("requests", "errors", "scans", "events", "heartbeats", "reports", "carrying_events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies_ms += other.latencies_ms


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    ordered = sorted(latencies_ms) or [0.0]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


@dataclass
class PhaseResult:
    seconds: float
    by_kind: dict[str, KindTally]
    error_samples: list[str]
    exhausted_connections: int  # connections whose sequence ran out before the end (the figure is then low)
    client_cpu_s: float  # this process, user + system, over the measured window
    window: dict[str, Any]  # what `on_window` returned at the end of the measured window

    def total(self) -> KindTally:
        total = KindTally()
        for tally in self.by_kind.values():
            total.merge(tally)
        return total


Window = Callable[[], Callable[[], dict[str, Any]]]  # called at the start, returns what to call at the end


class _Connection:
    """One keep-alive socket; `exchange` sends one raw request and returns (status, body)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = self._open()
        self.pending = b""

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def reopen(self) -> None:
        self.sock.close()
        self.sock = self._open()
        self.pending = b""

    def exchange(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        head = data[:end].lower()
        status = int(head[9:12])
        marker = head.find(b"\r\ncontent-length:")
        if marker < 0:
            raise ConnectionError(f"answer without Content-Length: {data[:200]!r}")
        line_end = head.find(b"\r\n", marker + 2)
        length = int(head[marker + 17 : line_end if line_end >= 0 else len(head)])
        body_start = end + 4
        while len(data) - body_start < length:
            data += self._recv()
        self.pending = data[body_start + length :]
        return status, data[body_start : body_start + length]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def run_sequences(
    port: int,
    sequences: list[Iterator[RawRequest]],
    seconds: float,
    *,
    warmup_s: float = 2.0,
    on_window: Window | None = None,
) -> PhaseResult:
    """One thread and one keep-alive connection per sequence, each sending its requests in order
    and back to back for `warmup_s` + `seconds`; requests sent during the warm-up are not counted.
    A sequence may be built as it is sent (a generator: its time is the client's CPU, reported); one
    that runs out stops its connection, and the result says so. `on_window` is called when counting
    starts, and what it returns when counting ends (CPU meters)."""
    tallies: list[dict[str, KindTally]] = [{} for _ in sequences]
    samples: list[str] = []
    exhausted = [False] * len(sequences)
    start_measuring = time.monotonic() + warmup_s
    stop_at = start_measuring + seconds

    def worker(index: int) -> None:
        sequence = sequences[index]
        connection = _Connection(port)
        try:
            while (now := time.monotonic()) < stop_at:
                request = next(sequence, None)
                if request is None:
                    exhausted[index] = True
                    return
                t0 = time.perf_counter()
                try:
                    status, body = connection.exchange(request.raw)
                    ok = 200 <= status < 300
                    if ok and request.answer_must_have is not None:
                        ok = request.answer_must_have in body
                    if ok and request.answer_must_not_have is not None:
                        ok = request.answer_must_not_have not in body
                    if not ok and len(samples) < 5:
                        samples.append(f"{request.kind} {status} {body[:300]!r}")
                except OSError as error:
                    ok = False
                    if len(samples) < 5:
                        samples.append(f"{request.kind} {error!r}")
                    connection.reopen()
                if now >= start_measuring:
                    tallies[index].setdefault(request.kind, KindTally()).add(request, ok, (time.perf_counter() - t0) * 1000)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(sequences))]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start_measuring - time.monotonic()))
    cpu_before = os.times()
    finish = on_window() if on_window is not None else None
    time.sleep(max(0.0, stop_at - time.monotonic()))
    cpu_after = os.times()
    window = finish() if finish is not None else {}
    for thread in threads:
        thread.join()
    by_kind: dict[str, KindTally] = {}
    for per_connection in tallies:
        for kind, tally in per_connection.items():
            by_kind.setdefault(kind, KindTally()).merge(tally)
    client_cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return PhaseResult(seconds, by_kind, samples, sum(exhausted), client_cpu, window)


def send_all(port: int, sequences: list[list[RawRequest]]) -> list[str]:
    """Send every request once (one connection per sequence, in order), untimed; returns the failures."""
    failures: list[str] = []

    def worker(sequence: list[RawRequest]) -> None:
        connection = _Connection(port)
        try:
            for request in sequence:
                status, body = connection.exchange(request.raw)
                if not 200 <= status < 300:
                    failures.append(f"{request.kind} {status} {body[:300]!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(sequence,), daemon=True) for sequence in sequences]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures
