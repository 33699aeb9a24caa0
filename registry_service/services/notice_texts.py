"""The words of an owner notice and of the case-timeline notes about it, from the gettext domain
"notices" (tag_tools/locale/<locale>/LC_MESSAGES/notices.po; zh_CN unless configured otherwise).

Owners' language is not recorded, so every notice goes out in the registry's notice language
(REGISTRY_NOTICE_LANGUAGE). Messages are looked up by key ("due_soon.text"); the test of the domain
extracts the keys from this module, so each one is written out below, never assembled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tag_tools.messages import filled, message
from tag_tools.reason_catalogue import reason_text

DOMAIN: Final = "notices"
DEFAULT_LANGUAGE: Final = "zh_CN"

# kind -> (subject key, text key): the e-mail's subject and body; an SMS is the text alone.
_KEYS: Final = {
    "due_soon": ("due_soon.subject", "due_soon.text"),
    "overdue": ("overdue.subject", "overdue.text"),
    "refused": ("refused.subject", "refused.text"),
}
CASE_NO_CONSENT: Final = "case.no_consent"
CASE_QUEUED: Final = "case.queued"
CASE_SENT: Final = "case.sent"
CASE_FAILED: Final = "case.failed"


@dataclass(frozen=True)
class NoticeWords:
    subject: str
    text: str


def words(
    kind: str,
    language: str,
    *,
    plate: str,
    cylinder_id: str,
    due_on: str = "",
    case_number: str = "",
    reason: str | None = None,
) -> NoticeWords:
    """Subject and text of a notice of `kind` ("due_soon", "overdue", "refused") in `language`."""
    subject_key, text_key = _KEYS[kind]
    values = {
        "plate": plate,
        "cylinder_id": cylinder_id,
        "due_on": due_on,
        "case_number": case_number,
        # The refusal reason in the owner's words, from the reasons catalogue every screen uses.
        "reason": reason_text(reason, language) if reason else "",
    }
    return NoticeWords(
        subject=filled(message(language, DOMAIN, subject_key, subject_key), values),
        text=filled(message(language, DOMAIN, text_key, text_key), values),
    )


def case_note(key: str, language: str, **values: object) -> str:
    """A case-timeline note about the owner notice (CASE_NO_CONSENT, CASE_QUEUED, ...)."""
    return filled(message(language, DOMAIN, key, key), values)
