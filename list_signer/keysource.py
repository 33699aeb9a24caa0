"""Where the signer's key comes from: an encrypted PKCS#8 file, or a token through PKCS#11.

A key file must be readable by its owner only (as ssh insists): the signer refuses to start with a
key that the registry's user, or anyone else, could read.
"""

import argparse
import os
import stat
from pathlib import Path

from list_signer.errors import SigningKeyError
from list_signer.pkcs11_key import Pkcs11Location, generate_key, load_key
from tag_tools import crypto
from tag_tools.keys import PassphraseSource, read_private_key, write_private_key


def add_key_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("signing key: a file, or a PKCS#11 token")
    group.add_argument("--key", type=Path, help="encrypted PKCS#8 key file (mode 0600, the signer's user)")
    group.add_argument("--passphrase-file", type=Path, help="file holding the key file's passphrase")
    group.add_argument("--pkcs11-module", type=Path, help="the HSM's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so")
    group.add_argument("--token-label", help="the token's label")
    group.add_argument("--key-label", help="the key pair's label on the token")
    group.add_argument("--pin-file", type=Path, help="file holding the token's user PIN")


def _pkcs11_location(args: argparse.Namespace) -> Pkcs11Location | None:
    hsm = (args.pkcs11_module, args.token_label, args.key_label, args.pin_file)
    if args.key is not None and any(v is not None for v in hsm):
        raise SigningKeyError("give --key or the PKCS#11 options, not both")
    if args.key is not None:
        return None
    if any(v is None for v in hsm):
        raise SigningKeyError("give --key FILE, or all of --pkcs11-module, --token-label, --key-label and --pin-file")
    return Pkcs11Location(args.pkcs11_module, args.token_label, args.key_label, args.pin_file)


def load_signing_key(args: argparse.Namespace) -> crypto.PrivateKey:
    location = _pkcs11_location(args)
    if location is not None:
        return load_key(location)
    check_private_file(args.key)
    return read_private_key(args.key, PassphraseSource(file=args.passphrase_file, prompt_label="signer key"))


def generate_signing_key(args: argparse.Namespace, algorithm: crypto.Algorithm) -> crypto.PrivateKey:
    location = _pkcs11_location(args)
    if location is not None:
        return generate_key(location, algorithm)
    key = crypto.generate_private_key(algorithm)
    write_private_key(args.key, key, PassphraseSource(file=args.passphrase_file, prompt_label="signer key").read(confirm=True))
    return key


def check_private_file(path: Path) -> None:
    try:
        info = path.stat()
    except OSError as error:
        raise SigningKeyError(f"cannot read key file {path}: {error.strerror}") from None
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise SigningKeyError(f"key file {path} is mode {stat.S_IMODE(info.st_mode):o}: make it 0600 (owner only)")
    if info.st_uid != os.geteuid():
        raise SigningKeyError(f"key file {path} belongs to another user")
