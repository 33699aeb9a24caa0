"""`cylinder-tag ca init | issue | revoke`: the bureau's certificate authority."""

import argparse
from pathlib import Path

from tag_tools import pki
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
from tag_tools.keys import write_public_file
from tag_tools.trustlist import RevocationReason


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
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--cert", type=Path, help="the centre certificate to revoke")
    target.add_argument("--kid", help="its kid (16 hex digits)")
    revoke.add_argument("--reason", required=True, choices=[r.name.lower().replace("_", "-") for r in RevocationReason])
    add_now_option(revoke)
    revoke.set_defaults(handler=_revoke)


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
    kid = pki.kid_of(pki.load_certificate(read_input(args.cert, "certificate"))) if args.cert else parse_hex(args.kid, "--kid")
    reason = RevocationReason[args.reason.upper().replace("-", "_")]
    CaStore(args.dir).revoke(kid, reason, now_from(args))
    print(f"revoked {kid.hex()} ({args.reason}); publish a new trust list with `cylinder-tag trustlist build`")
    return ExitCode.OK
