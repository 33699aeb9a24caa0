"""Supervisor credentials, stored in the config only as password hashes (tag_tools.passwords).

`station-agent hash-password` writes Argon2id; entries made before it (`scrypt$N$r$p$<hex>$<hex>`)
still verify, and so do the registry's old scrypt hashes, so an operator never has to re-enter a
supervisor's password after an upgrade. The config is read-only to the agent, so nothing is
re-hashed here: run hash-password again to replace a legacy entry. A password that could never
match is still put through the KDF, answered as late as any other wrong one, and never raises.
"""

from station_agent.errors import ConfigError
from tag_tools import passwords
from tag_tools.passwords import PasswordHashError, dummy_hash, hash_password, verify_password

__all__ = ["check_hash_format", "dummy_hash", "hash_password", "verify_password"]


def check_hash_format(stored: str) -> None:
    """ConfigError unless `stored` is an Argon2id or legacy scrypt hash verify_password can check."""
    try:
        passwords.check_hash_format(stored)
    except PasswordHashError as error:
        raise ConfigError(f"{error} (make one with `station-agent hash-password`)") from None
