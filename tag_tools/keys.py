"""Private keys at rest: encrypted PKCS#8 files, and where their passphrase comes from.

A passphrase comes from a file, an environment variable or, only when a terminal is attached, a
prompt. It is never printed or logged, and nothing here includes it in an error message. Key files
are written atomically with mode 0600 so a crash never leaves half a key or a readable one.
"""

import getpass
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tag_tools import crypto
from tag_tools.errors import KeyStoreError


@dataclass(frozen=True)
class PassphraseSource:
    """Exactly one of file / env, or neither (then prompt if a terminal is attached)."""

    file: Path | None = None
    env: str | None = None
    prompt_label: str = "key"

    def __repr__(self) -> str:  # never show anything that could be a secret
        return f"PassphraseSource(file={self.file!s}, env={self.env!s})"

    def read(self, confirm: bool = False) -> bytes:
        if self.file is not None and self.env is not None:
            raise KeyStoreError("give either a passphrase file or a passphrase environment variable, not both")
        if self.file is not None:
            try:
                text = self.file.read_text(encoding="utf-8")
            except OSError as error:
                raise KeyStoreError(f"cannot read passphrase file {self.file}: {error.strerror}") from None
            passphrase = text.rstrip("\r\n")
        elif self.env is not None:
            if self.env not in os.environ:
                raise KeyStoreError(f"environment variable {self.env} (passphrase) is not set")
            passphrase = os.environ[self.env]
        else:
            passphrase = self._prompt(confirm)
        if not passphrase:
            raise KeyStoreError("the passphrase is empty")
        return passphrase.encode("utf-8")

    def _prompt(self, confirm: bool) -> str:
        if not sys.stdin.isatty():
            raise KeyStoreError(
                f"no passphrase for the {self.prompt_label}: give --passphrase-file or --passphrase-env (no terminal to ask)"
            )
        first = getpass.getpass(f"Passphrase for the {self.prompt_label}: ")
        if confirm and getpass.getpass("Repeat the passphrase: ") != first:
            raise KeyStoreError("the two passphrases differ")
        return first


def write_private_key(path: Path, key: crypto.PrivateKey, passphrase: bytes, overwrite: bool = False) -> None:
    """Encrypt and write atomically, readable by the owner only."""
    if path.exists() and not overwrite:
        raise KeyStoreError(f"{path} exists; refusing to overwrite a private key")
    write_private_file(path, crypto.private_key_to_encrypted_pkcs8(key, passphrase))


def read_private_key(path: Path, passphrase_source: PassphraseSource) -> crypto.PrivateKey:
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise KeyStoreError(f"cannot read key file {path}: {error.strerror}") from None
    if b"ENCRYPTED PRIVATE KEY" not in pem:
        raise KeyStoreError(f"{path} is not an encrypted PKCS#8 key file")
    return crypto.private_key_from_encrypted_pkcs8(pem, passphrase_source.read())


def write_private_file(path: Path, data: bytes) -> None:
    """Write secret `data` to `path` atomically, readable by the owner only."""
    atomic_write(path, data, mode=0o600)


def write_public_file(path: Path, data: bytes) -> None:
    """Atomic write for certificates, CSRs, trust lists and records."""
    atomic_write(path, data, mode=0o644)


def atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
