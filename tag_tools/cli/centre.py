"""`cylinder-tag centre keygen`: an inspection centre makes its signing key and a CSR for the bureau."""

import argparse
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tag_tools import crypto, pki
from tag_tools.cli.common import add_passphrase_options, passphrase_source
from tag_tools.cli.exit_codes import ExitCode
from tag_tools.keys import write_private_key, write_public_file


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    centre = subparsers.add_parser("centre", help="inspection centre key management")
    commands = centre.add_subparsers(dest="centre_command", required=True, metavar="CENTRE_COMMAND")
    keygen = commands.add_parser("keygen", help="create an encrypted signing key and a CSR to send to the bureau")
    keygen.add_argument("--dir", type=Path, required=True, help="folder for centre-key.pem and centre.csr.pem")
    keygen.add_argument("--centre-id", required=True, help="the centre's ID as registered with the bureau")
    keygen.add_argument("--region", required=True, help="the centre's region code (grid region, e.g. 410105)")
    keygen.add_argument("--name", default="", help="the centre's name")
    keygen.add_argument("--algorithm", choices=["ed25519", "es256"], default="ed25519")
    add_passphrase_options(keygen, "centre key")
    keygen.set_defaults(handler=_keygen)


def _keygen(args: argparse.Namespace) -> ExitCode:
    passphrase = passphrase_source(args, "centre key").read(confirm=True)
    key = crypto.generate_private_key(crypto.Algorithm.from_name(args.algorithm))
    csr = pki.create_centre_csr(key, args.centre_id, args.region, args.name)
    write_private_key(args.dir / "centre-key.pem", key, passphrase)
    write_public_file(args.dir / "centre.csr.pem", csr.public_bytes(serialization.Encoding.PEM))
    print(f"key {args.dir / 'centre-key.pem'} (encrypted), CSR {args.dir / 'centre.csr.pem'}: send the CSR to the bureau")
    return ExitCode.OK
