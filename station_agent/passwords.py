"""Supervisor credentials, stored in the config only as scrypt hashes.

Format: `scrypt$N$r$p$<salt hex>$<hash hex>` so parameters can be raised later without breaking
old entries. Verification uses a constant-time comparison, and a password that could never match
(not text, too long, a lone surrogate or a control character: tag_tools.fields.usable_password) is
still put through scrypt, so it is answered as late as any other wrong one and never raises.
"""

import hashlib
import hmac
import os
import secrets

from station_agent.errors import ConfigError
from tag_tools.fields import usable_password

N, R, P = 2**14, 8, 1
_DKLEN = 32


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    if not password:
        raise ValueError("an empty password cannot be hashed")
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_DKLEN)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_hash_format(stored: str) -> None:
    """ConfigError unless `stored` looks like a hash this module wrote."""
    _parse(stored)


def verify_password(password: object, stored: str) -> bool:
    """True when `password` matches `stored`; False for any other value, after the same work."""
    n, r, p, salt, expected = _parse(stored)
    usable = usable_password(password)
    candidate = usable.encode() if usable is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(candidate, salt=salt, n=n, r=r, p=p, dklen=len(expected))
    return usable is not None and hmac.compare_digest(digest, expected)


_DUMMY: list[str] = []


def dummy_hash() -> str:
    """A hash of a random password nobody knows, with the default cost: verifying an unknown
    supervisor against it takes as long as verifying a known one, so timing does not tell them apart."""
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(24)))
    return _DUMMY[0]


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or len(salt) < 8 or len(expected) < 16:
            raise ValueError
    except ValueError:
        raise ConfigError("password hash must be scrypt$N$r$p$SALT$HASH (make one with `station-agent hash-password`)") from None
    return n, r, p, salt, expected
