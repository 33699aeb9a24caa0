"""A hostile link between the agent and the registry: a small threaded HTTP proxy whose behaviour
is switched at run time, to answer the way broken networks and misrouted web servers do.

Every request is read whole (headers, Content-Length body) and judged by the mode in force when
it arrived; the connection is closed after each answer, so a mode switch takes effect on the next
request rather than on a kept-alive pass-through connection.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from tests.peers import free_tcp_port

TRICKLE_S = 0.02  # one byte per 20 ms
MAX_HEAD = 64 * 1024


class Mode(StrEnum):
    PASS = "pass"  # forward to the registry
    NON_JSON = "non_json"  # 200 with a body that is not JSON (a captive portal)
    HTML_404 = "html_404"  # a misrouted nginx's 404 page
    TRICKLE = "trickle"  # the registry's real answer, one byte every 20 ms
    RESET = "reset"  # read the request, then RST
    BLACK_HOLE = "black_hole"  # read the request, never answer


CAPTIVE_PAGE = b"<html><head><title>Welcome</title></head><body>Please sign in to the network.</body></html>"
NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n"
    b"<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
)


def _answer(status: str, body: bytes, content_type: str, server: str = "") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}", "Connection: close"]
    if server:
        head.append(f"Server: {server}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Answer:
    request: str  # the request line
    started: float  # time.monotonic() when the request arrived
    status: str
    seconds: float  # the registry's time to the whole answer
    retry_after: str | None


class HostileProxy:
    """`url` replaces the registry's base URL in the agent's config; `mode` may change any time."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_tcp_port()
        self.mode = Mode.PASS
        self.requests: list[tuple[float, Mode, str]] = []  # (monotonic, mode, request line)
        self.answers: list[Answer] = []  # what the registry answered, in pass-through
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def start(self) -> HostileProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, name="hostile-proxy", daemon=True)
        self._thread.start()
        return self

    def switch(self, mode: Mode) -> None:
        """Change behaviour; connections held by the old mode (a black hole) are dropped."""
        self.mode = mode
        with self._lock:
            held = list(self._clients)
        for client in held:
            try:
                client.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked on it
            except OSError:
                pass

    def seen(self, mode: Mode, path_part: str = "") -> int:
        """How many requests (whose request line contains `path_part`) met `mode`."""
        return sum(1 for _, m, line in list(self.requests) if m is mode and path_part in line)

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        if self._thread is not None:
            self._thread.join(5)
        self.switch(self.mode)

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            request = _read_request(client)
            if request is None:
                return
            mode = self.mode
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            self.requests.append((time.monotonic(), mode, line))
            if mode is Mode.PASS:
                started = time.monotonic()
                answer = self._forward(request)
                status = answer.split(b" ", 2)[1].decode("latin-1") if answer.startswith(b"HTTP/") else "?"
                self.answers.append(Answer(line, started, status, time.monotonic() - started, _header(answer, b"retry-after")))
                client.sendall(answer)
            elif mode is Mode.NON_JSON:
                client.sendall(_answer("200 OK", CAPTIVE_PAGE, "text/html"))
            elif mode is Mode.HTML_404:
                client.sendall(_answer("404 Not Found", NGINX_404, "text/html", "nginx/1.22.1"))
            elif mode is Mode.TRICKLE:
                for byte in self._forward(request):
                    client.sendall(bytes([byte]))
                    time.sleep(TRICKLE_S)
            elif mode is Mode.RESET:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode is Mode.BLACK_HOLE:
                while not self._stop.is_set() and self.mode is Mode.BLACK_HOLE and client.recv(4096):
                    pass
        except OSError:
            pass  # the agent gave up on us: that is what these modes are for
        finally:
            with self._lock:
                self._clients.discard(client)
            _close_quietly(client)

    def _forward(self, request: bytes) -> bytes:
        """The registry's whole answer to `request`, sent on a fresh connection that closes after it."""
        head, _, body = request.partition(b"\r\n\r\n")
        lines = [h for h in head.split(b"\r\n") if not h.lower().startswith((b"connection:", b"keep-alive:"))]
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as upstream:
            upstream.sendall(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks)
        answer_head, _, answer_body = answer.partition(b"\r\n\r\n")
        kept = [h for h in answer_head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
        return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + answer_body


def _read_request(client: socket.socket) -> bytes | None:
    client.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEAD:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def _header(message: bytes, name: bytes) -> str | None:
    head = message.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return None


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
