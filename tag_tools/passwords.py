"""Password hashes: the one home for making and checking them (registry users, station supervisors).

New hashes are Argon2id PHC strings, `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (argon2-cffi;
standard base64 without padding). The cost is OWASP's first Argon2id choice, "a minimum
configuration of 19 MiB of memory, an iteration count of 2, and 1 degree of parallelism"
(https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html). Of the
equivalent OWASP rows (46 MiB/t=1 ... 7 MiB/t=5) it is the one that keeps memory low enough for
several concurrent registry log-ins and for the small computer beside a pump, at ~60 ms a check.

Two legacy scrypt formats are still verified (never written); both start `scrypt$N$r$p$`:

- the registry's: `scrypt$N$r$p$<salt>$<digest>` in URL-safe base64 without padding
  (16-byte salt = 22 characters, 32-byte digest = 43 characters);
- the station agent's: `scrypt$N$r$p$<salt>$<digest>` in hexadecimal
  (16-byte salt = 32 characters, 32-byte digest = 64 characters).

How they are told apart: a hash is the agent's when BOTH its salt and its digest consist of
hexadecimal digits only, in pairs (even length, either case); otherwise it is the registry's when
both are URL-safe base64 characters with a length that is not 1 modulo 4. Hex digits are also
base64 characters, so the order matters: the registry always wrote 32-byte digests, 43 characters,
an odd length, so none of its hashes can be read as hex; and the agent's are read as hex first.

A password that could never be typed and hashed (tag_tools.fields.usable_password: not text, too
long, a lone surrogate or a control character) is a wrong password: it is still put through the
stored hash's KDF with a random stand-in, so it is answered after the same work and never raises.
A stored hash that is neither format raises PasswordHashError, before any KDF work.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, low_level
from argon2.exceptions import VerificationError, VerifyMismatchError

from tag_tools.errors import InputError, TagToolsError
from tag_tools.fields import usable_password


class PasswordHashError(TagToolsError, ValueError):
    """A stored password hash is neither an Argon2id PHC string nor one of the legacy scrypt formats."""


@dataclass(frozen=True)
class Argon2Cost:
    """The Argon2id parameters that new hashes get, and that needs_rehash compares against."""

    memory_kib: int
    time_cost: int
    parallelism: int


OWASP_ARGON2ID = Argon2Cost(memory_kib=19 * 1024, time_cost=2, parallelism=1)
CURRENT = OWASP_ARGON2ID
# For tests only (the smallest memory Argon2 allows): makes a hash in well under a millisecond.
# A hash of this cost is "outdated" for needs_rehash, so it can never linger in production.
CHEAP_FOR_TESTS = Argon2Cost(memory_kib=8, time_cost=1, parallelism=1)

_SALT_LEN, _HASH_LEN = 16, 32
_MIN_SALT, _MIN_DIGEST = 8, 16
# A stored hash that asks for more memory or passes than this is refused rather than run (a typo in a
# config file must not exhaust the machine). Legacy registry scrypt (N=2**15, r=8) needs 32 MiB.
_MAX_ARGON2_KIB, _MAX_ARGON2_TIME = 1024 * 1024, 100
_SCRYPT_MAXMEM = 64 * 1024 * 1024

_ARGON2ID = re.compile(
    r"\$argon2id\$v=19\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,2})"
    r"\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
_NUMBER = re.compile(r"[1-9][0-9]{0,9}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class _Argon2id:
    encoded: str


@dataclass(frozen=True)
class _Scrypt:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def hash_password(password: str, *, cost: Argon2Cost = CURRENT) -> str:
    """An Argon2id PHC string of `password` with a fresh 16-byte salt. Length rules are the
    caller's (registry and agent differ); a password no one could type is refused (InputError)."""
    if usable_password(password) is None:
        raise InputError("this password cannot be hashed (empty, too long, or with a control character)")
    return _hasher(cost).hash(password)


def verify_password(password: object, stored: str) -> bool:
    """True when `password` is the one `stored` was made from (Argon2id or either legacy scrypt
    format); False for any other value, after the same KDF work. PasswordHashError when `stored`
    is malformed (raised before any KDF work, so callers can fall back to dummy_hash())."""
    parsed = _parse(stored)
    usable = usable_password(password)
    candidate = usable.encode() if usable is not None else secrets.token_bytes(16)
    if isinstance(parsed, _Argon2id):
        try:
            low_level.verify_secret(parsed.encoded.encode("ascii"), candidate, low_level.Type.ID)
        except VerifyMismatchError:
            return False
        except VerificationError as error:  # parsed, but libargon2 still refused it
            raise PasswordHashError(f"unusable Argon2id hash: {error}") from None
        return usable is not None
    actual = hashlib.scrypt(
        candidate, salt=parsed.salt, n=parsed.n, r=parsed.r, p=parsed.p, dklen=len(parsed.digest), maxmem=_SCRYPT_MAXMEM
    )
    return hmac.compare_digest(actual, parsed.digest) and usable is not None


def needs_rehash(stored: str, *, cost: Argon2Cost = CURRENT) -> bool:
    """True when `stored` should be replaced by hash_password() at the next chance (the password
    is known only at a successful log-in): any legacy scrypt hash, and an Argon2id hash whose
    parameters (memory, time, parallelism, salt or hash length) differ from `cost`."""
    parsed = _parse(stored)
    if isinstance(parsed, _Scrypt):
        return True
    return _hasher(cost).check_needs_rehash(parsed.encoded)


def check_hash_format(stored: str) -> None:
    """PasswordHashError unless `stored` is a hash verify_password can check."""
    _parse(stored)


@functools.cache
def dummy_hash(cost: Argon2Cost = CURRENT) -> str:
    """A hash of a random password nobody knows, made once per process with the current algorithm
    and cost: checking an unknown user against it costs what checking a real one does."""
    return hash_password("no-such-user-" + secrets.token_urlsafe(24), cost=cost)


@functools.cache
def _hasher(cost: Argon2Cost) -> PasswordHasher:
    return PasswordHasher(
        time_cost=cost.time_cost,
        memory_cost=cost.memory_kib,
        parallelism=cost.parallelism,
        hash_len=_HASH_LEN,
        salt_len=_SALT_LEN,
        type=low_level.Type.ID,
    )


def _parse(stored: object) -> _Argon2id | _Scrypt:
    if isinstance(stored, str):
        if stored.startswith("$argon2id$"):
            return _parse_argon2id(stored)
        if stored.startswith("scrypt$"):
            return _parse_scrypt(stored)
    raise PasswordHashError(
        "a password hash must be $argon2id$v=19$m=..,t=..,p=..$SALT$HASH (or a legacy scrypt$N$r$p$SALT$HASH)"
    )


def _parse_argon2id(stored: str) -> _Argon2id:
    match = _ARGON2ID.fullmatch(stored)
    if match is None:
        raise PasswordHashError("malformed Argon2id hash (expected $argon2id$v=19$m=..,t=..,p=..$SALT$HASH)")
    memory, time, lanes = (int(match[i]) for i in (1, 2, 3))
    salt, digest = _unb64(match[4], altchars=None), _unb64(match[5], altchars=None)
    if memory < 8 * lanes or memory > _MAX_ARGON2_KIB or time > _MAX_ARGON2_TIME or salt is None or digest is None:
        raise PasswordHashError("Argon2id hash with impossible parameters or encoding")
    _check_lengths(salt, digest)
    return _Argon2id(stored)


def _parse_scrypt(stored: str) -> _Scrypt:
    parts = stored.split("$")
    if len(parts) != 6 or not all(_NUMBER.fullmatch(value) for value in parts[1:4]):
        raise PasswordHashError("malformed scrypt hash (expected scrypt$N$r$p$SALT$HASH)")
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    if n < 2 or n & (n - 1) or 128 * r * (n + p + 2) > _SCRYPT_MAXMEM:  # OpenSSL's own memory sum
        raise PasswordHashError("scrypt hash with impossible or too costly parameters")
    salt_text, digest_text = parts[4], parts[5]
    if _HEX.fullmatch(salt_text) and _HEX.fullmatch(digest_text):  # the station agent's format
        salt, digest = bytes.fromhex(salt_text), bytes.fromhex(digest_text)
    else:  # the registry's format
        maybe_salt, maybe_digest = _unb64(salt_text, altchars=b"-_"), _unb64(digest_text, altchars=b"-_")
        if maybe_salt is None or maybe_digest is None:
            raise PasswordHashError("scrypt hash whose salt and digest are neither hex nor URL-safe base64")
        salt, digest = maybe_salt, maybe_digest
    _check_lengths(salt, digest)
    return _Scrypt(n, r, p, salt, digest)


def _unb64(text: str, *, altchars: bytes | None) -> bytes | None:
    """Unpadded base64 (standard, or URL-safe with altchars=b"-_"); None when not exactly that."""
    alphabet = _BASE64URL if altchars else _BASE64
    if not alphabet.fullmatch(text) or len(text) % 4 == 1:
        return None
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)


def _check_lengths(salt: bytes, digest: bytes) -> None:
    if len(salt) < _MIN_SALT or len(digest) < _MIN_DIGEST:
        raise PasswordHashError(f"password hash with a salt under {_MIN_SALT} or a digest under {_MIN_DIGEST} bytes")
