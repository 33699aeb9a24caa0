"""Who may talk to the booth page: the checks every request passes before it reaches the agent.

- Host: every request (the page too) must name an allow-listed host: the address the server is
  bound to, localhost / 127.0.0.1 / [::1] with its port, and `attendant.allowed_hosts` (a display
  on the station LAN). A DNS-rebinding page reaches this server under its own name, so its Host is
  refused and it can read nothing, not even the page's token.
- Token: a random value made when the server starts, given out with the page (a meta tag, and an
  HttpOnly SameSite=Strict cookie named after the port, so two pumps on one box do not share one).
  Every POST sends it in the X-Booth-Token header; GET /api/state and /api/stream need the cookie.
  A page of another origin can neither read the token nor make the browser send the header
  without a CORS preflight, which this server never grants.
- Origin: a POST carrying Origin (or, without it, Referer) must come from the host it was sent to;
  `Origin: null` (sandboxed frames, file: pages) is refused. A POST's Content-Type must be
  application/json, so a plain cross-origin form or a text/plain "simple" request is refused even
  before its token is looked at.

Pure functions of the request headers: no I/O, no agent.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

from station_agent.errors import StationAgentError

TOKEN_HEADER = "X-Booth-Token"
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class RequestRefused(StationAgentError, PermissionError):
    """A request failed one of the page's checks; `status` is the HTTP answer, `rule` names the check."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule


def normalise_host(value: str, default_port: int) -> str | None:
    """`value` (a Host header or an allow-list entry) as lower-case "host:port", or None when it is
    not a plain host name or address with an optional port."""
    text = value.strip().lower()
    if not text or not text.isascii() or any(c in text for c in "/?#@\\ \t"):
        return None
    if text.startswith("["):
        host, bracket, rest = text.partition("]")
        host += bracket
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:]
    else:
        host, colon, port_text = text.partition(":")
        if colon and not port_text:
            return None
    if port_text and (not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535):
        return None
    if not host:
        return None
    return f"{host}:{int(port_text) if port_text else default_port}"


def default_hosts(bound_host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host values the page answers: loopback names, the bound address unless it is every
    interface (0.0.0.0 names no host a display could open), and `extra` (a missing port is ours)."""
    names: list[str] = [*LOOPBACK_NAMES]
    try:
        unspecified = ipaddress.ip_address(bound_host).is_unspecified
    except ValueError:
        unspecified = False
    if bound_host and not unspecified:
        names.append(f"[{bound_host}]" if ":" in bound_host and not bound_host.startswith("[") else bound_host)
    hosts = {normalise_host(f"{name}:{port}", port) for name in names}
    hosts |= {normalise_host(entry, port) for entry in extra}
    return frozenset(h for h in hosts if h is not None)


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class BoothGuard:
    hosts: frozenset[str]
    token: str
    port: int

    @property
    def cookie_name(self) -> str:
        return f"booth_token_{self.port}"

    def cookie(self) -> str:
        """The Set-Cookie value that goes with the page."""
        return f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"

    def check_host(self, headers: Message) -> str:
        """The request's host ("name:port") when it is allow-listed; RequestRefused (421) otherwise."""
        values = headers.get_all("Host") or []
        host = normalise_host(values[0], 80) if len(values) == 1 else None
        if host is None or host not in self.hosts:
            raise RequestRefused(421, "host", "this page answers only its own address (check attendant.allowed_hosts)")
        return host

    def check_read(self, headers: Message) -> None:
        """GET of the agent's state: an allowed Host and the page's cookie."""
        self.check_host(headers)
        if not self._same_token(_cookie(headers, self.cookie_name)):
            raise RequestRefused(403, "token", "reload the page (its token is missing or out of date)")

    def check_write(self, headers: Message) -> None:
        """A POST that changes the agent: allowed Host, same origin, JSON, and the page's token."""
        host = self.check_host(headers)
        origin = headers.get("Origin")
        referer = headers.get("Referer")
        if origin is not None:
            if origin.strip().lower() != f"http://{host}":
                raise RequestRefused(403, "origin", "a request from another site is refused")
        elif referer is not None:
            parts = urlsplit(referer.strip().lower())
            if parts.scheme != "http" or normalise_host(parts.netloc, 80) != host:
                raise RequestRefused(403, "origin", "a request from another site is refused")
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RequestRefused(415, "content-type", "send application/json")
        if not self._same_token(headers.get(TOKEN_HEADER)):
            raise RequestRefused(403, "token", "reload the page (its token is missing or out of date)")

    def _same_token(self, given: str | None) -> bool:
        # Header values arrive as latin-1 text; compare bytes so any value compares (in constant time).
        return given is not None and hmac.compare_digest(given.encode("latin-1", "replace"), self.token.encode())


def _cookie(headers: Message, name: str) -> str | None:
    """The value of cookie `name`, parsed leniently (a malformed Cookie header is only a missing cookie)."""
    for header in headers.get_all("Cookie") or []:
        for pair in header.split(";"):
            key, equals, value = pair.strip().partition("=")
            if equals and key == name:
                return value.strip()
    return None
