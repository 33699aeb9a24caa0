"""The handheld verifier's blueprint at /verify/: its routes and the headers every answer carries.

Everything here is public: the page (a progressive web app), its service worker, the signed
documents it verifies tags against, the reason texts and the anonymous manual lookup. What a
signed-in officer does goes to /dashboard/handheld/ (officer.py), where the dashboard's cookie
session and CSRF token live. The views are plain functions in pages.py, documents.py and lookup.py;
this module puts them on the blueprint, so importing it gives the whole blueprint (a blueprint takes
no routes once an app has registered it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from flask import Blueprint, Response

from registry_service.handheld import documents, lookup, pages
from registry_service.handheld.paths import URL_PREFIX

__all__ = ["CSP", "URL_PREFIX", "blueprint"]

# No inline script or style, nothing from elsewhere: the core verifies with WebCrypto in the page.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ROUTES: Final[tuple[tuple[str, Callable[..., Any], str], ...]] = (
    ("/", pages.index, "GET"),
    ("/sw.js", pages.service_worker, "GET"),
    ("/manifest.webmanifest", pages.manifest, "GET"),
    ("/icons/<name>", pages.icon, "GET"),
    ("/root.der", documents.root_certificate, "GET"),
    ("/trust-list", documents.trust_list, "GET"),
    ("/status-lists", documents.status_list_index, "GET"),
    ("/status-lists/<int:list_id>", documents.status_list, "GET"),
    ("/reasons/<lang>.json", documents.reasons, "GET"),
    ("/lookup", lookup.lookup, "POST"),
)

blueprint = Blueprint("handheld", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
for rule, view, method in ROUTES:
    blueprint.add_url_rule(rule, view_func=view, methods=[method])


@blueprint.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-cache")  # always revalidated: the ETag makes it cheap
    return response
