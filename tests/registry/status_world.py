"""Shared by the status-list tests: a registry at the real time (the list signer checks a list's
issue time against its own clock), the real `cylinder-signer serve` process, the registry served
over real HTTP for `cylinder-tag status-block fetch`, and a centre that signs with `cylinder-tag sign`."""

from __future__ import annotations

import base64
import csv
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from tag_tools import pki as tag_pki
from tag_tools.claims import CylinderId
from tag_tools.cli.main import main as cylinder_tag
from tag_tools.keys import write_private_key, write_public_file
from tests.registry.conftest import Clock, World
from tests.testkit import TestPki, typical_record

CENTRE_PASSPHRASE = "centre passphrase for status tests"


class LiveClock(Clock):
    """The real clock; `now` stays the instant the test began (the test PKI is made at it)."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


def live_clock() -> LiveClock:
    return LiveClock(datetime.now(UTC).replace(microsecond=0))


def cylinder(number: int) -> str:
    return str(CylinderId(156, 4101, number))


def uid(number: int) -> bytes:
    return bytes.fromhex("04A2C4D2E1") + number.to_bytes(2, "big")


@dataclass
class Centre:
    """Centre ZZTJ01's key and certificate on disk, signing with the real command line."""

    folder: Path
    pki: TestPki

    def __post_init__(self) -> None:
        write_private_key(self.folder / "centre-key.pem", self.pki.centre_key, CENTRE_PASSPHRASE.encode())
        (self.folder / "passphrase").write_text(CENTRE_PASSPHRASE)
        write_public_file(self.folder / "cert.pem", tag_pki.certificate_to_pem(self.pki.centre_certificate))

    def row(self, number: int, sequence: int = 3, **changes: Any) -> dict[str, Any]:
        fields = typical_record(
            uid(number),
            self.pki.now,
            cylinder_id=CylinderId(156, 4101, number),
            sequence=sequence,
            report_number=f"R-{number}-{sequence}",
        ).to_json()
        for generated in ("issued_at", "centre_id", "status_ref"):
            fields.pop(generated, None)
        return {**fields, **changes}

    def sign_csv(self, rows: list[dict[str, Any]], block: Path, out: Path, name: str = "batch.csv") -> int:
        with (self.folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return cylinder_tag([
            "sign", "--csv", str(self.folder / name), "--key", str(self.folder / "centre-key.pem"),
            "--cert", str(self.folder / "cert.pem"), "--out", str(out), "--status-block", str(block),
            "--now", self.pki.now.isoformat(), "--passphrase-file", str(self.folder / "passphrase"),
        ])  # fmt: skip


def record_file(out: Path, number: int) -> bytes:
    return (out / f"{cylinder(number)}_{uid(number).hex().upper()}.ndef").read_bytes()


def upload(client: FlaskClient, world: World, record: bytes, who: str = "centre") -> TestResponse:
    return client.post("/api/v1/inspections", json={"record": base64.b64encode(record).decode()}, headers=world.auth(who))


def serve_http(app: Flask) -> Iterator[str]:
    """The app on a real HTTP port (a thread), for command-line tools that speak HTTP."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
