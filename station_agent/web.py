"""The booth screen: a small local HTTP server (stdlib, one thread per client) serving one page
that follows the agent through Server-Sent Events, with polling as the fallback.

    GET  /                 the page           GET /api/state    the snapshot (JSON)
    GET  /api/stream       SSE: a snapshot on every change
    POST /api/fill-done    POST /api/new-vehicle    POST /api/attendant {attendant}
    POST /api/override {attendant, supervisor, password, reason}
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any

from station_agent.errors import OverrideRefused

if TYPE_CHECKING:  # pragma: no cover
    from station_agent.agent import Agent

log = logging.getLogger(__name__)
MAX_BODY = 4096


def page_html() -> bytes:
    return resources.files("station_agent").joinpath("static/attendant.html").read_bytes()


class AttendantServer:
    def __init__(self, agent: Agent, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.agent = agent
        handler: type[_Handler] = type("Handler", (_Handler,), {"agent": agent, "stopping": threading.Event()})
        self._handler = handler
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}/"

    def start(self) -> AttendantServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="attendant-page", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._handler.stopping.set()
        with self.agent.changed:
            self.agent.changed.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    agent: Agent
    stopping: threading.Event
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("page: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/":
            self._send(HTTPStatus.OK, page_html(), "text/html; charset=utf-8")
        elif path == "/api/state":
            self._json(HTTPStatus.OK, self.agent.snapshot())
        elif path == "/api/stream":
            self._stream()
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seen = -1
        try:
            while not self.stopping.is_set():
                with self.agent.changed:
                    if self.agent.version == seen:
                        self.agent.changed.wait(timeout=15)
                state = self.agent.snapshot()
                if state["version"] == seen:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    seen = int(state["version"])  # type: ignore[call-overload]
                    self.wfile.write(b"data: " + json.dumps(state, ensure_ascii=False).encode() + b"\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "send a JSON object"})
            return
        path = self.path.split("?")[0]
        if path == "/api/fill-done":
            self.agent.end_fill()
        elif path == "/api/new-vehicle":
            self.agent.new_vehicle()
        elif path == "/api/attendant":
            try:
                self.agent.set_attendant(str(body.get("attendant", "")))
            except ValueError as error:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                return
        elif path == "/api/override":
            fields = [str(body.get(k, "")) for k in ("attendant", "supervisor", "password", "reason")]
            if not fields[0].strip():
                self._json(HTTPStatus.BAD_REQUEST, {"error": "attendant is required"})
                return
            try:
                self.agent.override(*fields)
            except OverrideRefused as error:
                self._json(HTTPStatus.FORBIDDEN, {"error": str(error)})
                return
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        self._json(HTTPStatus.OK, self.agent.snapshot())
