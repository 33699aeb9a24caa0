"""The attendant page's words, from the gettext domain "attendant", in every language installed.

The page (static/attendant.js) keeps no words of its own: it asks GET /api/words once for the words
it lays out (PAGE_WORDS, by key), and the state carries the texts the agent composes (headline,
decisions, reasons) in every page language. A language is on the page when it has an "attendant"
catalogue, built in (tag_tools/locale) or in a directory named in CYLINDER_LOCALE_PATH; the language
button offers each by its own name.

Languages are keyed by their language part ("zh", "en", "es"), as the reason texts are. Two
catalogues of one language (zh_CN and zh_TW) would show as one, the first by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from tag_tools.messages import available_locales, filled, language_of, message, own_name, plural_message

DOMAIN = "attendant"
# The words the page itself lays out: keys in attendant.html (data-t) and t("...") / texts("...") in attendant.js.
PAGE_WORDS: tuple[str, ...] = (
    "page.title",
    "page.pump",
    "page.on_shift",
    "page.set",
    "page.cylinder",
    "page.due",
    "page.decision",
    "page.why",
    "page.fill_done",
    "page.new_vehicle",
    "page.override",
    "page.attendant_id",
    "page.supervisor_id",
    "page.supervisor_password",
    "page.override_reason",
    "page.submit",
    "page.override_done",
    "page.enforce",
    "page.monitor",
    "page.online",
    "page.offline",
    "page.pump_on",
    "page.pump_off",
    "page.list_separator",  # between a cylinder's reasons
    "page.disconnected",  # the page's own state when the agent cannot be reached or falls silent
    "page.disconnected_hint",
    "page.pump_unknown",
    "page.shift_saved",
    "page.failed",  # an action that failed without the agent saying why (a bug answered 500)
)


@dataclass(frozen=True)
class PageLanguage:
    code: str  # the language part of the locale: the key of every text sent to the page
    name: str  # the language's own name ("中文", "English", "español"), shown on the language button


def page_text(msgid: str, locale: str, **values: object) -> str:
    """One message of the domain (English when the locale lacks it), its {placeholders} filled from
    `values`. Code passes keys to it literally, so the catalogue test finds them by extracting calls."""
    return filled(message(locale, DOMAIN, msgid, msgid), values)


def page_plural(msgid: str, plural_msgid: str, n: int, locale: str) -> str:
    """A message with plural forms chosen by the locale's rules for `n`, its {n} filled."""
    return filled(plural_message(locale, DOMAIN, msgid, plural_msgid, n), {"n": n})


def page_languages() -> tuple[PageLanguage, ...]:
    """Every language with an attendant catalogue, in the order the language button cycles through."""
    return _languages(available_locales(DOMAIN))


@lru_cache(maxsize=8)
def _languages(locales: tuple[str, ...]) -> tuple[PageLanguage, ...]:
    codes = dict.fromkeys(language_of(locale) for locale in locales)
    return tuple(PageLanguage(code, own_name(code)) for code in codes)


def page_language(locale: str) -> str:
    """The page's key for a configured language: "zh_CN" and "zh" are both "zh"."""
    return language_of(locale)


def in_every_language(text: Callable[[str], str]) -> dict[str, str]:
    """`text(language)` for every page language, keyed by language: how the state carries the words
    the agent composes, so the page switches language without asking again."""
    return {language.code: text(language.code) for language in page_languages()}


def words(default_locale: str) -> dict[str, object]:
    """What GET /api/words answers: the default language, the languages on offer, and each page
    word in every one of them ({key: {language: text}})."""
    return {
        "language": page_language(default_locale),
        "languages": [{"code": language.code, "name": language.name} for language in page_languages()],
        "words": {key: in_every_language(partial(page_text, key)) for key in PAGE_WORDS},
    }
