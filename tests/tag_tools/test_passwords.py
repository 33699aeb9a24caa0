"""tag_tools.passwords: Argon2id for new hashes, both legacy scrypt formats still verified.

The legacy vectors below were made by the code this module replaced (registry_service/security.py
and station_agent/passwords.py before issue 13), at a cheap cost (N=16) so the tests stay fast.
Everything except the test of the cost itself uses CHEAP_FOR_TESTS.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from argon2 import low_level

from tag_tools import passwords
from tag_tools.errors import TagToolsError
from tag_tools.passwords import CHEAP_FOR_TESTS, PasswordHashError, hash_password, needs_rehash, verify_password

CHEAP = CHEAP_FOR_TESTS
# registry_service.security.hash_password("legacy registry pw", n=16): URL-safe base64, no padding
REGISTRY_LEGACY = "scrypt$16$8$1$9M2u6U6obMBZzRo4h5B8cw$C50V3rY8RJ8RCwvlGtTVBogTDa7rUIZ4xvnp37oKiLM"
# station_agent.passwords.hash_password("legacy agent pw", n=16): hexadecimal
AGENT_LEGACY = "scrypt$16$8$1$0def8da254c1d2e2330ec6ef76068d40$69222498ba85f9c00cd5b35cc77f3ab887bc404a36759c088303711160a8fab5"


def test_argon2id_round_trip_with_a_fresh_salt() -> None:
    stored = hash_password("s3cret-pass", cost=CHEAP)
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password("s3cret-pass", stored) is True
    assert verify_password("s3cret-Pass", stored) is False
    assert hash_password("s3cret-pass", cost=CHEAP) != stored


def test_the_default_cost_is_owasps_argon2id() -> None:
    """The one test that pays the real cost: m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet)."""
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("correct horse battery", stored) and not needs_rehash(stored)
    assert passwords.dummy_hash().startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.dummy_hash() is passwords.dummy_hash()  # made once per process


def test_both_legacy_scrypt_formats_verify() -> None:
    assert verify_password("legacy registry pw", REGISTRY_LEGACY) is True
    assert verify_password("legacy registry pw!", REGISTRY_LEGACY) is False
    assert verify_password("legacy agent pw", AGENT_LEGACY) is True
    assert verify_password("legacy agent pw!", AGENT_LEGACY) is False
    assert verify_password("legacy agent pw", AGENT_LEGACY.upper().replace("SCRYPT", "scrypt")) is True  # hex in capitals


def test_a_registry_hash_whose_salt_looks_like_hex_is_still_base64() -> None:
    """Hex digits are base64 characters too; the 43-character (odd) digest decides for base64."""
    salt_text = "0123456789abcdef012340"  # 22 hex digits, and valid URL-safe base64 of 16 bytes
    salt = base64.urlsafe_b64decode(salt_text + "==")
    digest = hashlib.scrypt(b"hexlike salt pw", salt=salt, n=16, r=8, p=1, dklen=32)
    stored = f"scrypt$16$8$1${salt_text}${base64.urlsafe_b64encode(digest).decode().rstrip('=')}"
    assert verify_password("hexlike salt pw", stored) is True


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain text",
        "md5$abc",
        "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # only version 19
        "$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # m below 8 KiB per lane
        "$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # 95 GiB: refused, not run
        "$argon2id$v=19$m=8,t=1,p=1$c2Fs$aGFzaGhhc2hoYXNoaGFzaA",  # a 3-byte salt
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==",  # padded
        "scrypt$16$8$1$0def8da254c1d2e2330ec6ef76068d40",  # five fields
        "scrypt$15$8$1$0def8da254c1d2e2330ec6ef76068d40$69222498ba85f9c00cd5b35cc77f3ab887bc404a36759c088303711160a8fab5",
        "scrypt$1048576$8$1$0def8da254c1d2e2330ec6ef76068d40$69222498ba85f9c00cd5b35cc77f3ab887bc404a36759c088303711160a8fab5",
        "scrypt$16$8$1$0def8da254c1d2e2330ec6ef76068d40$69222498ba85f9c0",  # an 8-byte digest
        "scrypt$16$8$1$9M2u6U6obMBZzRo4h5B8cw$C50V3rY8RJ8RCwvlGtTVBogTDa7rUIZ4xvnp37oK+LM",  # '+' is not URL-safe
        "scrypt$16$8$x$9M2u6U6obMBZzRo4h5B8cw$C50V3rY8RJ8RCwvlGtTVBogTDa7rUIZ4xvnp37oKiLM",
    ],
)
def test_a_malformed_stored_hash_is_a_typed_error_before_any_kdf(stored: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_kdf(*args: object, **kwargs: object) -> None:
        raise AssertionError("the KDF ran on a malformed hash")

    monkeypatch.setattr(low_level, "verify_secret", no_kdf)
    monkeypatch.setattr(hashlib, "scrypt", no_kdf)
    for check in (
        lambda: verify_password("any password", stored),
        lambda: needs_rehash(stored),
        lambda: passwords.check_hash_format(stored),
    ):
        with pytest.raises(PasswordHashError) as raised:
            check()
        assert isinstance(raised.value, TagToolsError) and isinstance(raised.value, ValueError)


def test_needs_rehash_for_legacy_and_outdated_parameters_only() -> None:
    assert needs_rehash(REGISTRY_LEGACY) and needs_rehash(AGENT_LEGACY)
    cheap = hash_password("a password", cost=CHEAP)
    assert needs_rehash(cheap)  # the current cost is OWASP's
    assert not needs_rehash(cheap, cost=CHEAP)
    assert needs_rehash(cheap, cost=passwords.Argon2Cost(memory_kib=8, time_cost=2, parallelism=1))


@pytest.mark.parametrize("stored", [REGISTRY_LEGACY, AGENT_LEGACY, "argon2"])
def test_unusable_passwords_are_wrong_after_the_same_kdf_work(stored: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = hash_password("a password", cost=CHEAP) if stored == "argon2" else stored
    runs: list[bytes] = []
    real_argon2, real_scrypt = low_level.verify_secret, hashlib.scrypt

    def argon2_spy(hash: bytes, secret: bytes, type: low_level.Type) -> object:
        runs.append(secret)
        return real_argon2(hash, secret, type)

    def scrypt_spy(password: bytes, **kwargs: Any) -> bytes:
        runs.append(password)
        return real_scrypt(password, **kwargs)

    monkeypatch.setattr(low_level, "verify_secret", argon2_spy)
    monkeypatch.setattr(hashlib, "scrypt", scrypt_spy)
    for value in ("\ud800", "a\x00", "x" * 10_000, None, 42, b"a password", ""):
        before = len(runs)
        assert verify_password(value, stored) is False
        assert len(runs) == before + 1  # the KDF ran once, on a random stand-in
    with pytest.raises(ValueError):
        hash_password("a\x00b", cost=CHEAP)
    with pytest.raises(ValueError):
        hash_password("", cost=CHEAP)
