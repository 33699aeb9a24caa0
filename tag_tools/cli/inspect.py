"""`cylinder-tag verify` and `cylinder-tag show`: what a station would decide, and what a record says."""

import argparse
import json
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
from tag_tools.labels import DEFAULT_LOCALE, claim_label, decision_text, reason_text, tag_text
from tag_tools.messages import SOURCE_LOCALE, language_of
from tag_tools.record import decode_unverified, size_on_tag
from tag_tools.revocations import NO_REVOCATIONS, Revocations, revocations_from_json
from tag_tools.trustlist import TrustStore
from tag_tools.verdict import Decision, Verdict
from tag_tools.verify import TagMemory, VerificationPolicy, verify_tag


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    verify = subparsers.add_parser("verify", help="decide as a station would: allow, allow with warning, or refuse")
    verify.add_argument("record", type=Path, help="record file (NDEF message), or a tag memory dump with --memory")
    verify.add_argument("--uid", required=True, help="UID of the tag the record was read from (hex)")
    verify.add_argument("--trust-list", type=Path, required=True)
    verify.add_argument("--root-cert", type=Path, required=True, help="the pinned bureau root certificate")
    verify.add_argument("--revocations", type=Path, help="JSON: revoked cylinders and latest record sequences")
    verify.add_argument("--memory", action="store_true", help="the file is a whole tag memory image from page 0")
    verify.add_argument("--max-age-days", type=float, default=7.0, help="oldest trust list to accept (default 7)")
    verify.add_argument("--warning-days", type=int, default=30, help="warn when due within this many days (default 30)")
    verify.add_argument("--allow-non-genuine", action="store_true", help="a non-genuine chip only warns")
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    add_lang_option(verify)
    add_now_option(verify)
    add_timezone_option(verify)
    verify.set_defaults(handler=_verify)

    show = subparsers.add_parser("show", help="decode a record for people, without verifying it")
    show.add_argument("record", type=Path, help="record file (NDEF message)")
    show.add_argument("--json", action="store_true")
    add_lang_option(show)
    show.set_defaults(handler=_show)


def _verify(args: argparse.Namespace) -> ExitCode:
    data = read_input(args.record, "record")
    trust = TrustStore.load(
        read_certificate(args.root_cert, "root certificate"),
        read_input(args.trust_list, "trust list"),
        timedelta(days=args.max_age_days),
    )
    policy = VerificationPolicy(
        warning_days=args.warning_days, refuse_non_genuine_chip=not args.allow_non_genuine, local_timezone=zone_from(args)
    )
    verdict = verify_tag(
        parse_hex(args.uid, "--uid"),
        TagMemory(data) if args.memory else data,
        trust=trust,
        now=now_from(args),
        revocations=_revocations(args.revocations),
        policy=policy,
    )
    if args.json:
        print(json.dumps(verdict.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_verdict(verdict, args.lang))
    return ExitCode.REFUSED if verdict.decision is Decision.REFUSE else ExitCode.OK


def _revocations(path: Path | None) -> Revocations:
    if path is None:
        return NO_REVOCATIONS
    try:
        return revocations_from_json(json.loads(read_input(path, "revocations")))
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: {error}") from None


def format_verdict(verdict: Verdict, lang: str = DEFAULT_LOCALE) -> str:
    lines = [f"{verdict.decision.value.upper()}  {decision_text(verdict.decision, lang)}"]
    lines += [f"  - {reason.value}: {reason_text(reason, lang)}" for reason in verdict.reasons]
    if verdict.detail:
        lines.append(f"  ({verdict.detail})")
    if verdict.record is not None:
        record = verdict.record
        lines.append(f"  {claim_label('plate', lang)} {record.plate}  {claim_label('cylinder_id', lang)} {record.cylinder_id}")
        lines.append(
            f"  {claim_label('next_due', lang)} {record.next_due.isoformat()}  {claim_label('end_of_life', lang)} {record.end_of_life.isoformat()}"
        )
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> ExitCode:
    message = read_input(args.record, "record")
    decoded = decode_unverified(message)
    fields = decoded.record.to_json()
    if args.json:
        print(
            json.dumps(
                {
                    "unverified": True,
                    "kid": decoded.envelope.kid.hex(),
                    "algorithm": decoded.envelope.algorithm,
                    "size_on_tag": size_on_tag(message),
                    "claims": fields,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return ExitCode.OK
    print(tag_text("show.unverified", args.lang))
    # English labels first, as a column a script or a colleague can read, then the asked-for language's.
    english = {name: claim_label(name, SOURCE_LOCALE) for name in fields}
    width = max(map(len, english.values()))
    bilingual = language_of(args.lang) != SOURCE_LOCALE
    for name, value in fields.items():
        label = f"  {claim_label(name, args.lang)}" if bilingual else ""
        print(f"{english[name]:<{width}}{label}: {value}")
    print(
        f"signer kid {decoded.envelope.kid.hex()}, algorithm {decoded.envelope.algorithm}, {size_on_tag(message)} bytes on the tag"
    )
    return ExitCode.OK
