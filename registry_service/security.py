"""Passwords (scrypt) and API tokens (256-bit random, stored as SHA-256). No I/O, no database."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

TOKEN_PREFIX = "cgr_"
# scrypt cost: n=2**15, r=8 uses 32 MiB and ~50 ms per check; tuned for a login, not a request.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**15, 8, 1, 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    if len(password) < 10:
        raise ValueError("a password needs at least 10 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN, maxmem=_SCRYPT_MAXMEM)
    return "$".join(["scrypt", str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest + "==")
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt + "=="),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash nobody knows the password of, made once per process at the normal cost."""
    return hash_password("no-such-user-" + secrets.token_hex(16))


def check_password_in_constant_time(password: str, stored: str | None) -> bool:
    """verify_password that always runs the KDF: an unknown user, or one without a password, is
    checked against dummy_hash(), so response time does not tell which user names exist."""
    if not stored:
        verify_password(password, dummy_hash())
        return False
    return verify_password(password, stored)


def new_token() -> str:
    """A bearer token: prefix (so leaked tokens are recognisable to secret scanners) + 256 bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
