"""`cylinder-tag read`, `write` and `emulate`: real tags on real readers, and emulated tags behind
the real driver stacks (nfcpy udp, pcscd + vpcd). Reader paths: see docs/readers.md."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from datetime import timedelta
from pathlib import Path

from tag_tools.cli.common import (
    add_lang_option,
    add_now_option,
    add_timezone_option,
    now_from,
    parse_hex,
    read_certificate,
    read_input,
    zone_from,
)
from tag_tools.cli.exit_codes import ExitCode
from tag_tools.errors import InputError
from tag_tools.ntag import NXP_NTAG21X_PUBLIC_KEY
from tag_tools.verdict import ChipEvidence, Decision, Verdict

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    read = subparsers.add_parser("read", help="read a tag on a reader; decide as a station would with --trust-list")
    _add_reader_options(read)
    read.add_argument("--json", action="store_true", help="print what was read (and the verdict) as JSON")
    read.add_argument("--trust-list", type=Path, help="verify the record against this trust list")
    read.add_argument("--root-cert", type=Path, help="the pinned bureau root certificate (with --trust-list)")
    read.add_argument("--max-age-days", type=float, default=7.0, help="oldest trust list to accept (default 7)")
    read.add_argument("--allow-non-genuine", action="store_true", help="a non-genuine chip only warns")
    read.add_argument(
        "--originality-key",
        metavar="HEX",
        help="check the chip's originality signature against this secp128r1 key instead of NXP's (emulators, tests)",
    )
    add_lang_option(read)
    add_now_option(read)
    add_timezone_option(read)
    read.set_defaults(handler=_read)

    write = subparsers.add_parser("write", help="write an NDEF message to a tag, verify it, and lock the tag")
    _add_reader_options(write)
    write.add_argument("record", type=Path, help="file holding the NDEF message (as `cylinder-tag sign` writes it)")
    write.add_argument("--no-lock", action="store_true", help="leave the tag writable (default: lock it for good)")
    write.set_defaults(handler=_write)

    emulate = subparsers.add_parser("emulate", help="serve an emulated NTAG from an image file until interrupted")
    emulate.add_argument("--image", type=Path, required=True, help="tag image (JSON, see docs/readers.md)")
    where = emulate.add_mutually_exclusive_group(required=True)
    where.add_argument("--udp", type=int, metavar="PORT", help="on nfcpy's udp driver: read it as nfcpy:udp:HOST:PORT")
    where.add_argument("--vpcd", type=int, metavar="PORT", help="as a virtual card on pcscd's vpcd driver (Debian: 35963)")
    emulate.add_argument("--host", default="localhost", help="vpcd: where pcscd runs (udp: nfcpy listens on all interfaces)")
    emulate.add_argument("--save", type=Path, metavar="FILE", help="write the tag image here on exit (keeps writes)")
    emulate.set_defaults(handler=_emulate)


def _add_reader_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reader", required=True, metavar="PATH", help="nfcpy:usb[:VID:PID], nfcpy:tty:..., nfcpy:udp:HOST:PORT, pcsc[:NAME]"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a tag (default 10)")


def _read(args: argparse.Namespace) -> ExitCode:
    from tag_tools.readers import ReadOptions, open_reader, read_tag

    if (args.trust_list is None) != (args.root_cert is None):
        raise InputError("--trust-list and --root-cert go together")
    key = parse_hex(args.originality_key, "--originality-key") if args.originality_key else NXP_NTAG21X_PUBLIC_KEY
    with open_reader(args.reader) as reader:
        tag = read_tag(reader, timeout=args.timeout, options=ReadOptions(originality_key=key))
    verdict = _verdict(args, tag.uid, tag.ndef_message or b"", tag.chip_evidence()) if args.trust_list else None
    if args.json:
        document: dict[str, object] = {"tag": tag.to_json()}
        if verdict is not None:
            document["verdict"] = verdict.to_json()
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        counter = "n/a" if tag.read_counter is None else str(tag.read_counter)
        size = "none" if tag.ndef_message is None else f"{len(tag.ndef_message)} bytes"
        print(f"UID {tag.uid.hex()}  chip {tag.chip}  originality {tag.originality.value}  read counter {counter}")
        print(f"NDEF message {size}{'  (read-only)' if tag.read_only else ''}  {tag.round_trips} round trips")
        if verdict is not None:
            from tag_tools.cli.inspect import format_verdict

            print(format_verdict(verdict, args.lang))
    if verdict is not None and verdict.decision is Decision.REFUSE:
        return ExitCode.REFUSED
    return ExitCode.OK


def _verdict(args: argparse.Namespace, uid: bytes, message: bytes, chip: ChipEvidence) -> Verdict:
    from tag_tools.trustlist import TrustStore
    from tag_tools.verify import VerificationPolicy, verify_tag

    trust = TrustStore.load(
        read_certificate(args.root_cert, "root certificate"),
        read_input(args.trust_list, "trust list"),
        timedelta(days=args.max_age_days),
    )
    policy = VerificationPolicy(refuse_non_genuine_chip=not args.allow_non_genuine, local_timezone=zone_from(args))
    return verify_tag(uid, message, trust=trust, now=now_from(args), chip=chip, policy=policy)


def _write(args: argparse.Namespace) -> ExitCode:
    from tag_tools.readers import open_reader, write_tag

    message = read_input(args.record, "record")
    if not message:
        raise InputError(f"{args.record} is empty")
    with open_reader(args.reader) as reader:
        result = write_tag(reader, message, lock=not args.no_lock, timeout=args.timeout)
    state = "locked" if result.locked else "left writable"
    print(f"wrote {len(message)} bytes ({result.pages_written} pages) to {result.chip} {result.uid.hex()}, verified, {state}")
    return ExitCode.OK


def _emulate(args: argparse.Namespace) -> ExitCode:
    from tag_tools.emulation.image import load_image, save_image
    from tag_tools.emulation.nfcpy_udp_target import UdpTagTarget
    from tag_tools.emulation.vpcd_card import VpcdCard

    image = load_image(args.image)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server: UdpTagTarget | VpcdCard
    if args.udp is not None:
        server = UdpTagTarget(image.emulator, args.udp, host=args.host, sel_res=image.sel_res).start()
        where = f"nfcpy:udp:{args.host}:{args.udp}"
    else:
        server = VpcdCard(image.emulator, args.vpcd, host=args.host, atr=image.card_atr).start()
        where = f"vpcd {args.host}:{args.vpcd} (read it as pcsc:Virtual PCD)"
    print(f"emulating {image.emulator.chip.name} {image.emulator.uid.hex()} on {where}; Ctrl-C to stop", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if args.save is not None:
            save_image(image, args.save)
    return ExitCode.OK
