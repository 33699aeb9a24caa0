"""The booth screen: a small local HTTP server (stdlib) serving one page that follows the agent
through Server-Sent Events, with polling as the fallback.

    GET  /                 the page (with its token)      GET /static/attendant.js, attendant.css
    GET  /api/state        the snapshot (JSON)            GET /api/stream   SSE: a snapshot on every change,
                                                          and a beat every STREAM_BEAT_S between them
    GET  /api/words        the page's words in every installed language (station_agent.page_words)
    POST /api/fill-done {}    POST /api/new-vehicle {}    POST /api/attendant {attendant}
    POST /api/override {attendant, supervisor, password, reason}

Nothing a request carries may change the pump or the agent's health except the four actions
above, and only once every check has passed: Host, origin, token and content type
(station_agent.booth_guard), then the body (length, UTF-8, a JSON object of known text fields),
then the shared field rules in the agent itself. A refused action is answered with its English
message (for the log and for tools), its code and its words in every page language (the page shows
those). A bug in a handler answers 500 and touches nothing. The server is bounded: at most MAX_CONNECTIONS at once (STREAM_SLOTS of them event
streams), one request per connection, REQUEST_TIMEOUT_S to send it, socket timeouts on every read
and write, and a body is never read before its Content-Length has been validated.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any

from station_agent import page_words, view
from station_agent.booth_guard import SECURITY_HEADERS, BoothGuard, RequestRefused, default_hosts, new_token
from station_agent.errors import BoothInputError, OverrideLocked, OverrideRefused

if TYPE_CHECKING:  # pragma: no cover
    from station_agent.agent import Agent

log = logging.getLogger(__name__)
MAX_BODY = 8192
MAX_CONNECTIONS = 16
STREAM_SLOTS = 4
REQUEST_TIMEOUT_S = 10.0  # to send a whole request; also each socket read or write
# The page takes silence for a lost agent: with no snapshot and no beat for 1.2 s it shows "not
# connected, do not fill" (attendant.js SILENCE_MS), within 2 s of the agent's last word. A beat is
# sent only once the agent has answered a snapshot, so an agent that hangs falls silent too. A beat
# is `event: beat` with the state's version as its data: the page asks for the state again when it
# has missed one.
STREAM_BEAT_S = 0.4
LINGER_S = 0.5
STATIC = {"attendant.js": "text/javascript; charset=utf-8", "attendant.css": "text/css; charset=utf-8"}
TOKEN_PLACEHOLDER = b"{{BOOTH_TOKEN}}"
_LENGTH = re.compile(r"[0-9]+")
# The fields each action takes; every one is text, and no other field is accepted.
ACTIONS: dict[str, tuple[str, ...]] = {
    "/api/fill-done": (),
    "/api/new-vehicle": (),
    "/api/attendant": ("attendant",),
    "/api/override": ("attendant", "supervisor", "password", "reason"),
}


def static_file(name: str) -> bytes:
    return resources.files("station_agent").joinpath(f"static/{name}").read_bytes()


def page_html(token: str = "") -> bytes:
    return static_file("attendant.html").replace(TOKEN_PLACEHOLDER, token.encode("ascii"))


class BadBody(ValueError):
    """The body of a POST is not what the action takes (answered 4xx before the agent sees it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AttendantServer:
    def __init__(
        self,
        agent: Agent,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        allowed_hosts: tuple[str, ...] | None = None,
        max_connections: int = MAX_CONNECTIONS,
        stream_slots: int = STREAM_SLOTS,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.agent = agent
        self.httpd = _BoundedServer((host, port), _Handler, max_connections)
        bound_port = int(self.httpd.server_address[1])
        extra = agent.config.allowed_hosts if allowed_hosts is None else allowed_hosts
        self.httpd.agent = agent
        self.httpd.guard = BoothGuard(default_hosts(host, bound_port, extra), new_token(), bound_port)
        self.httpd.streams = threading.BoundedSemaphore(stream_slots)
        self.httpd.request_timeout_s = request_timeout_s
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"

    @property
    def token(self) -> str:
        return self.httpd.guard.token

    @property
    def refusals(self) -> list[tuple[str, str]]:
        """(path, rule) of every request refused by a check, oldest first (the last 200): for tests
        and for the log, which shows each one at WARNING."""
        with self.httpd.refusals_lock:
            return list(self.httpd.refusals)

    def start(self) -> AttendantServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="attendant-page", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.stopping.set()
        with self.agent.changed:
            self.agent.changed.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


class _BoundedServer(HTTPServer):
    """One thread per connection, but never more than `max_connections` at once: beyond that a
    connection is answered 503 at once and closed, so a flood cannot exhaust threads or memory."""

    agent: Agent
    guard: BoothGuard
    streams: threading.BoundedSemaphore
    request_timeout_s: float

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)
        self.stopping = threading.Event()
        self.refusals: list[tuple[str, str]] = []
        self.refusals_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
                )
            except OSError:
                pass
            finally:
                self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve, args=(request, client_address), name="attendant-request", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread could be made: the same as a full house
            self.slots.release()
            self.shutdown_request(request)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.warning("attendant page: connection from %s ended with an error", client_address[0], exc_info=True)

    def note_refusal(self, path: str, rule: str) -> None:
        with self.refusals_lock:
            self.refusals.append((path, rule))
            del self.refusals[:-200]


class _Handler(BaseHTTPRequestHandler):
    server: _BoundedServer
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S  # every socket read and write (setup() applies the server's own value)
    _deadline: threading.Timer | None = None
    _body_unread = False  # a POST answered before its body was read: drain it before closing

    # -- connection life ------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.request_timeout_s)
        # A client that drips its request a byte at a time resets the socket timeout on each byte;
        # the deadline cuts it off after REQUEST_TIMEOUT_S in all (an event stream cancels it).
        self._deadline = threading.Timer(self.server.request_timeout_s, self._cut_off)
        self._deadline.daemon = True
        self._deadline.start()

    def finish(self) -> None:
        self._cancel_deadline()
        try:
            super().finish()
            if self._body_unread:
                self._linger()
        except OSError:
            pass

    def _linger(self) -> None:
        """Close gently: a body refused unread is drained briefly (bounded in time and bytes), so the
        close does not reset the connection and lose the answer the client is about to read."""
        self.connection.shutdown(socket.SHUT_WR)
        self.connection.settimeout(LINGER_S)
        drained = 0
        while drained < 4 * MAX_BODY:
            chunk = self.connection.recv(4096)
            if not chunk:
                return
            drained += len(chunk)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()

    def _cut_off(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # the request line only: never a body
        log.debug("page: " + format, *args)

    def end_headers(self) -> None:
        # Every answer, the stdlib's own error pages (400, 414, 501) included, carries these.
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    # -- answers --------------------------------------------------------------------------------

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's errors (bad request line, too long, unknown method) as short JSON with the
        usual headers; never an HTML page that echoes what was sent, never a header-less 0.9 answer."""
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.1"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._json(code, {"error": phrase})

    def _send(self, status: int, body: bytes, content_type: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.close_connection = True  # one request per connection: nothing idles in a slot
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: object, extra: tuple[tuple[str, str], ...] = ()) -> None:
        # ASCII JSON: no text the agent holds can make the encoder fail.
        self._send(status, json.dumps(value, ensure_ascii=True).encode("ascii"), "application/json; charset=utf-8", extra)

    def _refuse(self, refused: RequestRefused) -> None:
        path = self.path[:100]
        log.warning("attendant page: %s %r from %s refused (%s)", self.command, path, self.client_address[0], refused.rule)
        self.server.note_refusal(path, refused.rule)
        self._json(refused.status, {"error": str(refused), "rule": refused.rule})

    def _guarded(self, action: Any) -> None:
        """Run `action`; a refused check answers its status, anything unexpected answers 500 and
        leaves the agent as it was (the handler is no part of the pump's decision)."""
        try:
            action()
        except RequestRefused as refused:
            self._refuse(refused)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("attendant page: error answering %s %s", self.command, self.path.split("?")[0][:100])
            self.close_connection = True
            try:
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
            except OSError:
                pass

    # -- GET ------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._guarded(self._get)

    def _get(self) -> None:
        guard = self.server.guard
        path = self.path.split("?")[0]
        if path == "/":
            guard.check_host(self.headers)
            self._send(HTTPStatus.OK, page_html(guard.token), "text/html; charset=utf-8", (("Set-Cookie", guard.cookie()),))
        elif path.startswith("/static/") and path[len("/static/") :] in STATIC:
            guard.check_host(self.headers)
            name = path[len("/static/") :]
            self._send(HTTPStatus.OK, static_file(name), STATIC[name])
        elif path == "/api/state":
            guard.check_read(self.headers)
            self._json(HTTPStatus.OK, self.server.agent.snapshot())
        elif path == "/api/words":
            guard.check_read(self.headers)
            self._json(HTTPStatus.OK, page_words.words(self.server.agent.config.language))
        elif path == "/api/stream":
            guard.check_read(self.headers)
            self._stream()
        else:
            guard.check_host(self.headers)
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _stream(self) -> None:
        streams = self.server.streams
        if not streams.acquire(blocking=False):
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "too many open pages"}, (("Retry-After", "5"),))
            return
        try:
            self._cancel_deadline()  # a stream lasts; the socket timeout still bounds every write
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self._follow()
        finally:
            streams.release()

    def _follow(self) -> None:
        agent, stopping = self.server.agent, self.server.stopping
        seen = -1
        while not stopping.is_set():
            with agent.changed:
                if agent.version == seen:
                    agent.changed.wait(timeout=STREAM_BEAT_S)
            if stopping.is_set():
                return
            state = agent.snapshot()  # also lets time end a session: the page sees it within a beat
            version = int(state["version"])  # type: ignore[call-overload]
            if version == seen:
                self.wfile.write(b"event: beat\ndata:%d\n\n" % version)
            else:
                seen = version
                self.wfile.write(b"data: " + json.dumps(state, ensure_ascii=True).encode("ascii") + b"\n\n")
            self.wfile.flush()

    # -- POST -----------------------------------------------------------------------------------

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _post(self) -> None:
        self._body_unread = True
        self.server.guard.check_write(self.headers)
        path = self.path.split("?")[0]
        fields = ACTIONS.get(path)
        if fields is None:
            self.close_connection = True
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        try:
            body = self._body(fields)
        except BadBody as bad:
            self.close_connection = True
            self._json(bad.status, {"error": str(bad)})
            return
        agent = self.server.agent
        try:
            if path == "/api/fill-done":
                agent.end_fill()
            elif path == "/api/new-vehicle":
                agent.new_vehicle()
            elif path == "/api/attendant":
                agent.set_attendant(body.get("attendant", ""))
            else:
                agent.override(
                    body.get("attendant", ""),
                    body.get("supervisor", ""),
                    body.get("password", ""),
                    body.get("reason", ""),
                    client=str(self.client_address[0]),
                )
        except BoothInputError as error:
            self._refused_action(path, HTTPStatus.BAD_REQUEST, error)
            return
        except OverrideLocked as error:
            self._refused_action(
                path, HTTPStatus.TOO_MANY_REQUESTS, error, (("Retry-After", str(max(1, int(error.retry_after_s + 0.999)))),)
            )
            return
        except OverrideRefused as error:
            self._refused_action(path, HTTPStatus.FORBIDDEN, error)
            return
        self._json(HTTPStatus.OK, agent.snapshot())

    def _refused_action(self, path: str, status: int, error: OverrideRefused, extra: tuple[tuple[str, str], ...] = ()) -> None:
        """The agent refused the action: the log gets its message, the page its words."""
        log.info("attendant page: %s refused (%s): %s", path, error.code, error)
        self._json(status, {"error": str(error), "code": error.code, "text": view.refusal_texts(error)}, extra)

    def _body(self, fields: tuple[str, ...]) -> dict[str, str]:
        """The JSON object the action takes, read only after its length has been validated."""
        if self.headers.get("Transfer-Encoding") is not None:
            raise BadBody(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length, not chunked")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise BadBody(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        if len(lengths) != 1 or _LENGTH.fullmatch(lengths[0].strip()) is None:
            raise BadBody(HTTPStatus.BAD_REQUEST, "Content-Length must be one non-negative whole number")
        digits = lengths[0].strip().lstrip("0")
        length = int(digits or "0") if len(digits) <= 9 else MAX_BODY + 1  # never int() a thousand digits
        if length > MAX_BODY:
            raise BadBody(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b""
        self._body_unread = False
        if len(raw) != length:
            raise BadBody(HTTPStatus.BAD_REQUEST, "the body ended early")
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise BadBody(HTTPStatus.BAD_REQUEST, "send a JSON object") from None
        if not isinstance(body, dict):
            raise BadBody(HTTPStatus.BAD_REQUEST, "send a JSON object")
        unknown = sorted(set(body) - set(fields))
        if unknown:
            raise BadBody(HTTPStatus.BAD_REQUEST, f"unknown field {unknown[0][:40]!a}")
        if any(not isinstance(value, str) for value in body.values()):
            raise BadBody(HTTPStatus.BAD_REQUEST, "every field is text")
        return body
