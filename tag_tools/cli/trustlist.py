"""`cylinder-tag trustlist build | show`: the bureau publishes which centres stations trust.

`build --signer-key/--signer-cert` signs with a list signer's key file (the root stays offline);
without them it signs with the root key, the deprecated form kept for the migration. A signer held
in an HSM signs through the `cylinder-signer` process instead (`cylinder-signer sign-trust-list`)."""

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from tag_tools import pki
from tag_tools.ca_store import CaStore
from tag_tools.cli.common import add_now_option, add_passphrase_options, now_from, passphrase_source, read_certificate, read_input
from tag_tools.cli.exit_codes import ExitCode
from tag_tools.errors import InputError
from tag_tools.keys import read_private_key, write_public_file
from tag_tools.signer_ca import SignerCa
from tag_tools.trustlist import TrustList, build_trust_list, parse_trust_list


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    trustlist = subparsers.add_parser("trustlist", help="build or show the signed trust list")
    commands = trustlist.add_subparsers(dest="trustlist_command", required=True, metavar="TRUSTLIST_COMMAND")
    build = commands.add_parser("build", help="sign a new trust list from the CA folder")
    build.add_argument("--dir", type=Path, required=True, help="CA folder")
    build.add_argument("--out", type=Path, required=True, help="trust list file to write")
    build.add_argument("--valid-days", type=int, default=14, help="days until the list expires (default 14)")
    build.add_argument("--signer-key", type=Path, help="the list signer's encrypted key (then the passphrase is its)")
    build.add_argument("--signer-cert", type=Path, help="the list signer's certificate (with --signer-key)")
    add_passphrase_options(build, "root key, or with --signer-key the signer key,")
    add_now_option(build)
    build.set_defaults(handler=_build)

    show = commands.add_parser("show", help="check a trust list against the root and list its contents")
    show.add_argument("trust_list", type=Path)
    show.add_argument("--root-cert", type=Path, required=True)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)


def _build(args: argparse.Namespace) -> ExitCode:
    if args.valid_days < 1:
        raise InputError("--valid-days must be at least 1")
    if (args.signer_key is None) != (args.signer_cert is None):
        raise InputError("--signer-key and --signer-cert go together")
    valid_for = timedelta(days=args.valid_days)
    if args.signer_key is None:
        signed, trust_list = CaStore(args.dir).build_trust_list(passphrase_source(args, "root key"), now_from(args), valid_for)
    else:
        store = CaStore(args.dir)
        trust_list = SignerCa(store).trust_list_content(now_from(args), valid_for)
        key = read_private_key(args.signer_key, passphrase_source(args, "signer key"))
        signer = read_certificate(args.signer_cert, "signer certificate")
        signed = build_trust_list(trust_list, store.root_certificate(), key, signer)
    write_public_file(args.out, signed)
    print(
        f"trust list {args.out}: sequence {trust_list.sequence}, {len(trust_list.centres)} centres, "
        f"{len(trust_list.revoked)} revoked, expires {trust_list.expires_at.isoformat()}"
    )
    return ExitCode.OK


def trust_list_summary(trust_list: TrustList) -> dict[str, Any]:
    centres = []
    for certificate in trust_list.centres:
        identity = pki.centre_identity(certificate)
        centres.append(
            {
                "kid": pki.kid_of(certificate).hex(),
                "centre_id": identity.centre_id,
                "region": identity.region,
                "not_after": certificate.not_valid_after_utc.isoformat(),
            }
        )
    revoked = [
        {"kid": r.kid.hex(), "revoked_at": r.revoked_at.isoformat(), "reason": r.reason.name.lower()} for r in trust_list.revoked
    ]
    return {
        "signed_by": pki.kid_of(trust_list.signed_by).hex() if trust_list.signed_by else "root (deprecated)",
        "list_signers": [
            {"kid": pki.kid_of(c).hex(), "not_after": c.not_valid_after_utc.isoformat()} for c in trust_list.signers
        ],
        "revoked_list_signers": sorted(k.hex() for k in trust_list.revoked_list_signers()),
        "sequence": trust_list.sequence,
        "issued_at": trust_list.issued_at.isoformat(),
        "expires_at": trust_list.expires_at.isoformat(),
        "centres": centres,
        "revoked": revoked,
    }


def _show(args: argparse.Namespace) -> ExitCode:
    trust_list = parse_trust_list(read_input(args.trust_list, "trust list"), read_certificate(args.root_cert, "root certificate"))
    summary = trust_list_summary(trust_list)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(f"sequence {summary['sequence']}, issued {summary['issued_at']}, expires {summary['expires_at']}")
        print(f"  signed by {summary['signed_by']}")
        for signer in summary["list_signers"]:
            print(f"  list signer {signer['kid']} until {signer['not_after']}")
        for kid in summary["revoked_list_signers"]:
            print(f"  revoked list signer {kid}")
        for centre in summary["centres"]:
            print(f"  trusted {centre['kid']} centre {centre['centre_id']} region {centre['region']} until {centre['not_after']}")
        for revoked in summary["revoked"]:
            print(f"  revoked {revoked['kid']} at {revoked['revoked_at']} ({revoked['reason']})")
    return ExitCode.OK
