"""HTTP/1.1 exchanges bounded by one deadline for the whole request: DNS, connect, sending,
headers and body together.

Why not requests/urllib3 alone: their timeouts bound each socket operation, not the exchange (their
documentation says so), so a server trickling one byte every 20 ms never times out. Here the
caller waits for a worker thread at most until the deadline; when it passes, the caller gives up at
once and shuts the worker's socket down, which ends any blocked recv/send immediately. A worker
stuck where no socket exists yet (a DNS lookup) finishes on its own and then drops its result. At
most `workers` exchanges run at a time: when all are stuck, new ones fail at once instead of
queueing behind them.

Workers keep their connection open between exchanges (keep-alive); a kept connection the server
closed in the meantime is retried once on a fresh one.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

MAX_BODY = 16 * 1024 * 1024  # no answer of the registry is near this; a larger one is not the registry's


class ExchangeFailed(OSError):
    """No complete answer by the deadline, or the connection failed. The message says which."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


class _Call:
    """One exchange's socket, so the caller can cut it at the deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.abandoned = False

    def attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.abandoned:
                self._cut()

    def abandon(self) -> None:
        with self._lock:
            self.abandoned = True
            self._cut()

    def _cut(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class DeadlineHttp:
    def __init__(self, base_url: str, *, workers: int = 4) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl = ssl.create_default_context() if self.https else None
        self._slots = threading.BoundedSemaphore(workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registry-http")
        self._local = threading.local()

    def exchange(
        self, method: str, path: str, *, deadline_s: float, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """One request and its whole answer within `deadline_s` seconds, or ExchangeFailed."""
        deadline = time.monotonic() + deadline_s
        if not self._slots.acquire(blocking=False):
            raise ExchangeFailed("earlier requests to the registry are still stuck; not trying now")
        call = _Call()
        try:
            future: Future[Answer] = self._pool.submit(
                self._work, call, method, self.prefix + path, body, headers or {}, deadline
            )
        except RuntimeError as error:  # the pool was shut down
            self._slots.release()
            raise ExchangeFailed(str(error)) from error
        future.add_done_callback(lambda _: self._slots.release())
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            call.abandon()
            raise ExchangeFailed(f"{method} {path}: no complete answer within {deadline_s * 1000:.0f} ms") from None
        except ExchangeFailed:
            raise
        except (OSError, http.client.HTTPException, ValueError) as error:  # refused, reset, not HTTP at all
            raise ExchangeFailed(f"{method} {path}: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- in a worker thread ------------------------------------------------------------------

    def _work(
        self, call: _Call, method: str, target: str, body: bytes | None, headers: dict[str, str], deadline: float
    ) -> Answer:
        reused = getattr(self._local, "connection", None) is not None
        try:
            return self._once(call, method, target, body, headers, deadline)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused or call.abandoned:
                raise
            return self._once(call, method, target, body, headers, deadline)  # the kept connection had gone stale

    def _once(
        self, call: _Call, method: str, target: str, body: bytes | None, headers: dict[str, str], deadline: float
    ) -> Answer:
        connection = self._connection(deadline)
        try:
            call.attach(connection.sock)
            if call.abandoned:
                raise ExchangeFailed("abandoned")
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_BODY + 1)
            if len(data) > MAX_BODY:
                raise ExchangeFailed(f"{method} {target}: answer larger than {MAX_BODY} bytes")
            answer = Answer(response.status, response.msg, data)
            if response.will_close:
                self._drop()
            return answer
        except BaseException:
            self._drop()
            raise

    def _connection(self, deadline: float) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        remaining = max(0.001, deadline - time.monotonic())
        if connection is None:
            if self.https:
                connection = http.client.HTTPSConnection(self.host, self.port, timeout=remaining, context=self._ssl)
            else:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=remaining)
            connection.connect()
            self._local.connection = connection
        if connection.sock is not None:
            # A per-operation limit as well: a worker cut loose by its caller still ends by itself.
            connection.sock.settimeout(remaining)
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()
