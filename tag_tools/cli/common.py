"""Options and parsing shared by the `cylinder-tag` subcommands."""

import argparse
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509

from tag_tools import labels, pki
from tag_tools.errors import InputError
from tag_tools.keys import PassphraseSource
from tag_tools.messages import locale_names


def add_passphrase_options(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--passphrase-file", type=Path, metavar="FILE", help=f"read the {what} passphrase from FILE")
    group.add_argument("--passphrase-env", metavar="VAR", help=f"read the {what} passphrase from environment variable VAR")


def passphrase_source(args: argparse.Namespace, what: str) -> PassphraseSource:
    return PassphraseSource(file=args.passphrase_file, env=args.passphrase_env, prompt_label=what)


def add_lang_option(parser: argparse.ArgumentParser) -> None:
    """--lang: any language with a catalogue of the tag's words (a deployment adds one through
    CYLINDER_LOCALE_PATH, see tag_tools.messages), by locale or language ("zh_CN", "zh", "en")."""
    parser.add_argument(
        "--lang",
        choices=locale_names(labels.DOMAIN),
        default=labels.DEFAULT_LOCALE,
        help=f"language of the words printed (default {labels.DEFAULT_LOCALE})",
    )


def add_now_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now",
        metavar="TIME",
        help="act as if it were TIME (ISO 8601 with zone, e.g. 2026-11-22T08:00:00+08:00); default: the clock",
    )


def now_from(args: argparse.Namespace) -> datetime:
    if not args.now:
        return datetime.now(UTC)
    return parse_time(args.now, "--now")


def parse_time(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InputError(f"{what}: {text!r} needs a time zone, e.g. +08:00 or Z")
    return moment.astimezone(UTC)


def parse_hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text.replace(":", "").replace(" ", ""))
    except ValueError:
        raise InputError(f"{what}: {text!r} is not hexadecimal") from None


def read_input(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {what} {path}: {error.strerror}") from None


def read_certificate(path: Path, what: str) -> x509.Certificate:
    return pki.load_certificate(read_input(path, what))


DEFAULT_READ_ZONE = "Asia/Shanghai"


def add_timezone_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        default=DEFAULT_READ_ZONE,
        help=f"judge dates in this IANA time zone, as the station does (default {DEFAULT_READ_ZONE})",
    )


def zone_from(args: argparse.Namespace) -> ZoneInfo:
    try:
        return ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone: {args.timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
