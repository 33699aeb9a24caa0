"""`cylinder-signer`: the list signer's process and its key chores.

cylinder-signer keygen      make the key (file or on the token) and print its public key
cylinder-signer public-key  print the public key for `cylinder-tag ca issue-signer`
cylinder-signer serve       answer signing requests on a Unix socket
cylinder-signer sign-trust-list   ask a running signer to sign the next trust list of a CA folder
"""

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType

from list_signer.client import SignerClient
from list_signer.errors import SignerError
from list_signer.keysource import add_key_options, generate_signing_key, load_signing_key
from list_signer.pkcs11_key import public_key_pem
from list_signer.server import bind, serve
from list_signer.service import Signer, SignerPolicy
from list_signer.state import StateDir
from tag_tools import crypto, pki
from tag_tools.ca_store import CaStore, utc_now
from tag_tools.errors import TagToolsError
from tag_tools.keys import write_public_file
from tag_tools.signer_ca import SignerCa

log = logging.getLogger("cylinder-signer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cylinder-signer", description="The bureau's list signer (trust and status lists).")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keygen = commands.add_parser("keygen", help="create the signing key and print its public key (PEM)")
    add_key_options(keygen)
    keygen.add_argument("--algorithm", choices=["ed25519", "es256"], default="ed25519")
    keygen.add_argument("--public-key-out", type=Path, help="also write the public key here")
    keygen.set_defaults(handler=_keygen)

    public = commands.add_parser("public-key", help="print the signing key's public key (PEM)")
    add_key_options(public)
    public.set_defaults(handler=_public_key)

    run = commands.add_parser("serve", help="answer signing requests on a Unix socket")
    add_key_options(run)
    run.add_argument("--cert", type=Path, required=True, help="the signer certificate the root issued (PEM)")
    run.add_argument("--root-cert", type=Path, required=True, help="the bureau root certificate (PEM)")
    run.add_argument("--socket", type=Path, required=True, help="Unix socket to listen on (created mode 0660)")
    run.add_argument("--socket-group", help="group of the socket: the one the registry's user is in")
    run.add_argument("--state-dir", type=Path, required=True, help="the signer's own directory (0700): what it last signed")
    run.add_argument("--max-validity-days", type=float, default=15.0, help="longest list validity it signs (default 15)")
    run.set_defaults(handler=_serve)

    trust = commands.add_parser("sign-trust-list", help="ask a running signer to sign the next trust list of a CA folder")
    trust.add_argument("--socket", type=Path, required=True)
    trust.add_argument("--ca-dir", type=Path, required=True, help="the CA folder (certificates and revocations; no key needed)")
    trust.add_argument("--valid-days", type=float, default=14.0)
    trust.add_argument("--out", type=Path, required=True)
    trust.set_defaults(handler=_sign_trust_list)
    return parser


def _keygen(args: argparse.Namespace) -> int:
    key = generate_signing_key(args, crypto.Algorithm.from_name(args.algorithm))
    return _print_public(key, args.public_key_out)


def _public_key(args: argparse.Namespace) -> int:
    return _print_public(load_signing_key(args), None)


def _print_public(key: crypto.PrivateKey, out: Path | None) -> int:
    pem = public_key_pem(key)
    if out is not None:
        write_public_file(out, pem)
    sys.stdout.write(pem.decode("ascii"))
    return 0


def _serve(args: argparse.Namespace) -> int:
    state = StateDir(args.state_dir)
    state.prepare()
    signer = Signer(
        load_signing_key(args),
        pki.load_certificate(args.cert.read_bytes()),
        pki.load_certificate(args.root_cert.read_bytes()),
        state,
        policy=SignerPolicy(max_validity=timedelta(days=args.max_validity_days)),
    )
    listener = bind(args.socket, args.socket_group)

    def stop(signum: int, frame: FrameType | None) -> None:
        listener.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.warning("list signer %s listening on %s", signer.kid.hex(), args.socket)
    print(f"ready {signer.kid.hex()}", flush=True)  # tests and systemd (Type=simple) read this line
    try:
        serve(signer, listener)
    finally:
        args.socket.unlink(missing_ok=True)
    return 0


def _sign_trust_list(args: argparse.Namespace) -> int:
    content = SignerCa(CaStore(args.ca_dir)).trust_list_content(utc_now(), timedelta(days=args.valid_days))
    signed = SignerClient(args.socket).sign_trust_list(content)
    write_public_file(args.out, signed)
    print(f"trust list {args.out}: sequence {content.sequence}, {len(content.centres)} centres")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    try:
        return int(args.handler(args))
    except (SignerError, TagToolsError) as error:
        print(f"cylinder-signer: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"cylinder-signer: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
