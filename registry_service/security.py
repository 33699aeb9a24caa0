"""Passwords and API tokens (256-bit random, stored as SHA-256). No I/O, no database.

Password hashes are tag_tools.passwords (Argon2id; legacy scrypt hashes still verify and are
replaced at the next successful log-in: services/accounts.password_login). This module adds the
registry's rules on top: a minimum length, no hash or a broken one is a wrong password, and the
KDF always runs (against dummy_hash()) so timing does not tell which user names exist.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from tag_tools import passwords
from tag_tools.passwords import Argon2Cost, PasswordHashError

TOKEN_PREFIX = "cgr_"
MIN_PASSWORD_LENGTH = 10
_log = logging.getLogger(__name__)


def hash_password(password: str, *, cost: Argon2Cost = passwords.CURRENT) -> str:
    """An Argon2id hash for a new password (ValueError when shorter than the registry allows)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return passwords.hash_password(password, cost=cost)


def verify_password(password: str, stored: str | None) -> bool:
    """True for the right password; False for a wrong one, no hash or a malformed hash."""
    if not stored:
        return False
    try:
        return passwords.verify_password(password, stored)
    except PasswordHashError:
        return False


def rehashed(password: str, stored: str) -> str | None:
    """A new hash of `password` (just verified against `stored`) when `stored` is legacy scrypt
    or has outdated Argon2id parameters; None when it is current. No length rule: the password
    is already the user's, and a log-in must not fail for a rule made after it was chosen."""
    return passwords.hash_password(password) if passwords.needs_rehash(stored) else None


def dummy_hash() -> str:
    """A hash nobody knows the password of, of the current algorithm and cost (made once)."""
    return passwords.dummy_hash()


def check_password_in_constant_time(password: str, stored: str | None) -> bool:
    """verify_password that always runs the KDF once: an unknown user, one without a password or
    with a malformed hash, is checked against dummy_hash(), so response time does not tell which
    user names exist."""
    if stored:
        try:
            return passwords.verify_password(password, stored)
        except PasswordHashError:  # raised before any KDF work
            _log.warning("a stored password hash is malformed; that user cannot log in")
    passwords.verify_password(password, dummy_hash())
    return False


def new_token() -> str:
    """A bearer token: prefix (so leaked tokens are recognisable to secret scanners) + 256 bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
