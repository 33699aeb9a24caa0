"""The handheld verifier core in real Chromium (Debian's, through Playwright), on the shared vectors:
the modules are loaded from the registry's /verify/ static route (the handheld blueprint's, with
its Content-Security-Policy and nosniff headers), the vectors are run by the same runner as in Node
(tests/handheld/run_vectors.mjs), and every verdict, parse and decoder outcome must equal what
tag_tools gives. With CI=true a Chromium that cannot start fails the test instead of skipping it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, send_file

from registry_service.handheld.web import URL_PREFIX, blueprint
from tests.dashboard.browser import chromium_peer, serve
from tests.handheld.compare import differences, web_nfc_count

RUNNER = Path(__file__).resolve().parent / "run_vectors.mjs"
CORE_URL = f"{URL_PREFIX}/static/core/"
PAGE = "<!doctype html><html lang=en><meta charset=utf-8><title>handheld vectors</title><p>vectors</p></html>"


def vectors_app(vectors_file: Path) -> Flask:
    """The handheld blueprint's static route (the core) beside the vectors and their runner."""
    app = Flask(__name__)
    app.register_blueprint(blueprint, url_prefix=URL_PREFIX)

    @app.get("/vectors/")
    def page() -> Response:
        return Response(PAGE, mimetype="text/html")

    @app.get("/vectors/vectors.json")
    def data() -> Response:
        return send_file(vectors_file, mimetype="application/json")

    @app.get("/vectors/run_vectors.mjs")
    def runner() -> Response:
        return send_file(RUNNER, mimetype="text/javascript")

    return app


@pytest.fixture(scope="module")
def results(vectors_file: Path) -> Iterator[dict[str, Any]]:
    with serve(vectors_app(vectors_file)) as base_url, chromium_peer() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base_url}/vectors/")
        assert page.evaluate("() => window.isSecureContext && !!crypto.subtle"), "no WebCrypto on the page"
        raw = page.evaluate(
            """async (core) => {
                const { runVectors } = await import('/vectors/run_vectors.mjs');
                const vectors = await (await fetch('/vectors/vectors.json')).json();
                return JSON.stringify(await runVectors(vectors, core));
            }""",
            CORE_URL,
        )
        assert not errors, errors
        yield json.loads(raw)


def test_chromium_ran_the_vectors(vectors: dict[str, Any], results: dict[str, Any]) -> None:
    assert "Chrome/" in results["engine"], results["engine"]
    assert [c["name"] for c in results["cases"]] == [c["name"] for c in vectors["cases"]]
    assert not [c["name"] for c in results["cases"] if "crash" in c]
    assert web_nfc_count(results) >= 100


KINDS = ["warning reasons", "trust list", "status list", "case", "flip", "CBOR", "zlib", "X.509", "serial number"]


@pytest.mark.parametrize("kind", KINDS)
def test_chromium_agrees_with_python(vectors: dict[str, Any], results: dict[str, Any], kind: str) -> None:
    found = [d for d in differences(vectors, results) if d.startswith(kind)]
    assert not found, f"{len(found)} differences, the first: " + "\n".join(found[:10])


def test_every_hostile_input_is_refused_in_chromium(vectors: dict[str, Any], results: dict[str, Any]) -> None:
    hostile = [(c, r) for c, r in zip(vectors["cases"], results["cases"], strict=True) if c["hostile"]]
    assert len(hostile) >= 60 and all(r["decision"] == "refuse" for _, r in hostile)
    refused = [got for e, got in zip(vectors["cbor"], results["cbor"], strict=True) if not e["accept"]]
    assert len(refused) >= 1000 and all(got is False for got in refused)


def test_the_core_is_served_as_javascript_modules(vectors_file: Path) -> None:
    client = vectors_app(vectors_file).test_client()
    answer = client.get(f"{CORE_URL}verifier.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert (
        "script-src 'self'" in answer.headers["Content-Security-Policy"] and answer.headers["X-Content-Type-Options"] == "nosniff"
    )
