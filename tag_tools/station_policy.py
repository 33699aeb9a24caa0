"""The central station policy: what the bureau decides for a station (monitor or enforce, the
warning window, which refusals a supervisor may override, the minimum refill interval), signed by
the list signer and carried to the station through the untrusted registry (schemas/station-policy.md).

The document is a COSE_Sign1 by the list signer (the status-list signer, certified by the bureau
root and not revoked in the trust list) over a CWT claims map: the station it is for (`sub`), its
issue time (`iat`, the signer's clock), a sequence and the terms. Every term is optional: a term
the bureau does not set leaves the station's own file in charge of it.

No expiry, on purpose. A policy stays in force until a newer one (higher sequence) replaces it.
An expiring policy would let a station cut off from the registry (a pulled cable, the attendant's
"network problem") fall back to its local file, which is exactly the loosening this policy exists
to prevent; the sequence already refuses a replayed older document, and revoking the signer in the
trust list stops anything it signs from being adopted. The bureau loosens a station by publishing a
newer document, never by waiting.

Pure library: no I/O, time is a parameter.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum

from cryptography import x509

from tag_tools import cbor_codec, crypto, signed_document
from tag_tools.claims import LATEST_SECOND
from tag_tools.errors import PolicyError, PolicyForgedError, PolicyRollbackError
from tag_tools.reason_catalogue import catalogue

SUBJECT_PREFIX = "tag:gcyl.org,2026:station-policy:"  # RFC 4151 tag URI; the station code follows
STATION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")  # the registry's code rule
MAX_SEQUENCE = 2**63 - 1
MAX_TOKEN_SIZE = 16 * 1024  # a policy is about 300 bytes; anything near this is not one
_KIND = signed_document.Kind("policy", "list signer", MAX_TOKEN_SIZE, PolicyError, PolicyForgedError)
MAX_WARNING_DAYS = 3650  # the station file's own bound (station_agent.config)
MAX_REFILL_INTERVAL = timedelta(days=31)
MAX_OVERRIDABLE = 64
DEFAULT_CLOCK_SKEW = timedelta(minutes=10)

# Keys of the terms map (text: the map is small and read by people in `cylinder-tag` dumps).
MODE, WARNING_DAYS, OVERRIDABLE, MIN_REFILL_INTERVAL_S = "mode", "warning_days", "overridable", "min_refill_interval_s"
TERM_KEYS = frozenset({MODE, WARNING_DAYS, OVERRIDABLE, MIN_REFILL_INTERVAL_S})


class Claim(IntEnum):
    """CWT claim keys; negative keys below -65536 are private use (RFC 8392). SEQUENCE is the
    status list's private label, so both documents say "sequence" the same way."""

    SUB = 2
    IAT = 6
    SEQUENCE = -65537
    POLICY = -65539


class Mode(StrEnum):
    ENFORCE = "enforce"
    MONITOR = "monitor"


@dataclass(frozen=True)
class PolicyTerms:
    """What the bureau sets; None leaves the term to the station's file."""

    mode: Mode | None = None
    warning_days: int | None = None
    overridable: frozenset[str] | None = None  # reason codes a supervisor may override
    min_refill_interval: timedelta | None = None

    def __post_init__(self) -> None:
        check_terms(self)

    @property
    def empty(self) -> bool:
        return self == PolicyTerms()


@dataclass(frozen=True)
class StationPolicy:
    """One signed document: `terms` for station `station_code`, newer than every lower `sequence`."""

    station_code: str
    sequence: int
    issued_at: datetime
    terms: PolicyTerms


def check_terms(terms: PolicyTerms) -> None:
    """PolicyError unless every term set is in range and every reason code is known."""
    if terms.mode is not None and not isinstance(terms.mode, Mode):
        raise PolicyError(f"mode must be one of {', '.join(Mode)}")
    if terms.warning_days is not None and (
        type(terms.warning_days) is not int or not 0 <= terms.warning_days <= MAX_WARNING_DAYS
    ):
        raise PolicyError(f"warning_days must be an integer in 0..{MAX_WARNING_DAYS}")
    interval = terms.min_refill_interval
    if interval is not None and (
        not isinstance(interval, timedelta) or not timedelta(0) <= interval <= MAX_REFILL_INTERVAL or interval.microseconds
    ):
        raise PolicyError(f"min_refill_interval must be whole seconds in 0..{MAX_REFILL_INTERVAL}")
    if terms.overridable is not None:
        if not isinstance(terms.overridable, frozenset) or len(terms.overridable) > MAX_OVERRIDABLE:
            raise PolicyError(f"overridable must be a set of at most {MAX_OVERRIDABLE} reason codes")
        unknown = sorted(str(code) for code in terms.overridable if code not in known_reasons())
        if unknown:
            raise PolicyError(f"overridable names unknown reason codes: {', '.join(unknown)}")


def known_reasons() -> frozenset[str]:
    """The reason codes a policy may name: the catalogue's (tag_tools/locale/reasons.json)."""
    return frozenset(catalogue().codes)


def subject_of(station_code: str) -> str:
    return f"{SUBJECT_PREFIX}{station_code}"


def check_station_code(code: object) -> str:
    if type(code) is not str or STATION_CODE.fullmatch(code) is None:
        raise PolicyError(f"{code!r} is not a station code")
    return code


def terms_to_cbor(terms: PolicyTerms) -> dict[str, object]:
    """The terms map as signed: only the terms set, overridable sorted (deterministic bytes)."""
    out: dict[str, object] = {}
    if terms.mode is not None:
        out[MODE] = terms.mode.value
    if terms.warning_days is not None:
        out[WARNING_DAYS] = terms.warning_days
    if terms.overridable is not None:
        out[OVERRIDABLE] = sorted(terms.overridable)
    if terms.min_refill_interval is not None:
        out[MIN_REFILL_INTERVAL_S] = int(terms.min_refill_interval.total_seconds())
    return out


def terms_from_cbor(raw: object) -> PolicyTerms:
    """PolicyTerms from a decoded terms map; PolicyError for anything else (unknown keys included:
    a station must not silently ignore a term a newer bureau thinks it set)."""
    if not isinstance(raw, Mapping) or not all(type(k) is str for k in raw):
        raise PolicyError("policy terms must be a map with text keys")
    extra = sorted(set(raw) - TERM_KEYS)
    if extra:
        raise PolicyError(f"policy terms has unknown keys: {', '.join(extra)}")
    mode = raw.get(MODE)
    if mode is not None and mode not in {m.value for m in Mode}:
        raise PolicyError(f"mode must be one of {', '.join(Mode)}")
    days = raw.get(WARNING_DAYS)
    if days is not None and type(days) is not int:
        raise PolicyError("warning_days must be an integer")
    codes = raw.get(OVERRIDABLE)
    if codes is not None and (not isinstance(codes, list) or not all(type(c) is str for c in codes)):
        raise PolicyError("overridable must be an array of reason codes")
    if codes is not None and (len(set(codes)) != len(codes) or codes != sorted(codes)):
        raise PolicyError("overridable must be sorted and without duplicates")
    seconds = raw.get(MIN_REFILL_INTERVAL_S)
    if seconds is not None and (type(seconds) is not int or not 0 <= seconds <= MAX_REFILL_INTERVAL.total_seconds()):
        raise PolicyError(f"min_refill_interval_s must be an integer in 0..{int(MAX_REFILL_INTERVAL.total_seconds())}")
    return PolicyTerms(
        mode=Mode(mode) if mode is not None else None,
        warning_days=days,
        overridable=frozenset(codes) if codes is not None else None,
        min_refill_interval=timedelta(seconds=seconds) if seconds is not None else None,
    )


def terms_sha256(terms: PolicyTerms) -> str:
    """SHA-256 (hex) of the terms as signed: the registry signs a station's policy again only when it changes."""
    return hashlib.sha256(cbor_codec.encode(terms_to_cbor(terms))).hexdigest()


def build_station_policy(policy: StationPolicy, key: crypto.PrivateKey, certificate: x509.Certificate) -> bytes:
    """The signed document (deterministic CBOR), by the list signer's key."""
    check_station_code(policy.station_code)
    check_terms(policy.terms)
    if type(policy.sequence) is not int or not 0 <= policy.sequence <= MAX_SEQUENCE:
        raise PolicyError(f"sequence must be an integer in 0..{MAX_SEQUENCE}")
    if policy.issued_at.tzinfo is None or policy.issued_at.microsecond:
        raise PolicyError("issued_at must be timezone-aware whole seconds")
    claims: dict[int, object] = {
        Claim.SUB: subject_of(policy.station_code),
        Claim.IAT: int(policy.issued_at.timestamp()),
        Claim.SEQUENCE: policy.sequence,
        Claim.POLICY: terms_to_cbor(policy.terms),
    }
    return signed_document.sign_claims(_KIND, claims, key, certificate, policy.issued_at)


def parse_station_policy(
    data: bytes,
    signers: x509.Certificate | Sequence[x509.Certificate],
    *,
    now: datetime,
    station_code: str,
    after_sequence: int | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> StationPolicy:
    """Verify and unpack a policy document for `station_code`.

    `signers` are the list signers the caller trusts (checked against the root, revoked ones left
    out: TrustList.status_signers). The document must be signed by one of them within its
    certificate's validity, be for this station, not be issued after `now + clock_skew`, and have
    a sequence above `after_sequence` (the one the station holds). Raises PolicyForgedError (not
    authentic), PolicyRollbackError (not newer) or PolicyError (anything else), never another error.
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    signer, claims = signed_document.open_claims(_KIND, data, signers)
    policy = _from_claims(claims)
    if not (signer.not_valid_before_utc <= policy.issued_at <= signer.not_valid_after_utc):
        raise PolicyForgedError("policy issued outside its signer certificate's validity")
    if policy.station_code != station_code:
        raise PolicyError(f"policy is for station {policy.station_code}, not {station_code}")
    if policy.issued_at > now + clock_skew:
        raise PolicyError("policy is issued in the future: check the clock")
    if after_sequence is not None and policy.sequence <= after_sequence:
        raise PolicyRollbackError(f"policy sequence {policy.sequence} is not newer than the {after_sequence} held")
    return policy


def _from_claims(claims: object) -> StationPolicy:
    if not isinstance(claims, dict) or set(claims) != {int(k) for k in Claim}:
        raise PolicyError("policy claims have the wrong set of keys")
    subject, issued, sequence = claims[Claim.SUB], claims[Claim.IAT], claims[Claim.SEQUENCE]
    if type(subject) is not str or not subject.startswith(SUBJECT_PREFIX):
        raise PolicyError(f"policy sub must be {SUBJECT_PREFIX}<station code>")
    if type(issued) is not int or not 0 <= issued <= LATEST_SECOND:
        raise PolicyError(f"policy iat must be an integer in 0..{LATEST_SECOND}")
    if type(sequence) is not int or not 0 <= sequence <= MAX_SEQUENCE:
        raise PolicyError(f"policy sequence must be an integer in 0..{MAX_SEQUENCE}")
    return StationPolicy(
        check_station_code(subject.removeprefix(SUBJECT_PREFIX)),
        sequence,
        datetime.fromtimestamp(issued, UTC),
        terms_from_cbor(claims[Claim.POLICY]),
    )


def reasons_of(codes: Iterable[object]) -> frozenset[str]:
    """A set of known reason codes from people's input (bureau API, CLI); PolicyError otherwise."""
    found = list(codes)
    if not all(type(c) is str for c in found):
        raise PolicyError("reason codes are text")
    terms = PolicyTerms(overridable=frozenset(str(c) for c in found))
    assert terms.overridable is not None
    return terms.overridable
