"""The demo on embedded defaults: the bureau, an inspection centre and a station, with no hardware.

It drives the real `cylinder-tag` command in-process, step by step, in a fresh folder:
bureau CA -> centre key and CSR -> centre certificate -> trust list -> a CSV batch of inspections
(one row deliberately bad) -> a station's verdict on each cylinder -> a forged and a moved record.
Passphrases come from environment variables, as a script at a real centre would give them.
It lives with the command it drives (`python -m tag_tools.cli.demo`): the format core below never
imports the command line.
"""

import argparse
import csv
import os
import secrets
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cbor2

from tag_tools import cbor_codec, cose, ndef_record
from tag_tools.claims import Key
from tag_tools.cli.main import main as cylinder_tag

ROOT_PASSPHRASE_ENV = "DEMO_ROOT_PASSPHRASE"
CENTRE_PASSPHRASE_ENV = "DEMO_CENTRE_PASSPHRASE"


def run(title: str, *argv: str) -> int:
    print(f"\n$ cylinder-tag {' '.join(argv)}    # {title}", flush=True)
    code = cylinder_tag(list(argv))
    sys.stdout.flush()
    return code


def cylinders(today: date) -> list[dict[str, str]]:
    """Four cylinders a station meets every day, and one row an inspector typed wrongly."""

    def row(uid: str, number: int, plate: str, vin: str, inspected: date, next_due: date, end_of_life: date) -> dict[str, str]:
        return {
            "serial": f"TH2019CNG2-{number:09d}",
            "cylinder_id": f"156-4101-{number}",
            "manufacturer": "TIANHAI",
            "kind": "CNG-2",
            "working_pressure_dmpa": "200",
            "water_capacity_dl": "800",
            "manufactured": "2012-03-01" if end_of_life < today else "2019-06-01",
            "inspected": inspected.isoformat(),
            "result": "passed",
            "next_due": next_due.isoformat(),
            "end_of_life": end_of_life.isoformat(),
            "plate": plate,
            "vin": vin,
            "vehicle_cylinders": "1",
            "report_number": f"2026-{number % 1000000:06d}",
            "sequence": "1",
            "tag_uid": uid,
        }

    year = timedelta(days=365)
    return [
        row(
            "04A2C4D2E15A80",
            19012345,
            "豫A8M2K7",
            "LSVAU2180N2183744",
            today - timedelta(days=30),
            today + 3 * year,
            date(2034, 5, 31),
        ),
        row(
            "04A2C4D2E15A81",
            19012346,
            "豫A3Q7T1",
            "LFV2A21K0N3047712",
            today - 3 * year + timedelta(days=20),
            today + timedelta(days=12),
            date(2034, 5, 31),
        ),
        row(
            "04A2C4D2E15A82",
            19012347,
            "豫AD5521",
            "LGBH52E05NY118406",
            today - 3 * year - timedelta(days=40),
            today - timedelta(days=40),
            date(2034, 5, 31),
        ),
        row(
            "04A2C4D2E15A83",
            12004411,
            "豫A1P0X9",
            "LSGJA52U8CH094517",
            today - timedelta(days=200),
            today + 2 * year,
            today - timedelta(days=60),
        ),
        {**row("04A2C4D2E15A84", 19012348, "豫A66666", "NOT-A-VIN", today, today + year, date(2034, 5, 31))},
    ]


def postpone_due_date(message: bytes, days: int) -> bytes:
    """What a forger would do: push the next-due date back and keep the original signature."""
    envelope = cose.parse_sign1(ndef_record.record_payload(message))
    claims = cbor_codec.decode(envelope.payload, "claims")
    claims[Key.NEXT_DUE] += days
    forged = cbor2.CBORTag(cose.COSE_SIGN1_TAG, [envelope.protected, {}, cbor_codec.encode(claims), envelope.signature])
    return ndef_record.encode_message(cbor_codec.encode(forged))


def demo(workdir: Path) -> int:
    os.environ.setdefault(ROOT_PASSPHRASE_ENV, secrets.token_urlsafe(24))
    os.environ.setdefault(CENTRE_PASSPHRASE_ENV, secrets.token_urlsafe(24))
    root_pass = ["--passphrase-env", ROOT_PASSPHRASE_ENV]
    centre_pass = ["--passphrase-env", CENTRE_PASSPHRASE_ENV]
    ca, centre, records = workdir / "bureau-ca", workdir / "centre", workdir / "records"
    today = datetime.now(UTC).date()

    print("== The bureau creates its root CA; the inspection centre asks for a signing certificate ==")
    run(
        "bureau: root key (encrypted) and root certificate",
        "ca",
        "init",
        "--dir",
        str(ca),
        "--name",
        "郑州市质量技术监督局 tag root",
        *root_pass,
    )
    run(
        "centre: signing key and CSR",
        "centre",
        "keygen",
        "--dir",
        str(centre),
        "--centre-id",
        "ZZTJ01",
        "--region",
        "410105",
        "--name",
        "郑州市特种设备检验所",
        *centre_pass,
    )
    run(
        "bureau: certify the centre",
        "ca",
        "issue",
        "--dir",
        str(ca),
        "--csr",
        str(centre / "centre.csr.pem"),
        "--out",
        str(centre / "centre-cert.pem"),
        *root_pass,
    )
    run(
        "bureau: publish the trust list stations download",
        "trustlist",
        "build",
        "--dir",
        str(ca),
        "--out",
        str(workdir / "trust-list.cose"),
        *root_pass,
    )

    print("\n== The centre signs a batch of inspections (one row is wrong: it is reported, the rest proceed) ==")
    batch = workdir / "inspections.csv"
    rows = cylinders(today)
    with batch.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run(
        "centre: sign the batch",
        "sign",
        "--csv",
        str(batch),
        "--key",
        str(centre / "centre-key.pem"),
        "--cert",
        str(centre / "centre-cert.pem"),
        "--out",
        str(records),
        "--errors",
        str(workdir / "errors.csv"),
        *centre_pass,
    )

    print("\n== A station verifies each tag offline ==")
    trust = ["--trust-list", str(workdir / "trust-list.cose"), "--root-cert", str(ca / "root-cert.pem")]
    labels = ["valid", "due in 12 days", "overdue", "past design service life"]
    outcomes = []
    for label, row in zip(labels, rows[:4], strict=True):
        record = records / f"{row['cylinder_id']}_{row['tag_uid']}.ndef"
        outcomes.append(run(f"{label} ({row['plate']})", "verify", str(record), "--uid", row["tag_uid"], *trust))

    first = rows[0]
    record = records / f"{first['cylinder_id']}_{first['tag_uid']}.ndef"
    forged = workdir / "forged.ndef"
    forged.write_bytes(postpone_due_date(record.read_bytes(), days=3 * 365))
    run("forged: next-due date moved 3 years on, signature kept", "verify", str(forged), "--uid", first["tag_uid"], *trust)
    run("moved: the valid record copied onto another tag", "verify", str(record), "--uid", "04FFEE11223344", *trust)
    run("what the record says (for people)", "show", str(record))
    print(f"\nDemo files are in {workdir}. Next: README.md and docs/ for readers, the registry and the station agent.")
    expected = [0, 0, 1, 1]
    return 0 if outcomes == expected else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("demo-output"), help="work folder (emptied first)")
    args = parser.parse_args(argv)
    if args.dir.exists():
        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    return demo(args.dir)


if __name__ == "__main__":
    sys.exit(main())
