"""`cylinder-tag ca init | issue | revoke | issue-signer | revoke-signer`: the bureau's certificate
authority. The root key is needed for these only; the weekly lists are signed by the list signer."""

import argparse
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tag_tools import crypto, pki
from tag_tools.ca_store import CaStore
from tag_tools.cli.common import (
    add_now_option,
    add_passphrase_options,
    now_from,
    parse_hex,
    passphrase_source,
    read_input,
)
from tag_tools.cli.exit_codes import ExitCode
from tag_tools.errors import InputError
from tag_tools.keys import write_public_file
from tag_tools.signer_ca import SignerCa
from tag_tools.trustlist import RevocationReason

REASONS = [r.name.lower().replace("_", "-") for r in RevocationReason]


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    ca = subparsers.add_parser("ca", help="the bureau's root CA: init, issue, revoke")
    commands = ca.add_subparsers(dest="ca_command", required=True, metavar="CA_COMMAND")

    init = commands.add_parser("init", help="create the root key (encrypted) and self-signed root certificate")
    init.add_argument("--dir", type=Path, required=True, help="CA folder to create")
    init.add_argument("--name", default="Quality Supervision Bureau tag root", help="root certificate's common name")
    init.add_argument("--valid-days", type=int, default=20 * 365)
    add_passphrase_options(init, "root key")
    add_now_option(init)
    init.set_defaults(handler=_init)

    issue = commands.add_parser("issue", help="certify an inspection centre's CSR for signing tag records")
    issue.add_argument("--dir", type=Path, required=True, help="CA folder")
    issue.add_argument("--csr", type=Path, required=True, help="the centre's CSR (PEM)")
    issue.add_argument("--out", type=Path, required=True, help="where to write the centre certificate (PEM)")
    issue.add_argument("--valid-days", type=int, default=3 * 365)
    add_passphrase_options(issue, "root key")
    add_now_option(issue)
    issue.set_defaults(handler=_issue)

    revoke = commands.add_parser("revoke", help="revoke a centre certificate (takes effect in the next trust list)")
    revoke.add_argument("--dir", type=Path, required=True, help="CA folder")
    _add_target(revoke, "centre")
    add_now_option(revoke)
    revoke.set_defaults(handler=_revoke)

    signer = commands.add_parser("issue-signer", help="certify the list signer's key (trust and status lists only)")
    signer.add_argument("--dir", type=Path, required=True, help="CA folder")
    signer.add_argument(
        "--public-key", type=Path, required=True, help="the signer's public key (PEM, from `cylinder-signer public-key`)"
    )
    signer.add_argument("--name", required=True, help="names the signer in the certificate's subject, e.g. 'Zhengzhou 2026-Q4'")
    signer.add_argument("--out", type=Path, required=True, help="where to write the signer certificate (PEM)")
    signer.add_argument("--valid-days", type=int, default=pki.DEFAULT_SIGNER_VALID_DAYS, help="default 90: rotate often")
    add_passphrase_options(signer, "root key")
    add_now_option(signer)
    signer.set_defaults(handler=_issue_signer)

    revoke_signer = commands.add_parser(
        "revoke-signer", help="revoke a list signer: the root signs new signer revocations at once"
    )
    revoke_signer.add_argument("--dir", type=Path, required=True, help="CA folder")
    _add_target(revoke_signer, "list signer")
    add_passphrase_options(revoke_signer, "root key")
    add_now_option(revoke_signer)
    revoke_signer.set_defaults(handler=_revoke_signer)


def _add_target(parser: argparse.ArgumentParser, what: str) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--cert", type=Path, help=f"the {what} certificate to revoke")
    target.add_argument("--kid", help="its kid (16 hex digits)")
    parser.add_argument("--reason", required=True, choices=REASONS)


def _target(args: argparse.Namespace) -> tuple[bytes, RevocationReason]:
    kid = pki.kid_of(pki.load_certificate(read_input(args.cert, "certificate"))) if args.cert else parse_hex(args.kid, "--kid")
    return kid, RevocationReason[args.reason.upper().replace("-", "_")]


def _init(args: argparse.Namespace) -> ExitCode:
    passphrase = passphrase_source(args, "root key").read(confirm=True)
    certificate = CaStore(args.dir).init(args.name, passphrase, now_from(args), args.valid_days)
    print(f"root certificate {args.dir / 'root-cert.pem'} kid {pki.kid_of(certificate).hex()}")
    return ExitCode.OK


def _issue(args: argparse.Namespace) -> ExitCode:
    csr = pki.load_csr(read_input(args.csr, "CSR"))
    certificate = CaStore(args.dir).issue(csr, passphrase_source(args, "root key"), now_from(args), args.valid_days)
    write_public_file(args.out, pki.certificate_to_pem(certificate))
    identity = pki.centre_identity(certificate)
    print(
        f"issued {args.out} for centre {identity.centre_id} (region {identity.region}) "
        f"kid {pki.kid_of(certificate).hex()} valid until {certificate.not_valid_after_utc.date().isoformat()}"
    )
    return ExitCode.OK


def _revoke(args: argparse.Namespace) -> ExitCode:
    kid, reason = _target(args)
    CaStore(args.dir).revoke(kid, reason, now_from(args))
    print(f"revoked {kid.hex()} ({args.reason}); publish a new trust list with `cylinder-tag trustlist build`")
    return ExitCode.OK


def _issue_signer(args: argparse.Namespace) -> ExitCode:
    try:
        public_key = serialization.load_pem_public_key(read_input(args.public_key, "public key"))
    except ValueError as error:
        raise InputError(f"{args.public_key} is not a PEM public key: {error}") from None
    if not isinstance(public_key, crypto.PublicKey):
        raise InputError(f"{args.public_key} is not an Ed25519 or P-256 public key")
    certificate = SignerCa(CaStore(args.dir)).issue(
        public_key, args.name, passphrase_source(args, "root key"), now_from(args), args.valid_days
    )
    write_public_file(args.out, pki.certificate_to_pem(certificate))
    print(
        f"issued list signer {args.out} kid {pki.kid_of(certificate).hex()} "
        f"valid until {certificate.not_valid_after_utc.isoformat()}; install it beside the signer's key"
    )
    return ExitCode.OK


def _revoke_signer(args: argparse.Namespace) -> ExitCode:
    kid, reason = _target(args)
    revocations = SignerCa(CaStore(args.dir)).revoke(kid, reason, now_from(args), passphrase_source(args, "root key"))
    print(
        f"revoked list signer {kid.hex()} ({args.reason}); signer revocations sequence {revocations.sequence} "
        f"in {args.dir / 'signer-revocations.cose'}: publish a trust list signed by another signer now"
    )
    return ExitCode.OK
