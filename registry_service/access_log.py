"""Access log of the registry in the Combined Log Format (Apache's and nginx's "combined", what log
shippers parse out of the box), one line per request through the `registry_service.access` logger.

Opt-in: `cylinder-registry serve --access-log FILE` (or `-` for stderr). The middleware wraps the
app's WSGI callable outermost, so the status fast path (answered in front of Flask) is logged like
every Flask route.

What a line never holds, and why:
- the query string: bureau and dashboard filters carry plates, tag UIDs and search words in it
  (`?plate=`, `?q=`), which are personal data an access log must not collect. The request line shows
  the path only. The Referer loses its query for the same reason (it is often one of our own
  dashboard pages with its filters).
- request bodies (the status check's plate travels in its JSON body) and the Authorization header
  (bearer tokens): the log never reads either.
- the user (`%u`): always `-`; authentication happens inside the app, after this layer.
The remote address is the WSGI REMOTE_ADDR, which waitress has already taken from X-Forwarded-For
when, and only when, the request came through `--trusted-proxy`.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from flask import Flask

LOGGER = "registry_service.access"
STDERR = "-"
# English month names whatever the locale: parsers expect %d/%b/%Y as Apache writes it.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Characters kept as they are when the decoded path is quoted back (RFC 3986 pchar and "/").
PATH_SAFE = "/:@!$&'()*+,;=-._~"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AccessLog:
    """WSGI middleware writing one combined-format line per request once its body has been sent."""

    def __init__(self, app: WsgiApp, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.time()
        status = ["500"]  # what is logged if the app raises before it starts its answer

        def recording_start_response(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        def done(sent: int) -> None:
            self.logger.info(combined_line(environ, status[0], sent, arrived))

        try:
            body = self.app(environ, recording_start_response)
        except BaseException:
            done(0)
            raise
        return _Counted(body, done)


class _Counted:
    """The app's body passed through, its bytes counted; the line is written when the server
    closes it (PEP 3333: always, also when the client went away)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body = body
        self.done = done
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.sent)


def combined_line(environ: dict[str, Any], status: str, sent: int, arrived: float) -> str:
    """`host - - [time] "METHOD /path PROTO" status bytes "referer" "user-agent"`."""
    request_line = f"{environ.get('REQUEST_METHOD', '-')} {_path(environ)} {environ.get('SERVER_PROTOCOL', '-')}"
    return (
        f"{environ.get('REMOTE_ADDR') or '-'} - - [{_clf_time(arrived)}] "
        f'"{_escape(request_line)}" {status} {sent} '
        f'"{_escape(_referer(environ))}" "{_escape(environ.get("HTTP_USER_AGENT") or "-")}"'
    )


def _path(environ: dict[str, Any]) -> str:
    """The path as the client sent it, without the query string. PATH_INFO is percent-decoded
    latin-1 (PEP 3333); quoting it back gives plain ASCII without spaces or quotes."""
    raw = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}" or "/"
    return quote(raw.encode("latin-1", "replace"), safe=PATH_SAFE)


def _referer(environ: dict[str, Any]) -> str:
    referer = environ.get("HTTP_REFERER")
    if not referer:
        return "-"
    try:
        parts = urlsplit(referer)
    except ValueError:
        return "-"  # not a URL: nothing worth keeping, and it could hold anything
    return str(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


def _escape(text: str) -> str:
    """nginx's escaping: quotes, backslashes and bytes outside printable ASCII as \\xHH, so a
    header can neither end the quoted field nor forge a second line."""
    out = []
    for byte in text.encode("latin-1", "replace"):
        if byte in (0x22, 0x5C) or not 0x20 <= byte < 0x7F:
            out.append(f"\\x{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def _clf_time(moment: float) -> str:
    local = datetime.fromtimestamp(moment).astimezone()
    return f"{local:%d}/{MONTHS[local.month - 1]}/{local:%Y:%H:%M:%S %z}"


def open_log(target: str) -> logging.Logger:
    """The access logger writing bare lines to `target`: a file (reopened when logrotate moves it)
    or `-` for stderr. It does not propagate, so `-v`'s root handler never doubles the lines."""
    handler: logging.Handler
    if target == STDERR:
        handler = logging.StreamHandler(sys.stderr)
    else:
        handler = logging.handlers.WatchedFileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    return logger


def install(app: Flask, target: str) -> None:
    """Log every request of `app` to `target`; call after everything else wraps app.wsgi_app (the
    status fast path), so this layer is outermost and sees every answer."""
    app.wsgi_app = AccessLog(app.wsgi_app, open_log(target))  # type: ignore[method-assign]
