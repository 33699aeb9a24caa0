"""RFC 9457 problem+json for every error response, including Flask's own (404, 405, 413...)
and unexpected exceptions (logged, answered with a 500 that leaks nothing)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, StatementError
from werkzeug.exceptions import HTTPException

from registry_service.db import is_busy, is_disconnect
from registry_service.errors import DatabaseBusy, RegistryError, ServiceUnavailable

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://cylinder-guard.example/problems/"
CONTENT_TYPE = "application/problem+json"


def encode_text(text: str) -> bytes:
    """UTF-8, except that a lone surrogate is written as its backslash escape instead of failing.

    A request may carry one (the JSON escape "\\ud800" decodes to it) and an error message may echo
    it. In JSON text the escape is exactly what the surrogate stands for; in HTML or CSV it is
    harmless text. Without this, encoding the answer raises and the request becomes a 500."""
    return text.encode("utf-8", "backslashreplace")


class TextSafeResponse(Response):
    """The app's response class: str bodies go through `encode_text`."""

    def set_data(self, value: bytes | str) -> None:
        super().set_data(encode_text(value) if isinstance(value, str) else value)


def problem_document(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    *,
    retry_after_s: int = ServiceUnavailable.retry_after_s,
    **extra: Any,
) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of a problem response, without Flask (the status fast path uses it)."""
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, "instance": instance}
    body.update({k: v for k, v in extra.items() if v})
    headers = [("Content-Type", CONTENT_TYPE)]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="cylinder-registry"'))
    if status in (429, 503):  # 429: a locked log-in (services/login_throttle.py)
        headers.append(("Retry-After", str(retry_after_s)))
    return encode_text(json.dumps(body, ensure_ascii=False)), headers


def problem_for(error: RegistryError, instance: str) -> tuple[bytes, list[tuple[str, str]]]:
    retry_after_s = getattr(error, "retry_after_s", ServiceUnavailable.retry_after_s)
    return problem_document(
        error.status, error.type_slug, error.title, error.detail, instance, retry_after_s=retry_after_s, errors=error.errors
    )


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> Response:
    body, headers = problem_document(status, slug, title, detail, request.path, **extra)
    return Response(body, status=status, headers=headers)


def error_response(error: RegistryError) -> Response:
    body, headers = problem_for(error, request.path)
    return Response(body, status=error.status, headers=headers)


def _invalid_value() -> Response:
    return problem(422, "invalid-input", "Invalid input", "a value cannot be stored (a lone surrogate, or out of range)")


def register(app: Flask) -> None:
    @app.errorhandler(RegistryError)
    def _registry_error(error: RegistryError) -> Response:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        slug = (error.name or "error").lower().replace(" ", "-")
        return problem(status, slug, error.name or "Error", error.description or "")

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError) -> Response:
        # Safety nets: services check these cases first; a concurrent request can still win a race.
        if isinstance(error, IntegrityError):
            log.info("integrity error answered as 409: %s", error.orig)
            return problem(
                409,
                "conflict",
                "Conflict with the current state",
                "the change conflicts with data written concurrently; reload and retry",
            )
        if isinstance(error, DataError):
            return problem(422, "invalid-input", "Invalid input", "a value does not fit its field")
        if is_busy(error):
            return error_response(DatabaseBusy("the database is busy; retry shortly"))
        if is_disconnect(error) or isinstance(error, OperationalError):
            log.warning("database unavailable: %s", error.orig)
            return error_response(ServiceUnavailable("the database is unreachable; retry shortly"))
        log.exception("database error")
        return problem(500, "internal", "Internal error", "an unexpected error was logged")

    @app.errorhandler(StatementError)
    def _unsendable(error: StatementError) -> Response:
        # Not a DBAPIError (those are above): the driver or a bind processor could not even turn a
        # value into SQL, e.g. a lone surrogate (UnicodeEncodeError) or a date shifted past year
        # 9999 (OverflowError). Input checks refuse these first; this net keeps a missed one a 422.
        if isinstance(error.orig, (UnicodeError, OverflowError)):
            log.info("value the database driver cannot send answered as 422: %r", error.orig)
            return _invalid_value()
        return _unexpected(error)

    @app.errorhandler(UnicodeEncodeError)
    def _unencodable(error: UnicodeEncodeError) -> Response:
        log.info("unencodable value answered as 422: %s", error)  # a driver's own, unwrapped
        return _invalid_value()

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal", "Internal error", "an unexpected error was logged")
