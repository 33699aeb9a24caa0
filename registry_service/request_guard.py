"""One check, before any view, on the parts of a request that reach views as text without a
validator of their own: the path (and so its parameters), the names of query parameters, and form
fields. A NUL byte in any of them is refused with a 422.

PostgreSQL cannot store or even compare a NUL in text (psycopg refuses to send it), SQLite keeps it
and truncates it in places; no identifier or form field of the registry has a use for one.
Refusing it here means no view, query helper or template has to remember to. Query *values* are
left to each parameter's own validation (the patterns and parse helpers refuse a NUL with a 422
naming the parameter; the dashboard drops a bad `next=` rather than refusing the page), and the
DataError safety net in problems.py answers 422 for any that slipped through. Lone surrogates
cannot arrive this way (werkzeug decodes invalid UTF-8 in URLs and forms to U+FFFD); in JSON bodies
they are free text's business (parse.text) and cannot break an answer (problems.encode_text).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, request

from registry_service.errors import InvalidInput

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def check_request() -> None:
    """Raise InvalidInput when the path, a query parameter's name or a form field holds a NUL."""
    if "\x00" in request.path:
        raise InvalidInput("the path contains a NUL character")
    _check_pairs(((key, "") for key in request.args), "query parameter name")
    if request.mimetype in FORM_TYPES:
        _check_pairs(request.form.items(multi=True), "form field")


def _check_pairs(pairs: Iterable[tuple[str, str]], where: str) -> None:
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise InvalidInput(f"a {where} contains a NUL character")


def register(app: Flask) -> None:
    app.before_request(check_request)
