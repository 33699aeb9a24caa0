"""Talk to the booth page over raw HTTP the way the page does (token from the page, cookie, JSON),
or the way an attacker would (any Host, Origin, Content-Type, Content-Length, body)."""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_META = re.compile(rb'<meta name="booth-token" content="([^"]+)">')


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    host: str | None = None,
    length: str | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One request with exactly these headers: `host` replaces the Host header, `length` the
    Content-Length (any text, or "" for none)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host if host is not None else parts.netloc)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if length is None and body is not None:
            length = str(len(body))
        if length:
            connection.putheader("Content-Length", length)
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


class BoothClient:
    """The page's own requests: it loads the page first for the token and the cookie."""

    def __init__(self, url: str, host: str | None = None) -> None:
        self.url, self.host = url, host
        page = request(url, "GET", "/", host=host)
        assert page.status == 200, page
        match = _META.search(page.body)
        assert match is not None, "the page carries no token"
        self.token = match.group(1).decode()
        self.cookie = page.headers["Set-Cookie"].split(";")[0]

    def get(self, path: str) -> Answer:
        return request(self.url, "GET", path, headers={"Cookie": self.cookie}, host=self.host)

    def state(self) -> dict[str, Any]:
        answer = self.get("/api/state")
        assert answer.status == 200, answer
        return dict(answer.json())

    def post(self, path: str, body: bytes | dict[str, Any] = b"{}", headers: dict[str, str] | None = None) -> Answer:
        """A POST as the page sends it; `headers` adds or replaces headers ("" leaves one out)."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        sent = {"Content-Type": "application/json", "X-Booth-Token": self.token, **(headers or {})}
        return request(self.url, "POST", path, raw, {k: v for k, v in sent.items() if v}, host=self.host)
