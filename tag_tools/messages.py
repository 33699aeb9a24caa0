"""Translated words from gettext catalogues (Babel): one search path and one loader for every package.

Catalogues are kept as `.po` source only, at `<dir>/<locale>/LC_MESSAGES/<domain>.po`, and compiled in
memory with Babel's own compiler on first use. So there is no `.mo` file to build at install time or
to go stale beside its source; a directory that ships only a compiled `.mo` is read as well.

The built-in catalogues live in `tag_tools/locale/`. A deployment adds a language (or rewords one) by
putting catalogues in a directory named in CYLINDER_LOCALE_PATH (several joined with os.pathsep):
those directories are searched first, and nothing in the code lists the languages.

A message missing from the asked-for locale falls back to English (the source language, which is
complete by test), then to the caller's default. One domain per audience: "reasons" (every screen),
"tag" (claim labels and decisions: the CLI and the attendant's screen), "attendant" (the booth page),
"dashboard" (the bureau's pages, through Flask-Babel), "clerk" (a clerk's CSV rows) and "handheld"
(the phone verifier at /verify/, registry_service/handheld).
"""

from __future__ import annotations

import gettext
import io
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).with_name("locale")
LOCALE_PATH_ENV = "CYLINDER_LOCALE_PATH"
SOURCE_LOCALE = "en"


def search_path() -> tuple[Path, ...]:
    """Directories holding catalogues, most specific first: the operator's, then the built-in one."""
    extra = [Path(p) for p in os.environ.get(LOCALE_PATH_ENV, "").split(os.pathsep) if p]
    return (*extra, LOCALE_DIR)


def _catalogue_file(directory: Path, locale: str, domain: str) -> Path | None:
    folder = directory / locale / "LC_MESSAGES"
    for suffix in (".po", ".mo"):
        candidate = folder / f"{domain}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def available_locales(domain: str) -> tuple[str, ...]:
    """Every locale (directory name, e.g. "zh_CN", "en", "es") with a catalogue of `domain`, sorted."""
    return _available_locales(domain, search_path())


@lru_cache(maxsize=16)
def _available_locales(domain: str, path: tuple[Path, ...]) -> tuple[str, ...]:
    # Cached per search path: the pages ask on every refresh; a catalogue added later needs a restart.
    found: set[str] = set()
    for directory in path:
        if directory.is_dir():
            found.update(d.name for d in directory.iterdir() if _catalogue_file(directory, d.name, domain))
    return tuple(sorted(found))


def locale_names(domain: str) -> tuple[str, ...]:
    """What a `--lang` option or a config may name for `domain`: each locale with a catalogue and its
    language ("zh_CN" and "zh"), sorted. Every one resolves to a catalogue of its own (see _resolve)."""
    locales = available_locales(domain)
    return tuple(sorted({*locales, *(language_of(locale) for locale in locales)}))


def own_name(locale: str) -> str:
    """A language's name in itself, for a menu or a button ("English", "中文", "Español"): the
    language only, so "zh_CN" reads "中文" on every screen; the code when CLDR does not know it."""
    try:
        name = Locale.parse(locale.replace("-", "_")).get_language_name() or locale
    except (ValueError, UnknownLocaleError):
        return locale
    return name[:1].upper() + name[1:]  # standing alone, not mid-sentence


def language_of(locale: str) -> str:
    """The language part of a locale: "zh_CN" → "zh". The pages key their texts by it."""
    return locale.replace("-", "_").split("_", 1)[0]


def _resolve(locale: str, domain: str) -> str | None:
    """The catalogue locale that serves `locale`: exact ("zh_CN"), its language ("zh_CN" → "zh"), or
    the first locale of that language ("zh" → "zh_CN"), so the pages' short language tags work."""
    wanted = locale.replace("-", "_")
    known = available_locales(domain)
    if wanted in known:
        return wanted
    language = language_of(wanted)
    if language in known:
        return language
    return next((k for k in known if language_of(k) == language), None)


def resolve_locale(locale: str, domain: str) -> str | None:
    """The installed locale of `domain` that serves `locale` ("zh" → "zh_CN"), None if none does: how
    a page checks a ?lang= value against the catalogues (the same rule translations() follows)."""
    return _resolve(locale, domain)


def _load_file(path: Path, locale: str, domain: str) -> Translations:
    if path.suffix == ".mo":
        with path.open("rb") as handle:
            return Translations(handle, domain)
    try:
        parsed_locale: Locale | None = Locale.parse(locale)
    except (ValueError, UnknownLocaleError):
        parsed_locale = None  # plural rules then come from the file's own Plural-Forms header
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=parsed_locale, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled, domain)


@lru_cache(maxsize=64)
def _translations(locale: str | None, domain: str, path: tuple[Path, ...]) -> gettext.NullTranslations:
    chain: gettext.NullTranslations = gettext.NullTranslations()
    # Built from the least to the most specific: English first, then the asked-for locale on top.
    for wanted in dict.fromkeys(filter(None, (SOURCE_LOCALE, locale))):
        for directory in reversed(path):
            found = _catalogue_file(directory, wanted, domain)
            if found is not None:
                layer = _load_file(found, wanted, domain)
                layer.add_fallback(chain)
                chain = layer
    return chain


def translations(locale: str, domain: str) -> gettext.NullTranslations:
    """gettext translations of `domain` for `locale` ("zh", "zh_CN", "en", "es", ...), with fallbacks."""
    return _translations(_resolve(locale, domain), domain, search_path())


def filled(text: str, values: Mapping[str, object]) -> str:
    """`text` with its {placeholders} filled from `values`. A catalogue (an operator's, perhaps) whose
    translation names a placeholder the code does not give, or is malformed, still shows its words:
    a wrong translation must never cost the reader the page, the screen or the command."""
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return text


def message(locale: str, domain: str, msgid: str, default: str) -> str:
    """One message; `default` when no catalogue, not even English, has it."""
    text = translations(locale, domain).gettext(msgid)
    return default if text == msgid else text


def plural_message(locale: str, domain: str, msgid: str, plural_msgid: str, n: int) -> str:
    """One message with plural forms chosen by the locale's rules for `n` (still to be formatted)."""
    return translations(locale, domain).ngettext(msgid, plural_msgid, n)
