"""The message keys the product's Python asks a gettext domain for, found by Babel's extractor: each
domain's test passes its translation functions as keywords (argument positions of the msgids), and
adds the key families its code computes (declared once in the code) to get what the catalogues must hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("tag_tools", "station_agent", "registry_service", "list_signer", "cylinder_demo")


def msgid(message: str | tuple[str, ...]) -> str:
    """A message's key: the singular of a plural message."""
    return message if isinstance(message, str) else message[0]


def python_msgids(keywords: dict[str, Any]) -> set[str]:
    """Every key the product's Python passes literally to one of `keywords`."""
    return {
        msgid(message)
        for package in PACKAGES
        for _, _, message, _, _ in extract_from_dir(ROOT / package, [("**.py", "python")], keywords=keywords)
    }
