"""The handheld page's words: the gettext domain "handheld" (tag_tools/locale/<locale>/LC_MESSAGES/
handheld.po, or an operator's in CYLINDER_LOCALE_PATH), read through tag_tools.messages like every
other screen's; reason texts are the reason catalogue's (tag_tools/reason_catalogue.py), the words
the attendant's screen and the bureau's pages show.

The page is rendered in one language (the dashboard's rule: ?lang= beats the `lang` cookie, else
zh_CN; registry_service/dashboard/languages.py) and carries its words as a JSON block for its
script, so a verdict read offline is worded without asking anyone. PAGE_WORDS is the one list of
keys: tests/handheld/test_words.py checks the catalogues hold exactly these and the page and its
scripts ask for no other.
"""

from __future__ import annotations

from typing import Final

from tag_tools import messages
from tag_tools.reason_catalogue import catalogue, reason_text

DOMAIN: Final = "handheld"
PAGE_WORDS: Final[tuple[str, ...]] = (
    "app_name",
    "app_short_name",
    "app_description",
    "language",
    "noscript",
    "officer_sign_in",
    "signed_in_as",
    "sign_out",
    "anonymous_note",
    "install",
    "scan_heading",
    "scan_button",
    "scan_hint",
    "scanning",
    "nfc_missing",
    "nfc_refused",
    "nfc_read_error",
    "station_note",
    "verdict_heading",
    "verdict_none",
    "verdict.allow",
    "verdict.allow_with_warning",
    "verdict.refuse",
    "verdict.status_unknown",
    "verdict.not_found",
    "source.tag",
    "source.lookup",
    "checked_at",
    "field.next_due",
    "field.cylinder_id",
    "field.tag_uid",
    "field.inspected",
    "field.end_of_life",
    "field.result",
    "field.centre",
    "field.status",
    "result.passed",
    "result.failed",
    "status.checked",
    "status.unchecked",
    "reasons_heading",
    "lookup_heading",
    "lookup_label",
    "lookup_hint",
    "lookup_button",
    "lookup_offline",
    "lookup_limited",
    "lookup_invalid",
    "lookup_failed",
    "lists_heading",
    "lists_loading",
    "lists_missing",
    "trust_list_age",
    "trust_list_bad",
    "status_list_age",
    "status_list_bad",
    "lists_updated",
    "offline",
    "officer_heading",
    "place_label",
    "record_button",
    "record_case_button",
    "queue_waiting",
    "queue_sign_in",
    "queued",
    "recorded",
    "recorded_case",
    "record_refused",
)


def locales() -> tuple[str, ...]:
    """Every locale with a handheld catalogue, e.g. ("en", "zh_CN")."""
    return messages.available_locales(DOMAIN)


def resolve(value: str) -> str | None:
    """The installed locale serving `value` ("zh" → "zh_CN", "en-GB" → "en"), None if none does."""
    return messages.resolve_locale(value, DOMAIN)


def page_words(locale: str) -> dict[str, str]:
    """Every page word in `locale` (English where its catalogue lacks one)."""
    return {key: messages.message(locale, DOMAIN, key, key) for key in PAGE_WORDS}


def reason_texts(locale: str) -> dict[str, str]:
    """Every reason code's words in `locale`, as /verify/reasons/<locale>.json serves them."""
    return {code: reason_text(code, locale) for code in catalogue().codes}
