import logging
import os
import stat
from pathlib import Path

import pytest

from tag_tools import crypto
from tag_tools.errors import KeyStoreError
from tag_tools.keys import PassphraseSource, read_private_key, write_private_key

SECRET = "correct horse battery staple 马"


def test_encrypted_pkcs8_round_trip_with_file(tmp_path: Path) -> None:
    key = crypto.generate_private_key()
    (tmp_path / "pass").write_text(SECRET + "\n", encoding="utf-8")
    source = PassphraseSource(file=tmp_path / "pass")
    write_private_key(tmp_path / "k.pem", key, source.read())
    pem = (tmp_path / "k.pem").read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in pem and SECRET.encode() not in pem
    assert stat.S_IMODE(os.stat(tmp_path / "k.pem").st_mode) == 0o600
    loaded = read_private_key(tmp_path / "k.pem", source)
    assert crypto.public_key_der(loaded.public_key()) == crypto.public_key_der(key.public_key())


def test_env_source_and_wrong_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEY_PASS", SECRET)
    key = crypto.generate_private_key(crypto.Algorithm.ES256)
    write_private_key(tmp_path / "k.pem", key, PassphraseSource(env="KEY_PASS").read())
    monkeypatch.setenv("KEY_PASS", "wrong")
    with pytest.raises(KeyStoreError, match="wrong passphrase") as caught:
        read_private_key(tmp_path / "k.pem", PassphraseSource(env="KEY_PASS"))
    assert "wrong" not in str(caught.value).replace("wrong passphrase", "")


def test_no_source_and_no_terminal_does_not_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(KeyStoreError, match="no terminal"):
        PassphraseSource().read()


def test_missing_env_and_empty_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(KeyStoreError, match="NOPE"):
        PassphraseSource(env="NOPE").read()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(KeyStoreError, match="empty"):
        PassphraseSource(file=tmp_path / "empty").read()


def test_refuses_to_overwrite_and_plain_keys(tmp_path: Path) -> None:
    key = crypto.generate_private_key()
    write_private_key(tmp_path / "k.pem", key, b"pw")
    with pytest.raises(KeyStoreError, match="refusing to overwrite"):
        write_private_key(tmp_path / "k.pem", key, b"pw")
    from cryptography.hazmat.primitives import serialization

    (tmp_path / "plain.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(KeyStoreError, match="not an encrypted"):
        read_private_key(tmp_path / "plain.pem", PassphraseSource(env="X"))


def test_passphrase_never_in_repr_or_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KEY_PASS", SECRET)
    caplog.set_level(logging.DEBUG)
    source = PassphraseSource(env="KEY_PASS")
    write_private_key(tmp_path / "k.pem", crypto.generate_private_key(), source.read())
    read_private_key(tmp_path / "k.pem", source)
    assert SECRET not in repr(source) and SECRET not in caplog.text
