"""`cylinder-tag read`, `write` and `emulate`, end to end through the real stacks."""

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tag_tools import ntag
from tag_tools.cli.exit_codes import ExitCode
from tag_tools.cli.main import main
from tag_tools.emulation.image import TagImage, load_image, save_image
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tests.peers import free_udp_port
from tests.rigs import Rig
from tests.testkit import TestPki

ROOT = Path(__file__).parents[2]


@pytest.fixture
def trust_files(tmp_path: Path, test_pki: TestPki) -> list[str]:
    (tmp_path / "trust.cbor").write_bytes(test_pki.trust_list_bytes)
    (tmp_path / "root.pem").write_bytes(test_pki.root_certificate_pem)
    return ["--trust-list", str(tmp_path / "trust.cbor"), "--root-cert", str(tmp_path / "root.pem")]


def read_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out) if code in (ExitCode.OK, ExitCode.REFUSED) else {}


def test_write_then_read_with_verdict(
    udp_rig: Rig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    originality_keys: tuple[bytes, bytes],
    trust_files: list[str],
    uid: bytes,
    signed_message: bytes,
    now: datetime,
) -> None:
    udp_rig.present(NtagEmulator.blank(uid, signature=ntag.sign_uid(uid, originality_keys[0])))
    record = tmp_path / "record.ndef"
    record.write_bytes(signed_message)
    reader = ["--reader", udp_rig.reader_path, "--timeout", "10"]
    assert main(["write", *reader, str(record)]) == ExitCode.OK
    assert "locked" in capsys.readouterr().out

    key = ["--originality-key", originality_keys[1].hex()]
    code, document = read_json(capsys, ["read", *reader, "--json", *trust_files, *key, "--now", now.isoformat()])
    assert code == ExitCode.OK
    assert document["verdict"]["decision"] == "allow"
    assert document["tag"]["originality"] == "genuine" and document["tag"]["uid"] == uid.hex()

    # Without the test key, NXP's key is used and the emulated chip is refused as not genuine.
    code, document = read_json(capsys, ["read", *reader, "--json", *trust_files, "--now", now.isoformat()])
    assert code == ExitCode.REFUSED
    assert "chip_not_genuine" in document["verdict"]["reasons"]

    assert main(["write", *reader, str(record)]) == ExitCode.READER_ERROR
    assert "read-only" in capsys.readouterr().err


def test_read_without_trust_list_and_errors(udp_rig: Rig, capsys: pytest.CaptureFixture[str], uid: bytes) -> None:
    udp_rig.present(NtagEmulator.blank(uid))
    assert main(["read", "--reader", udp_rig.reader_path]) == ExitCode.OK
    out = capsys.readouterr().out
    assert uid.hex() in out and "NTAG215" in out and "round trips" in out
    udp_rig.empty()
    assert main(["read", "--reader", udp_rig.reader_path, "--timeout", "0.3"]) == ExitCode.READER_ERROR
    assert "no tag" in capsys.readouterr().err
    assert main(["read", "--reader", "bogus:path"]) == ExitCode.READER_ERROR


def _emulate(image: Path, *where: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tag_tools.cli.main", "emulate", "--image", str(image), *where, "--save", str(image)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "emulating NTAG215" in line, line + process.stderr.read() if process.stderr else ""
    return process


@pytest.mark.parametrize("stack", ["udp", "vpcd"])
def test_emulate_command(
    stack: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    uid: bytes,
    signed_message: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = tmp_path / "tag.json"
    save_image(TagImage(NtagEmulator.blank(uid)), image)
    if stack == "udp":
        port = free_udp_port()
        process, reader = _emulate(image, "--udp", str(port)), f"nfcpy:udp:localhost:{port}"
    else:
        vpcd_rig = request.getfixturevalue("vpcd_rig")
        # vpcd's second slot, "Virtual PCD 00 01", listens on the next port: the rig uses the first.
        process, reader = _emulate(image, "--vpcd", str(vpcd_rig.pcscd.port + 1)), "pcsc:Virtual PCD 00 01"
    try:
        record = tmp_path / "record.ndef"
        record.write_bytes(signed_message)
        assert main(["write", "--reader", reader, "--timeout", "10", str(record), "--no-lock"]) == ExitCode.OK
        code, document = read_json(capsys, ["read", "--reader", reader, "--timeout", "10", "--json"])
        assert code == ExitCode.OK and document["tag"]["ndef_message"] == signed_message.hex()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    saved = load_image(image).emulator
    assert saved.page(5) == signed_message[2:6]  # page 4 is TLV header (03 F1) and the first 2 bytes
