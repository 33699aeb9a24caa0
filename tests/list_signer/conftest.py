"""A real `cylinder-signer serve` process on a Unix socket, with a bureau made at the real time
(the signer checks a list's issue time against its own clock, so the fixed test clock won't do)."""

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from list_signer.client import SignerClient
from tag_tools import crypto, pki
from tag_tools.keys import write_private_key, write_public_file
from tag_tools.status_list import StatusArray, StatusValue
from tests.testkit import TestPki

PASSPHRASE = "signer test passphrase"
SIGNER = [sys.executable, "-m", "list_signer.cli"]
READY_TIMEOUT_S = 30.0


@dataclass
class SignerFiles:
    """Everything `serve` needs, in `folder`."""

    folder: Path
    pki: TestPki

    @property
    def socket(self) -> Path:
        return self.folder / "signer.sock"

    @property
    def state(self) -> Path:
        return self.folder / "state"

    @property
    def key(self) -> Path:
        return self.folder / "signer-key.pem"

    def write(self) -> "SignerFiles":
        write_private_key(self.key, self.pki.signer_key, PASSPHRASE.encode())
        (self.folder / "passphrase").write_text(PASSPHRASE)
        os.chmod(self.folder / "passphrase", 0o600)
        write_public_file(self.folder / "signer-cert.pem", pki.certificate_to_pem(self.pki.signer_certificate))
        write_public_file(self.folder / "root-cert.pem", self.pki.root_certificate_pem)
        return self

    def serve_args(self, key_options: Sequence[str] | None = None) -> list[str]:
        key = (
            list(key_options)
            if key_options is not None
            else ["--key", str(self.key), "--passphrase-file", str(self.folder / "passphrase")]
        )
        return [
            "serve",
            *key,
            "--cert", str(self.folder / "signer-cert.pem"),
            "--root-cert", str(self.folder / "root-cert.pem"),
            "--socket", str(self.socket),
            "--state-dir", str(self.state),
        ]  # fmt: skip


@dataclass
class SignerProcess:
    process: subprocess.Popen[bytes]
    socket: Path
    kid: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def client(self) -> SignerClient:
        return SignerClient(self.socket, timeout_s=60)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_signer(
    args: Sequence[str], socket: Path, prefix: Sequence[str] = (), env: dict[str, str] | None = None
) -> SignerProcess:
    """Start `cylinder-signer` and wait for its "ready <kid>" line; fail with its stderr if it dies."""
    process = subprocess.Popen(
        [*prefix, *SIGNER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None and process.stderr is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline().decode().strip()
            if line.startswith("ready "):
                return SignerProcess(process, socket, line.split()[1])
        if process.poll() is not None:
            break
    process.kill()
    _, stderr = process.communicate()
    pytest.fail(f"cylinder-signer did not start: {stderr.decode(errors='replace')}")


@pytest.fixture
def real_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def live_pki() -> TestPki:
    return TestPki.create(datetime.now(UTC), algorithm=crypto.Algorithm.EDDSA)


@pytest.fixture
def signer_files(tmp_path: Path, live_pki: TestPki) -> SignerFiles:
    return SignerFiles(tmp_path, live_pki).write()


@pytest.fixture
def signer(signer_files: SignerFiles) -> Iterator[SignerProcess]:
    process = start_signer(signer_files.serve_args(), signer_files.socket)
    yield process
    process.stop()


def statuses(count: int, **changes: StatusValue) -> StatusArray:
    """`count` entries, VALID except `changes` given as i<index>=value."""
    return StatusArray.from_mapping({int(k[1:]): v for k, v in changes.items()}, count)


def day() -> timedelta:
    return timedelta(days=1)
