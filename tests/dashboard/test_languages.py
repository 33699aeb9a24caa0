"""The dashboard speaks any language that has a "dashboard" catalogue: ?lang= beats the cookie,
zh_CN otherwise; the switcher lists every installed language by its own name. A Spanish catalogue in
CYLINDER_LOCALE_PATH is enough for Spanish pages, with English for what it does not translate yet."""

from __future__ import annotations

import re
from pathlib import Path

import flask_babel  # type: ignore[import-untyped]
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tag_tools.messages import LOCALE_PATH_ENV
from tests.dashboard.helpers import sign_in

# A translator's first draft: three messages, one of them plural; everything else falls back to English.
SPANISH_STUB = """\
msgid ""
msgstr ""
"Language: es\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "overview"
msgstr "Resumen"

msgid "outcome.refused"
msgstr "Rechazado"

msgid "results"
msgid_plural "results.plural"
msgstr[0] "{count} intento"
msgstr[1] "{count} intentos"
"""
SWITCHER = re.compile(r'<nav class="langs".*?</nav>', re.S)


@pytest.fixture
def bureau(client: FlaskClient) -> FlaskClient:
    assert sign_in(client, "bureau").status_code == 302
    return client


@pytest.fixture
def spanish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tag_tools.messages caches per search path, so this new directory is read afresh.
    folder = tmp_path / "locale" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "dashboard.po").write_text(SPANISH_STUB, encoding="utf-8")
    monkeypatch.setenv(LOCALE_PATH_ENV, str(tmp_path / "locale"))


def switcher(html: str) -> list[tuple[str, str, bool]]:
    """The switcher's entries: (hreflang, name, is the current one)."""
    found = SWITCHER.search(html)
    assert found, "every page has the language switcher"
    entries = re.findall(r'<a class="lang( on)?" href="[^"]*" hreflang="([^"]+)"[^>]*>([^<]+)</a>', found.group(0))
    return [(tag, name, bool(on)) for on, tag, name in entries]


def test_chinese_by_default_with_every_installed_language_offered(bureau: FlaskClient) -> None:
    html = bureau.get("/dashboard/overview").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "<h1>总览" in html
    assert switcher(html) == [("en", "English", False), ("zh-CN", "中文", True)]


def test_query_beats_cookie_and_unknown_languages_are_ignored(bureau: FlaskClient) -> None:
    english = bureau.get("/dashboard/overview?lang=en")
    assert "lang=en;" in english.headers["Set-Cookie"]
    assert bureau.get("/dashboard/overview?lang=zh").headers["Set-Cookie"].startswith("lang=zh_CN;")  # short tags resolve
    assert "<h1>总览" in bureau.get("/dashboard/overview").get_data(as_text=True)  # the cookie now says zh_CN
    bureau.get("/dashboard/overview?lang=en")
    unknown = bureau.get("/dashboard/overview?lang=fr")
    assert "Set-Cookie" not in unknown.headers and '<html lang="en">' in unknown.get_data(as_text=True)  # the cookie's
    assert '<html lang="zh-CN">' in bureau.get("/dashboard/overview?lang=zh-CN").get_data(as_text=True)


def test_flask_babel_picks_the_locale_and_reads_the_same_catalogues(app: Flask) -> None:
    with app.test_request_context("/dashboard/overview?lang=en"):
        assert str(flask_babel.get_locale()) == "en" and flask_babel.gettext("overview") == "Overview"
    with app.test_request_context("/dashboard/overview", headers={"Cookie": "lang=xx"}):
        assert flask_babel.get_locale().language == "zh" and flask_babel.gettext("outcome.refused") == "拒绝加气"


def test_the_switcher_keeps_the_page_and_its_query(bureau: FlaskClient) -> None:
    html = bureau.get("/dashboard/attempts?outcome=refused&page=2").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" hreflang="en"', html)
    assert link and link.group(1).replace("&amp;", "&") == "/dashboard/attempts?outcome=refused&page=2&lang=en"


def test_a_spanish_catalogue_alone_adds_spanish(spanish: None, bureau: FlaskClient) -> None:
    html = bureau.get("/dashboard/overview?lang=es").get_data(as_text=True)
    assert '<html lang="es">' in html
    assert "<h1>Resumen" in html and "Rechazado" in html  # the stub's words
    assert "Overridden" in html and "Problem attempts per day" in html  # not translated yet: English
    assert "总览" not in html
    assert switcher(html) == [("en", "English", False), ("es", "Español", True), ("zh-CN", "中文", False)]
    attempts = bureau.get("/dashboard/attempts?outcome=refused").get_data(as_text=True)  # the cookie keeps Spanish
    count = re.search(r'<p class="count" id="count">([^<]+)</p>', attempts)
    assert count and re.fullmatch(r"[\d.]+ intentos", count.group(1))  # Spanish plural and digit grouping
    assert re.search(r"\d+ nov 2026, \d+:\d\d:\d\d", attempts)  # CLDR's Spanish dates, no code for them
