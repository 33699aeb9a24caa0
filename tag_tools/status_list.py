"""The signed status list: the status of every tag record in the country, in one compressed bit array.

The form is the CWT/COSE one of the IETF OAuth "Token Status List" draft (schemas/status-list.md):
a COSE_Sign1 by the status signer over CWT claims whose `status_list` claim is
`{"bits": 2, "lst": zlib(packed statuses)}`. Each record names its entry with a compact
`[list id, index]` claim (tag_tools.claims.StatusReference). Superseding a record on re-inspection
or revoking a cylinder flips two bits; nothing grows but the count of issued records.

Three rules make the list safe to hand to a station through an untrusted registry: it is signed
(the station pins the signer), it carries a sequence that never goes back (a replayed old list is
refused), and the signer refuses to sign a list that lowers any entry of the previous one
(`check_no_cleared_revocations`), so a compromised registry can delay a revocation, never undo it.

Pure library: no I/O, time is a parameter.
"""

import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from cryptography import x509

from tag_tools import crypto, signed_document
from tag_tools.claims import LATEST_SECOND
from tag_tools.errors import (
    RevocationClearedError,
    StatusIndexError,
    StatusListError,
    StatusListRollbackError,
    StatusListStaleError,
)
from tag_tools.status_values import StatusValue as StatusValue  # re-exported: the list's values

BITS = 2  # four values are all the project needs (see StatusValue); the draft allows 1, 2, 4 or 8
PER_BYTE = 8 // BITS
MASK = (1 << BITS) - 1
MAX_LIST_ID = 0xFFFF
MAX_INDEXES = 2**27  # 32 MiB unpacked: three times the national list after ten years of growth
MAX_SEQUENCE = 2**63 - 1
MAX_TOKEN_SIZE = 16 * 1024 * 1024  # the national list compresses to about 1.2 MB
_KIND = signed_document.Kind("status list", "status signer", MAX_TOKEN_SIZE, StatusListError, StatusListError)
ZLIB_LEVEL = 9
SUBJECT_PREFIX = "tag:gcyl.org,2026:status-list:"  # RFC 4151 tag URI; the list id follows
_SUBJECT = re.compile(re.escape(SUBJECT_PREFIX) + r"(0|[1-9][0-9]{0,4})")
DEFAULT_CLOCK_SKEW = timedelta(minutes=10)


_VALUES = tuple(StatusValue)


class Claim(IntEnum):
    """CWT claim keys of a Status List Token. Negative keys below -65536 are private use (RFC 8392)."""

    SUB = 2
    EXP = 4
    IAT = 6
    STATUS_LIST = 65533
    TTL = 65534
    SEQUENCE = -65537
    COUNT = -65538


def subject_of(list_id: int) -> str:
    """The `sub` (and draft `uri`) of list `list_id`: what a record's `[list id, index]` claim expands to."""
    return f"{SUBJECT_PREFIX}{list_id}"


def _packed_size(count: int) -> int:
    return (count + PER_BYTE - 1) // PER_BYTE


@dataclass(frozen=True, slots=True)
class StatusArray:
    """`count` statuses packed as the draft packs them: index i lives in byte i*BITS//8 at bit
    offset (i*BITS)%8 counted from the least significant bit. Unused bits of the last byte are 0."""

    count: int
    packed: bytes = field(repr=False)  # megabytes: never in a log line or an assertion message

    def __post_init__(self) -> None:
        if not 0 <= self.count <= MAX_INDEXES:
            raise StatusListError(f"a status list holds 0..{MAX_INDEXES} indexes, not {self.count}")
        if len(self.packed) != _packed_size(self.count):
            raise StatusListError(f"{self.count} indexes need {_packed_size(self.count)} bytes, not {len(self.packed)}")
        spare = self.count % PER_BYTE
        if spare and self.packed[-1] >> (spare * BITS):
            raise StatusListError("the unused bits after the last index are not zero")

    def __len__(self) -> int:
        return self.count

    def status(self, index: int) -> StatusValue:
        """The status of entry `index`, in constant time; StatusIndexError outside the list."""
        if not 0 <= index < self.count:
            raise StatusIndexError(f"index {index} is outside the list's {self.count} entries")
        return _VALUES[(self.packed[index // PER_BYTE] >> (index % PER_BYTE * BITS)) & MASK]

    @classmethod
    def from_statuses(cls, statuses: Iterable[StatusValue]) -> "StatusArray":
        """Entries 0, 1, 2... in order."""
        packed = bytearray()
        count = 0
        for count, value in enumerate(statuses, start=1):
            if count % PER_BYTE == 1:
                packed.append(0)
            packed[-1] |= StatusValue(value) << ((count - 1) % PER_BYTE * BITS)
        return cls(count, bytes(packed))

    @classmethod
    def from_mapping(cls, statuses: Mapping[int, StatusValue], count: int) -> "StatusArray":
        """`count` entries, VALID unless `statuses` says otherwise."""
        return cls(count, bytes(_packed_size(count))).updated(statuses)

    def updated(self, changes: Mapping[int, StatusValue], count: int | None = None) -> "StatusArray":
        """A copy grown to `count` entries (new ones VALID) with `changes` applied.

        It does not judge the changes: the signer runs `check_no_cleared_revocations` on the result.
        """
        count = self.count if count is None else count
        if count < self.count:
            raise StatusListError(f"a list never shrinks ({self.count} entries, asked for {count})")
        packed = bytearray(self.packed)
        packed.extend(bytes(_packed_size(count) - len(packed)))
        for index, value in changes.items():
            if not 0 <= index < count:
                raise StatusIndexError(f"index {index} is outside the list's {count} entries")
            shift = index % PER_BYTE * BITS
            byte = index // PER_BYTE
            packed[byte] = (packed[byte] & ~(MASK << shift)) | (StatusValue(value) << shift)
        return StatusArray(count, bytes(packed))


@dataclass(frozen=True)
class StatusList:
    """One signed list: which entries it covers (`list_id`), how new it is (`sequence`, `issued_at`),
    until when a station may rely on it (`expires_at`) and how often to fetch it again (`ttl`)."""

    list_id: int
    sequence: int
    issued_at: datetime
    expires_at: datetime
    ttl: timedelta
    statuses: StatusArray

    def status(self, index: int) -> StatusValue:
        return self.statuses.status(index)

    def __len__(self) -> int:
        return self.statuses.count


def build_status_list(status_list: StatusList, key: crypto.PrivateKey, certificate: x509.Certificate) -> bytes:
    """The Status List Token, signed by the status signer's key (zlib level 9, deterministic CBOR)."""
    header = _Header.of(status_list)
    header.check()
    claims: dict[int, object] = {
        Claim.SUB: subject_of(header.list_id),
        Claim.EXP: int(header.expires_at.timestamp()),
        Claim.IAT: int(header.issued_at.timestamp()),
        Claim.STATUS_LIST: {"bits": BITS, "lst": zlib.compress(status_list.statuses.packed, ZLIB_LEVEL)},
        Claim.TTL: int(header.ttl.total_seconds()),
        Claim.SEQUENCE: header.sequence,
        Claim.COUNT: header.count,
    }
    token = signed_document.sign_claims(_KIND, claims, key, certificate, status_list.issued_at)
    if len(token) > MAX_TOKEN_SIZE:
        raise StatusListError(f"the signed list is {len(token)} bytes, more than the {MAX_TOKEN_SIZE} a station accepts")
    return token


def parse_status_list(
    data: bytes,
    signers: x509.Certificate | Sequence[x509.Certificate],
    *,
    now: datetime,
    list_id: int,
    min_sequence: int = 0,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> StatusList:
    """Verify and unpack a Status List Token.

    `signers` are the status signer certificates the caller trusts (two during a rotation), already
    checked against the bureau root. The list must be list `list_id` (a registry cannot answer for
    one list with another), unexpired at `now`, issued within its signer's validity and not after
    `now + clock_skew`, and its sequence at least `min_sequence` (the one the station holds; the
    same list fetched again is accepted). Signature first, decompression last: unauthenticated bytes
    are never inflated. For any `data`, raises StatusListError (or a subclass) and nothing else.
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    signer, claims = signed_document.open_claims(_KIND, data, signers)
    header, lst = _Header.from_claims(claims)
    if header.list_id != list_id:
        raise StatusListError(f"expected status list {list_id}, got list {header.list_id}")
    if not (signer.not_valid_before_utc <= header.issued_at <= signer.not_valid_after_utc):
        raise StatusListError("status list issued outside its signer certificate's validity")
    if now >= header.expires_at:
        raise StatusListStaleError(f"status list {list_id} expired at {header.expires_at.isoformat()}")
    if header.issued_at > now + clock_skew:
        raise StatusListStaleError(f"status list {list_id} is issued in the future: check the clock")
    if header.sequence < min_sequence:
        raise StatusListRollbackError(
            f"status list {list_id} has sequence {header.sequence}, older than the {min_sequence} already held"
        )
    statuses = StatusArray(header.count, inflate(lst, _packed_size(header.count)))
    return StatusList(header.list_id, header.sequence, header.issued_at, header.expires_at, header.ttl, statuses)


@dataclass(frozen=True)
class _Header:
    """Everything a token says about its list except the entries themselves."""

    list_id: int
    sequence: int
    issued_at: datetime
    expires_at: datetime
    ttl: timedelta
    count: int

    @classmethod
    def of(cls, status_list: StatusList) -> "_Header":
        s = status_list
        return cls(s.list_id, s.sequence, s.issued_at, s.expires_at, s.ttl, s.statuses.count)

    def check(self) -> None:
        """Rules between fields, applied when signing and when reading."""
        if not 0 <= self.list_id <= MAX_LIST_ID:
            raise StatusListError(f"list id must be in 0..{MAX_LIST_ID}")
        if not 0 <= self.sequence <= MAX_SEQUENCE:
            raise StatusListError(f"sequence must be in 0..{MAX_SEQUENCE}")
        if self.expires_at <= self.issued_at:
            raise StatusListError("a status list must expire after it is issued")
        if self.ttl.total_seconds() < 1 or self.ttl.microseconds:
            raise StatusListError("ttl must be a whole, positive number of seconds")

    @classmethod
    def from_claims(cls, claims: object) -> "tuple[_Header, bytes]":
        """The header and the compressed entries of a decoded claims map."""
        if not isinstance(claims, dict) or set(claims) != {int(k) for k in Claim}:
            raise StatusListError("status list claims have the wrong set of keys")
        inner = claims[Claim.STATUS_LIST]
        if not isinstance(inner, dict) or set(inner) != {"bits", "lst"}:
            raise StatusListError('status_list claim must be a map of exactly "bits" and "lst"')
        if type(inner["bits"]) is not int or inner["bits"] != BITS:
            raise StatusListError(f"status list has {inner['bits']!r} bits per entry; this profile uses {BITS}")
        subject, lst = claims[Claim.SUB], inner["lst"]
        match = _SUBJECT.fullmatch(subject) if type(subject) is str else None
        if type(lst) is not bytes or match is None:
            raise StatusListError(f'status list "lst" must be bytes and sub of the form {SUBJECT_PREFIX}<list id>')
        numbers = [claims[k] for k in (Claim.EXP, Claim.IAT, Claim.TTL, Claim.SEQUENCE, Claim.COUNT)]
        if not all(type(n) is int and 0 <= n <= LATEST_SECOND for n in numbers[:3]):
            raise StatusListError(f"status list times and ttl must be integers in 0..{LATEST_SECOND}")
        expires, issued, ttl, sequence, count = numbers
        if type(sequence) is not int or type(count) is not int or not 0 <= count <= MAX_INDEXES:
            raise StatusListError(f"status list sequence must be an integer and count one in 0..{MAX_INDEXES}")
        header = cls(
            int(match.group(1)),
            sequence,
            datetime.fromtimestamp(issued, UTC),
            datetime.fromtimestamp(expires, UTC),
            timedelta(seconds=ttl),
            count,
        )
        header.check()
        return header, lst


def inflate(compressed: bytes, expected_size: int) -> bytes:
    """Exactly `expected_size` bytes from one complete zlib stream, or StatusListError.

    The output is capped at the declared size while inflating, so a small "zlib bomb" costs at most
    `expected_size` bytes of memory before it is refused; a truncated stream or bytes after it are
    refused too.
    """
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(compressed, expected_size) if expected_size else b""
        tail = compressed if not expected_size else inflater.unconsumed_tail
        # What is left must end the stream without producing a single byte more.
        while tail and not inflater.eof:
            if inflater.decompress(tail, 1):
                raise StatusListError(f"status list inflates to more than the declared {expected_size} bytes")
            if len(inflater.unconsumed_tail) >= len(tail):
                break
            tail = inflater.unconsumed_tail
    except zlib.error as error:
        raise StatusListError(f"status list is not a valid zlib stream: {error}") from None
    if not inflater.eof:
        raise StatusListError("status list zlib stream is truncated")
    if inflater.unused_data:
        raise StatusListError("status list has bytes after its zlib stream")
    if len(out) != expected_size:
        raise StatusListError(f"status list inflates to {len(out)} bytes, not the declared {expected_size}")
    return out


def check_no_cleared_revocations(previous: StatusArray | StatusList, new: StatusArray | StatusList) -> None:
    """Refuse a `new` list that lowers any entry of `previous` (RevocationClearedError names the first).

    This is the signer's last line: whatever the registry asks, a revoked or superseded entry never
    becomes valid again, and a scrapped one never merely stolen. Undoing a revocation means issuing a
    new record with a new index. Between two signed lists it also requires the same list id and a
    higher sequence. Cost: a few big-integer operations per MiB, about 0.1 s for the national list.
    """
    if isinstance(previous, StatusList) and isinstance(new, StatusList):
        if new.list_id != previous.list_id:
            raise StatusListError(f"list {new.list_id} cannot follow list {previous.list_id}")
        if new.sequence <= previous.sequence:
            raise StatusListRollbackError(f"sequence {new.sequence} does not follow {previous.sequence}")
    old = previous.statuses if isinstance(previous, StatusList) else previous
    now = new.statuses if isinstance(new, StatusList) else new
    if now.count < old.count:
        raise RevocationClearedError(old.count, None, None, f"the new list drops entries {now.count}..{old.count - 1}")
    for start in range(0, len(old.packed), _CHUNK):
        before, after = old.packed[start : start + _CHUNK], now.packed[start : start + _CHUNK]
        if before == after:
            continue
        lowered = _lowered_fields(int.from_bytes(before, "little"), int.from_bytes(after, "little"), len(before))
        if lowered:
            index = start * PER_BYTE + ((lowered & -lowered).bit_length() - 1) // BITS
            was, becomes = old.status(index), now.status(index)
            raise RevocationClearedError(index, was, becomes, f"entry {index} would go from {was.name} to {becomes.name}")


_CHUNK = 1 << 20


def _lowered_fields(before: int, after: int, size: int) -> int:
    """Bits set where a 2-bit field (BITS is 2) of `after` is numerically lower than in `before` (fields start at
    even bit positions, as in a little-endian integer of the packed bytes)."""
    ones = (1 << (8 * size)) - 1
    high = int.from_bytes(b"\xaa" * size, "little")
    low = high >> 1
    not_after = after ^ ones
    high_dropped = before & not_after & high
    same_high = (before ^ after ^ ones) & high
    low_dropped = (same_high >> 1) & before & not_after & low
    return high_dropped | low_dropped
