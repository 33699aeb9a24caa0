"""The attendant page's words come from the "attendant" gettext catalogues: the page keeps none, the
agent serves them (GET /api/words, behind the page's own checks) and composes the rest in the state,
every installed language is offered by its own name, and a Spanish catalogue alone adds Spanish."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract

from station_agent import view
from station_agent.config import parse_config
from station_agent.errors import ConfigError
from station_agent.page_words import DOMAIN, PAGE_WORDS
from station_agent.web import AttendantServer
from tests.catalogues import assert_catalogues_complete
from tests.station_agent.booth_http import BoothClient, request
from tests.station_agent.conftest import OVERDUE, Station, config_document, uid_for, vehicle_claims
from tests.station_agent.spanish import install_spanish
from tests.tag_tools.extraction import ROOT, msgid, python_msgids

STATIC = ROOT / "station_agent" / "static"
# The translation functions of the domain, as Babel's extractor takes them (argument positions of the msgids).
PYTHON_KEYWORDS: dict[str, Any] = {"page_text": None, "page_plural": (1, 2)}
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def page_keys() -> set[str]:
    """The keys the page asks for: t("...") and texts("...") in attendant.js, data-t and data-p in attendant.html."""
    with (STATIC / "attendant.js").open("rb") as script:
        keys = {msgid(m) for _, m, _, _ in extract("javascript", script, keywords={"t": None, "texts": None})}
    return keys | set(re.findall(r'data-[tp]="([^"]+)"', (STATIC / "attendant.html").read_text(encoding="utf-8")))


def test_attendant_catalogues_are_complete_and_nothing_unused() -> None:
    assert_catalogues_complete(DOMAIN, python_msgids(PYTHON_KEYWORDS) | view.dynamic_msgids() | set(PAGE_WORDS))


def test_the_page_asks_for_exactly_the_words_the_agent_sends() -> None:
    assert page_keys() == set(PAGE_WORDS)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_keeps_no_words() -> None:
    html = (STATIC / "attendant.html").read_text(encoding="utf-8")
    parser = _Text()
    parser.feed(html)
    assert not re.search(r"\w", "".join(parser.text)), "text in attendant.html: give it a data-t key"
    for name in ("attendant.html", "attendant.js"):
        assert not CJK.search((STATIC / name).read_text(encoding="utf-8")), f"{name} holds words of a language"


@pytest.fixture
def served(make_station: Callable[..., Station]) -> Iterator[tuple[Any, AttendantServer]]:
    station = make_station()
    server = AttendantServer(station.agent, "127.0.0.1", 0).start()
    yield station, server
    server.stop()


def test_words_are_served_behind_the_page_checks(served: tuple[Any, AttendantServer]) -> None:
    _, server = served
    answer = BoothClient(server.url).get("/api/words")
    assert answer.status == 200 and answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
    words = answer.json()
    assert words["language"] == "zh"
    assert words["languages"] == [{"code": "en", "name": "English"}, {"code": "zh", "name": "中文"}]
    assert set(words["words"]) == set(PAGE_WORDS)
    assert words["words"]["page.pump"] == {"zh": "加气枪", "en": "Pump"}
    assert words["words"]["page.list_separator"] == {"zh": "；", "en": "; "}
    port = server.httpd.server_address[1]
    assert request(server.url, "GET", "/api/words").json()["rule"] == "token"  # no cookie: nothing to read
    assert request(server.url, "GET", "/api/words", host=f"evil.test:{port}").status == 421


def test_the_state_carries_composed_texts_in_every_language(served: tuple[Any, AttendantServer]) -> None:
    station, _ = served
    assert station.agent.snapshot()["headline"] == {"zh": "请读取气瓶标签", "en": "Read the cylinder tags"}
    station.read(uid_for(0), **vehicle_claims(0, 2))
    state = station.agent.snapshot()
    assert state["headline"] == {
        "zh": "请继续读取本车其他气瓶 (已读 1/2)",
        "en": "Read the vehicle's other cylinders (read 1/2)",
    }
    assert state["session"]["cylinders"][0]["decision_text"] == {"zh": "可以加气", "en": "Fill"}
    assert state["undelivered_text"] is None
    station.agent.undelivered = 1
    assert station.agent.snapshot()["undelivered_text"] == {
        "zh": "1 条记录无法上传，已报告监管平台",
        "en": "1 scan record could not be delivered; reported to the bureau",
    }
    station.agent.undelivered = 3
    assert station.agent.snapshot()["undelivered_text"]["en"] == "3 scan records could not be delivered; reported to the bureau"


@pytest.mark.parametrize("language", ["zh", "zh_CN", "en"])
def test_the_config_takes_any_installed_language(tmp_path: Path, language: str) -> None:
    document = config_document(tmp_path, tmp_path / "root.pem")
    document["attendant"]["language"] = language
    assert parse_config(document).language == language


def test_the_config_names_the_installed_languages_when_one_is_missing(tmp_path: Path) -> None:
    document = config_document(tmp_path, tmp_path / "root.pem")
    document["attendant"]["language"] = "es"
    with pytest.raises(ConfigError, match=r"attendant.language must be an installed language \(en, zh, zh_CN\), not 'es'"):
        parse_config(document)


def test_a_spanish_catalogue_alone_puts_spanish_on_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_station: Callable[..., Station]
) -> None:
    install_spanish(tmp_path / "locale", monkeypatch)
    document = config_document(tmp_path / "state", tmp_path / "root.pem")
    document["attendant"]["language"] = "es"
    assert parse_config(document).language == "es"

    station = make_station()
    server = AttendantServer(station.agent, "127.0.0.1", 0).start()
    try:
        client = BoothClient(server.url)
        words = client.get("/api/words").json()
        assert {"code": "es", "name": "Español"} in words["languages"]
        assert words["words"]["page.pump"] == {"zh": "加气枪", "en": "Pump", "es": "Surtidor"}
        assert words["words"]["page.cylinder"]["es"] == "Cylinder"  # not translated yet: English
        station.read(uid_for(0), **vehicle_claims(0, 2))
        assert client.state()["headline"]["es"] == "Lea los demás cilindros del vehículo (leídos 1/2)"
        station.read(uid_for(1), **vehicle_claims(1, 2, **OVERDUE))
        state = client.state()
        assert state["headline"]["es"] == "No cargar"
        cylinders = state["session"]["cylinders"]
        assert [c["decision_text"]["es"] for c in cylinders] == ["Cargar", "No cargar"]
        assert cylinders[1]["reasons"][0]["es"] == "Inspección periódica vencida"
        station.agent.undelivered = 2  # no Spanish for it yet: the English plural
        assert client.state()["undelivered_text"]["es"] == "2 scan records could not be delivered; reported to the bureau"
    finally:
        server.stop()
