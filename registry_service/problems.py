"""RFC 9457 problem+json for every error response, including Flask's own (404, 405, 413...)
and unexpected exceptions (logged, answered with a 500 that leaks nothing)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from registry_service.db import is_busy, is_disconnect
from registry_service.errors import DatabaseBusy, RegistryError, ServiceUnavailable

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://cylinder-guard.example/problems/"
CONTENT_TYPE = "application/problem+json"


def problem_document(status: int, slug: str, title: str, detail: str, instance: str, *,
                     retry_after_s: int = ServiceUnavailable.retry_after_s,
                     **extra: Any) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of a problem response, without Flask (the status fast path uses it)."""
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, "instance": instance}
    body.update({k: v for k, v in extra.items() if v})
    headers = [("Content-Type", CONTENT_TYPE)]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="cylinder-registry"'))
    if status == 503:
        headers.append(("Retry-After", str(retry_after_s)))
    return json.dumps(body, ensure_ascii=False).encode(), headers


def problem_for(error: RegistryError, instance: str) -> tuple[bytes, list[tuple[str, str]]]:
    retry_after_s = getattr(error, "retry_after_s", ServiceUnavailable.retry_after_s)
    return problem_document(error.status, error.type_slug, error.title, error.detail, instance,
                            retry_after_s=retry_after_s, errors=error.errors)


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> Response:
    body, headers = problem_document(status, slug, title, detail, request.path, **extra)
    return Response(body, status=status, headers=headers)


def error_response(error: RegistryError) -> Response:
    body, headers = problem_for(error, request.path)
    return Response(body, status=error.status, headers=headers)


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

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal", "Internal error", "an unexpected error was logged")
