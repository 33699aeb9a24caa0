"""The handheld verifier (issue 18, docs/handheld.md): a progressive web app at /verify/ that reads a
cylinder's tag with Web NFC and verifies it in the phone's browser, offline, against the trust list
and status lists it keeps; a manual lookup where the phone cannot read tags; and a grid officer's
record of the check (a patrol observation, optionally opening a case).

- web.py: the /verify blueprint, its routes and headers; the views in pages.py (page, service
  worker, manifest, icons), documents.py (root, trust list, status lists, reason texts) and
  lookup.py (the anonymous lookup, limited per client by limiter.py); words.py (the page's gettext
  domain "handheld"); paths.py (where the app lives).
- officer.py: /dashboard/handheld/, the signed-in officer's side (cookie session and CSRF).
- api.py: GET /api/v1/handheld-checks.
- static/: the page's scripts and style; static/core/ is the verifier core (plain ES modules, no
  DOM, shared with Node and a WeChat mini-program), worker/sw.js the service worker.
"""

from __future__ import annotations

from flask import Flask

from registry_service.handheld.limiter import LookupLimiter


def register_handheld(app: Flask, limiter: LookupLimiter | None = None) -> None:
    """Mount the page at /verify, the officer's side at /dashboard/handheld and the API read."""
    from registry_service.handheld import api, lookup, officer
    from registry_service.handheld.web import URL_PREFIX, blueprint

    lookup.install_limiter(app, limiter)
    app.register_blueprint(blueprint, url_prefix=URL_PREFIX)
    app.register_blueprint(officer.blueprint, url_prefix=officer.URL_PREFIX)
    app.register_blueprint(api.blueprint, url_prefix="/api/v1")
