"""What makes /verify/ an installable, offline app, checked without a browser: the manifest and its
icons (real PNGs of the sizes it states), the service worker (served with its scope, listing every
file of the app and the page in every language, each of which answers), and the page (its words
for its scripts, no inline script for the CSP to refuse)."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from registry_service.app import create_app
from registry_service.config import RegistryConfig
from registry_service.handheld import icons, pages
from registry_service.handheld.words import PAGE_WORDS, locales


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    yield create_app(RegistryConfig(database_url="sqlite://"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_manifest_makes_an_installable_app_in_the_readers_language(client: FlaskClient) -> None:
    manifest = client.get("/verify/manifest.webmanifest")
    assert manifest.content_type.startswith("application/manifest+json")
    document = manifest.get_json(force=True)
    assert (document["start_url"], document["scope"], document["display"]) == ("/verify/", "/verify/", "standalone")
    assert document["lang"] == "zh-CN" and document["name"] == "气瓶核验"
    assert client.get("/verify/manifest.webmanifest?lang=en").get_json(force=True)["name"] == "Cylinder check"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in document["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in document["icons"]:
        answer = client.get(icon["src"])
        assert answer.status_code == 200 and answer.content_type == "image/png"
        width, height = png_size(answer.data)
        assert f"{width}x{height}" == icon["sizes"]
        assert client.get(icon["src"], headers={"If-None-Match": answer.headers["ETag"]}).status_code == 304
    assert client.get("/verify/icons/icon-1.png").status_code == 404
    with pytest.raises(ValueError):
        icons.icon_png(64)


def test_the_service_worker_caches_every_file_of_the_app(client: FlaskClient) -> None:
    worker = client.get("/verify/sw.js")
    assert worker.headers["Service-Worker-Allowed"] == "/verify/" and worker.headers["Cache-Control"] == "no-cache"
    first_line = worker.get_data(as_text=True).split("\n", 1)[0]
    config = json.loads(re.fullmatch(r"self\.HANDHELD = (.*);", first_line).group(1))  # type: ignore[union-attr]
    assert config["version"] == pages.version() and config["locales"] == list(locales()) == ["en", "zh_CN"]
    shell = set(config["shell"])
    assert {f"/verify/static/{name}" for name in pages.static_files()} <= shell
    assert {"/verify/static/core/verifier.js", "/verify/static/app.js", "/verify/?lang=zh_CN", "/verify/?lang=en"} <= shell
    for url in shell:
        assert client.get(url).status_code == 200, url


def test_the_page_carries_its_words_and_no_inline_script(client: FlaskClient) -> None:
    html = client.get("/verify/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    block = re.search(r'<script type="application/json" id="handheld-words">(.*?)</script>', html, re.S)
    assert block
    words = json.loads(block.group(1))
    assert words["locale"] == "en" and set(words["words"]) == set(PAGE_WORDS)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert all(
        'type="application/json"' in attributes or (src and not body.strip())
        for attributes, body in scripts
        for src in ["src=" in attributes]
    )
    assert "<" not in block.group(1)  # a word cannot close the block
    assert client.get("/verify/?lang=xx").get_data(as_text=True).startswith('<!doctype html>\n<html lang="zh-CN">')
