"""Supervisor credentials, stored in the config only as scrypt hashes.

Format: `scrypt$N$r$p$<salt hex>$<hash hex>` so parameters can be raised later without breaking
old entries. Verification uses a constant-time comparison.
"""

import hashlib
import hmac
import os

from station_agent.errors import ConfigError

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


def verify_password(password: str, stored: str) -> bool:
    n, r, p, salt, expected = _parse(stored)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected))
    return hmac.compare_digest(digest, expected)


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
