"""`cylinder-tag sign`: an inspection centre signs one inspection (JSON) or a batch (CSV).

In a batch a bad row is reported with its line number and reason and the other rows go on; the
exit code says whether every row was signed. Each record is written to its own file, named after
the cylinder and the tag, ready for `cylinder-tag write`.

The record's dates are the centre's local calendar dates, so "today" is the date in the centre's
time zone (`--timezone`; by default the zone of the country in the centre's certificate, else
Asia/Shanghai): a centre in China signs an inspection done at 07:00 local time on that day, which
is still the previous day in UTC.

With `--status-block FILE` (from `cylinder-tag status-block fetch`) each signed record carries the
next index of the block as its status claim (21), and the file is advanced before the record is
written (tag_tools/cli/status_block.py). Without it, records carry no status claim and stations
check them against the JSON revocation feed (schemas/status-list.md, migration).
"""

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509
from cryptography.x509.oid import NameOID
from tqdm import tqdm

from tag_tools import clerk_cells, clerk_csv, crypto, pki, rules
from tag_tools.claims import CylinderRecord, StatusReference
from tag_tools.cli.common import add_now_option, add_passphrase_options, now_from, passphrase_source, read_certificate, read_input
from tag_tools.cli.exit_codes import ExitCode
from tag_tools.cli.status_block import StatusBlock
from tag_tools.errors import InputError, TagToolsError
from tag_tools.keys import read_private_key, write_public_file
from tag_tools.record import sign_record, size_on_tag

MAX_BATCH_ROWS = 1_000_000
DEFAULT_ZONE = "Asia/Shanghai"
# A centre's certificate names its country (subject C); its zone decides the centre's "today".
# China has one civil time zone; a country with several needs --timezone.
ZONE_OF_COUNTRY = {"CN": "Asia/Shanghai"}


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    sign = subparsers.add_parser(
        "sign",
        help="sign inspection records (one JSON object, or a CSV batch)",
        description="Sign records with the centre's key. CSV columns and JSON keys are the field names "
        "shown by `cylinder-tag show --json` (issued_at and centre_id may be left out).",
    )
    source = sign.add_mutually_exclusive_group(required=True)
    source.add_argument("--json", type=Path, metavar="FILE", help="one inspection as a JSON object")
    source.add_argument(
        "--csv", type=Path, metavar="FILE", help="a batch of inspections, one per row (UTF-8, or GBK as Chinese Excel saves it)"
    )
    sign.add_argument("--key", type=Path, required=True, help="the centre's encrypted key (centre-key.pem)")
    sign.add_argument("--cert", type=Path, required=True, help="the centre's certificate from the bureau")
    sign.add_argument("--out", type=Path, required=True, help="record file (--json) or output folder (--csv)")
    sign.add_argument(
        "--errors",
        type=Path,
        metavar="FILE",
        help="with --csv: write the refused rows as typed, with an error column; correct them there and sign that file",
    )
    sign.add_argument(
        "--status-block",
        type=Path,
        metavar="FILE",
        help="give each record the next status index of this block file (`cylinder-tag status-block fetch`) and advance it",
    )
    add_passphrase_options(sign, "centre key")
    sign.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the centre's IANA time zone, whose calendar date is 'today' for the record's dates "
        f"(default: the zone of the certificate's country, else {DEFAULT_ZONE})",
    )
    add_now_option(sign)
    sign.set_defaults(handler=_sign)


@dataclass(frozen=True)
class Signer:
    key: crypto.PrivateKey
    certificate: x509.Certificate
    centre_id: str
    now: datetime
    zone: tzinfo  # the centre's: its calendar date is the one on the record

    def sign(self, fields: dict[str, Any], status_ref: StatusReference | None = None) -> tuple[CylinderRecord, bytes]:
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        if status_ref is not None:
            if "status_ref" in fields:
                raise InputError("status_ref comes from --status-block, not from the input")
            fields["status_ref"] = {"list_id": status_ref.list_id, "index": status_ref.index}
        fields.setdefault("issued_at", self.now.isoformat())
        fields.setdefault("centre_id", self.centre_id)
        try:
            record = CylinderRecord.from_json(fields)
        except (ValueError, TypeError) as error:  # includes RecordFormatError
            raise InputError(str(error)) from None
        if rules.issued_before_inspection(record.issued_at, record.inspected, self.zone):
            issued_on = rules.local_today(record.issued_at, self.zone)
            raise InputError(
                f"inspected {record.inspected.isoformat()} is after the day of issue {issued_on.isoformat()} "
                f"in {self.zone} (is --timezone right?)"
            )
        return record, sign_record(record, self.key, self.certificate)


def _sign(args: argparse.Namespace) -> ExitCode:
    certificate = read_certificate(args.cert, "certificate")
    key = read_private_key(args.key, passphrase_source(args, "centre key"))
    zone = _zone(args.timezone, certificate)
    signer = Signer(key, certificate, pki.centre_identity(certificate).centre_id, now_from(args), zone)
    block = StatusBlock.load(args.status_block) if args.status_block is not None else None
    if args.json is not None:
        return _sign_one(signer, block, args.json, args.out)
    # The clerk's row errors follow --lang once the command has it (the CLI's words move to gettext).
    language = getattr(args, "lang", None) or clerk_csv.DEFAULT_LANGUAGE
    return _sign_batch(signer, block, args.csv, args.out, args.errors, language)


def _sign_with_index(signer: Signer, block: StatusBlock | None, fields: dict[str, Any]) -> tuple[CylinderRecord, bytes]:
    """Sign one record, with the block's next index if there is a block. The index is taken only
    once the record is signed (a bad row takes none), and the block file is advanced before the
    caller writes the record file, so no index reaches two records."""
    status_ref = block.peek() if block is not None else None
    record, message = signer.sign(fields, status_ref)
    if block is not None and status_ref is not None:
        block.consume(status_ref)
    return record, message


def _zone(name: str | None, certificate: x509.Certificate) -> tzinfo:
    """--timezone, else the zone of the certificate's country, else Asia/Shanghai."""
    if name is None:
        countries = certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
        name = ZONE_OF_COUNTRY.get(str(countries[0].value) if countries else "", DEFAULT_ZONE)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone: {name!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None


def _sign_one(signer: Signer, block: StatusBlock | None, source: Path, out: Path) -> ExitCode:
    try:
        fields = json.loads(read_input(source, "inspection JSON"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{source} is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise InputError(f"{source} must hold one JSON object")
    record, message = _sign_with_index(signer, block, fields)
    write_public_file(out, message)
    print(f"signed {record.cylinder_id} for tag {record.tag_uid.hex().upper()}: {out} ({size_on_tag(message)} bytes on the tag)")
    return ExitCode.OK


def _sign_batch(
    signer: Signer,
    block: StatusBlock | None,
    source: Path,
    out_dir: Path,
    errors_path: Path | None,
    language: str = clerk_csv.DEFAULT_LANGUAGE,
) -> ExitCode:
    """Sign each row of a clerk's CSV (tag_tools.clerk_csv: UTF-8 or GBK as Excel saves it); a bad
    row is reported with its line and, with --errors, written back as typed with the reason."""
    try:
        table = clerk_csv.read(read_input(source, "CSV batch"), language, MAX_BATCH_ROWS)
        clerk_csv.check_columns(table, clerk_cells.INSPECTION_REQUIRED, clerk_cells.INSPECTION_COLUMNS, language)
    except clerk_csv.ClerkFileError as error:
        raise InputError(f"{source}: {error}") from None
    rejected: list[tuple[clerk_csv.ClerkRow, str]] = []
    signed = 0
    for row in tqdm(table.rows, desc="signing", unit="record", file=sys.stderr, disable=None):
        try:
            record, message = _sign_with_index(signer, block, clerk_cells.inspection_fields(row, language))
            write_public_file(out_dir / f"{record.cylinder_id}_{record.tag_uid.hex().upper()}.ndef", message)
            signed += 1
        except TagToolsError as error:
            rejected.append((row, str(error)))
    for row, reason in rejected:
        print(f"{source}:{row.line}: {reason}", file=sys.stderr)
    if errors_path is not None:
        write_public_file(errors_path, clerk_csv.rejects_csv(table, rejected))
    print(f"signed {signed} of {len(table.rows)} rows into {out_dir}; {len(rejected)} failed")
    return ExitCode.OK if not rejected else ExitCode.BAD_INPUT
