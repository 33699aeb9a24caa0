"""Reason codes the station adds to tag_tools' own, and the words the attendant reads for them.

Codes, severities and which refusals a supervisor may override by default come from the reason
catalogue (tag_tools.reason_catalogue); the words come from its gettext catalogues, so the
attendant reads what the bureau's pages say. The constants below are only names for the codes the
agent raises or acts on; a test checks each is in the catalogue.
"""

from datetime import timedelta

from station_agent.page_words import page_languages
from tag_tools.messages import available_locales, language_of
from tag_tools.reason_catalogue import DOMAIN, catalogue, interval_text, reason_text

REGISTRATION_MISMATCH = "registration_mismatch"  # record names another vehicle than the session's
UNREGISTERED = "unregistered"  # registry does not know the cylinder
REFILLED_TOO_SOON = "refilled_too_soon"  # same cylinder filled within the minimum interval
CYLINDER_MISSING = "cylinder_missing"  # session window closed before all cylinders were read
AGENT_ERROR = "agent_error"  # the agent failed while judging this read: refused, stored, reported
CLOCK_UNSET = "clock_unset"  # the station's clock is not set (e.g. 1970 after a boot without time sync)
# The codes above (the agent's own, and the registry's it acts on): tests check each is catalogued.
STATION_CODES = (REGISTRATION_MISMATCH, UNREGISTERED, REFILLED_TOO_SOON, CYLINDER_MISSING, AGENT_ERROR, CLOCK_UNSET)

KNOWN_REASONS = frozenset(catalogue().codes)
# policy.overridable when the config does not say: the catalogue's overridable refusals.
OVERRIDABLE_BY_DEFAULT: tuple[str, ...] = catalogue().codes_where(overridable=True)


def text_for(code: str, language: str = "zh", *, refill_interval: timedelta | None = None) -> str:
    """Plain words for a reason code; an unknown code (from a newer registry) is shown as is.

    `refill_interval` is the policy's minimum refill interval, said in `refilled_too_soon`'s text.
    """
    params = {"interval": interval_text(refill_interval, language)} if refill_interval else {}
    return reason_text(code, language, **params)


def texts_for(code: str, *, refill_interval: timedelta | None = None) -> dict[str, str]:
    """The code and its words in every language with a catalogue, keyed by language ("zh", "en", ...)
    so the page switches language without asking the agent again: the page's languages, and any
    other with a reasons catalogue."""
    page = [language.code for language in page_languages()]
    languages = dict.fromkeys([*page, *(language_of(loc) for loc in available_locales(DOMAIN))])
    return {"code": code, **{lang: text_for(code, lang, refill_interval=refill_interval) for lang in languages}}
