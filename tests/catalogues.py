"""One check for every gettext domain: zh_CN and en complete, no message unused, placeholders agree.

Each domain's test says which msgids its code can ask for (`wanted`); this module reads the `.po`
files with Babel and fails on a missing, unused, empty or fuzzy message, or on a translation whose
{placeholders} differ from the English source.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from tag_tools.messages import LOCALE_DIR

PLACEHOLDER = re.compile(r"\{(\w*)\}")
REQUIRED_LOCALES = frozenset({"zh_CN", "en"})


def po_files(domain: str, directory: Path = LOCALE_DIR) -> list[Path]:
    return sorted(directory.glob(f"*/LC_MESSAGES/{domain}.po"))


def messages(path: Path) -> list[Message]:
    with path.open("rb") as handle:
        return [m for m in read_po(handle) if m.id]


def key(message: Message) -> str:
    """A message's msgid (the singular one of a plural message)."""
    return message.id if isinstance(message.id, str) else str(message.id[0])


def strings(message: Message) -> tuple[str, ...]:
    """A message's translation, or each plural form of it."""
    value = message.string
    return tuple(str(v) for v in value) if isinstance(value, (tuple, list)) else (str(value or ""),)


def placeholders(message: Message) -> set[str]:
    return {p for s in strings(message) for p in PLACEHOLDER.findall(s)}


def assert_catalogues_complete(domain: str, wanted: frozenset[str] | set[str]) -> None:
    """Every built-in catalogue of `domain` has exactly `wanted`, translated, with English's placeholders."""
    files = po_files(domain)
    assert {f.parts[-3] for f in files} >= REQUIRED_LOCALES, f"{domain}: zh_CN and en catalogues required"
    english = {key(m): m for m in messages(LOCALE_DIR / "en" / "LC_MESSAGES" / f"{domain}.po")}
    for path in files:
        found = messages(path)
        ids = {key(m) for m in found}
        assert not wanted - ids, f"{path}: missing {sorted(wanted - ids)}"
        assert not ids - wanted, f"{path}: unused {sorted(ids - wanted)}"
        for m in found:
            assert all(strings(m)) and not m.fuzzy, f"{path}: {key(m)} untranslated or fuzzy"
            assert placeholders(m) == placeholders(english[key(m)]), f"{path}: {key(m)} placeholders differ from en"
