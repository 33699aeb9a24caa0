"""Words people read about a tag: claim labels and decisions, from the gettext domain "tag".

Shared by `cylinder-tag verify`, `show` and `read` and by the station's attendant screen, so a
decision reads the same everywhere. The texts live in `tag_tools/locale/<locale>/LC_MESSAGES/tag.po`
(tag_tools.messages finds and loads them; a missing text falls back to English). Reason texts are not
here: tag_tools.reason_catalogue serves them from their own domain.

`locale` is anything tag_tools.messages resolves: "zh", "zh_CN", "en", "es", ...
"""

from dataclasses import fields

from tag_tools.claims import CylinderRecord
from tag_tools.messages import message
from tag_tools.reason_catalogue import reason_text as catalogue_reason_text
from tag_tools.verdict import Decision, Reason

DOMAIN = "tag"
DEFAULT_LOCALE = "zh"
# Every claim a record carries has a label (the names CylinderRecord.to_json uses).
CLAIM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(CylinderRecord))


def tag_text(msgid: str, locale: str = DEFAULT_LOCALE) -> str:
    """One message of the domain by its key. Code passes keys to it literally, so the catalogue test
    finds every key by extracting the calls (the families below are computed, and listed by msgids())."""
    return message(locale, DOMAIN, msgid, msgid)


def claim_msgid(name: str) -> str:
    return f"claim.{name}"


def decision_msgid(decision: Decision) -> str:
    return f"decision.{decision.value}"


def dynamic_msgids() -> frozenset[str]:
    """The keys made from names rather than written in a call: one per claim and per decision."""
    return frozenset({*(claim_msgid(n) for n in CLAIM_NAMES), *(decision_msgid(d) for d in Decision)})


def claim_label(name: str, locale: str = DEFAULT_LOCALE) -> str:
    """A claim's label; a claim this version has no label for (from a newer record) shows its name."""
    return message(locale, DOMAIN, claim_msgid(name), name)


def decision_text(decision: Decision, locale: str = DEFAULT_LOCALE) -> str:
    return tag_text(decision_msgid(decision), locale)


def reason_text(reason: Reason, locale: str = DEFAULT_LOCALE) -> str:
    return catalogue_reason_text(reason.value, locale)
