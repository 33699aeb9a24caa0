"""The handheld page's words come from the "handheld" gettext catalogues: zh_CN and en complete, no
message unused, the page and its scripts ask for exactly PAGE_WORDS, and they hold no words of their
own (a new language is a catalogue, no code)."""

from __future__ import annotations

import re
from pathlib import Path

from registry_service.handheld.words import DOMAIN, PAGE_WORDS
from tests.catalogues import assert_catalogues_complete

HANDHELD = Path(__file__).resolve().parents[2] / "registry_service" / "handheld"
PAGE_SCRIPTS = ("app.js", "view.js", "lists.js", "queue.js", "nfc.js", "words.js")
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
# Keys the scripts build at run time: `source.${result.source}` (tag, lookup) and
# `result.${record.result}` (the core's record results, core/claims.js RESULTS).
BUILT = {"source.tag", "source.lookup", "result.passed", "result.failed"}
# The web app manifest's words (pages.py).
MANIFEST = {"app_name", "app_short_name", "app_description"}


def asked_for() -> set[str]:
    template = (HANDHELD / "templates" / "handheld" / "index.html").read_text(encoding="utf-8")
    keys = set(re.findall(r"\bt\('([^']+)'\)", template))
    for name in PAGE_SCRIPTS:
        script = (HANDHELD / "static" / name).read_text(encoding="utf-8")
        keys |= set(re.findall(r'\bt\(\s*"([^"]+)"', script))
        keys |= set(re.findall(r'"((?:verdict|field)\.[a-z_]+)"', script))  # headline() and field() name them whole
    return keys | BUILT | MANIFEST


def test_handheld_catalogues_are_complete_and_nothing_unused() -> None:
    assert_catalogues_complete(DOMAIN, set(PAGE_WORDS))


def test_the_page_asks_for_exactly_the_catalogues_words() -> None:
    assert asked_for() == set(PAGE_WORDS)


def test_the_page_and_its_scripts_hold_no_words_of_a_language() -> None:
    for path in [HANDHELD / "templates" / "handheld" / "index.html", *(HANDHELD / "static" / n for n in PAGE_SCRIPTS)]:
        assert not CJK.search(path.read_text(encoding="utf-8")), f"{path.name} holds words of a language"
