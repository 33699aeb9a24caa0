"""The signer's key in an HSM: a SoftHSM2 token (Debian's softhsm2) in a private directory, the key
generated on the token through PKCS#11 by `cylinder-signer keygen`, certified by the CA with
`cylinder-tag ca issue-signer`, and used by the real `cylinder-signer serve` process."""

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tag_tools import cose, crypto, pki
from tag_tools.ca_store import CaStore
from tag_tools.cli.main import main as cylinder_tag
from tag_tools.status_list import parse_status_list
from tests.list_signer.conftest import SIGNER, start_signer, statuses
from tests.peers import peer_unavailable
from tests.testkit import TestPki

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
PIN, SO_PIN, TOKEN = "246810", "13579135", "cylinder-signer-test"


@pytest.fixture
def softhsm(tmp_path: Path) -> dict[str, str]:
    """SOFTHSM2_CONF pointing at a fresh token directory, with one initialised token."""
    module = next((m for m in MODULES if Path(m).exists()), None)
    if shutil.which("softhsm2-util") is None or module is None:
        peer_unavailable("SoftHSM2", "softhsm2 is not installed (apt-get install softhsm2)")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        peer_unavailable("SoftHSM2", "python-pkcs11 is not installed (pip install '.[signer]')")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    result = subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        peer_unavailable("SoftHSM2", f"cannot initialise a token: {result.stderr.strip()}")
    (tmp_path / "pin").write_text(PIN + "\n")
    return {**env, "module": module}


@pytest.mark.parametrize("algorithm", [crypto.Algorithm.ES256, crypto.Algorithm.EDDSA])
def test_signer_with_a_softhsm_key(
    softhsm: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    live_pki: TestPki,
    real_now: datetime,
    algorithm: crypto.Algorithm,
) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", softhsm["SOFTHSM2_CONF"])
    hsm = [
        "--pkcs11-module",
        softhsm["module"],
        "--token-label",
        TOKEN,
        "--key-label",
        "lists",
        "--pin-file",
        str(tmp_path / "pin"),
    ]
    name = "ed25519" if algorithm is crypto.Algorithm.EDDSA else "es256"
    keygen = subprocess.run(
        [*SIGNER, "keygen", *hsm, "--algorithm", name, "--public-key-out", str(tmp_path / "signer.pub.pem")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert keygen.returncode == 0, keygen.stderr
    again = subprocess.run([*SIGNER, "keygen", *hsm, "--algorithm", name], capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already holds" in again.stderr  # never silently replaces the key

    # The bureau certifies the token's public key with the offline root.
    ca = CaStore(tmp_path / "ca")
    ca.init("Test bureau root", b"root passphrase", real_now - timedelta(days=1), 3650)
    (tmp_path / "root-pass").write_text("root passphrase")
    exit_code = cylinder_tag(
        ["ca", "issue-signer", "--dir", str(tmp_path / "ca"), "--public-key", str(tmp_path / "signer.pub.pem"),
         "--name", "HSM", "--out", str(tmp_path / "signer-cert.pem"), "--passphrase-file", str(tmp_path / "root-pass")]
    )  # fmt: skip
    assert exit_code == 0
    certificate = pki.load_certificate((tmp_path / "signer-cert.pem").read_bytes())
    pki.check_list_signer(certificate, ca.root_certificate(), real_now)
    public = serialization.load_pem_public_key((tmp_path / "signer.pub.pem").read_bytes())
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public.public_bytes(*spki) == certificate.public_key().public_bytes(*spki)

    socket_path = tmp_path / "signer.sock"
    args = [
        "serve", *hsm,
        "--cert", str(tmp_path / "signer-cert.pem"),
        "--root-cert", str(ca.root_certificate_path),
        "--socket", str(socket_path),
        "--state-dir", str(tmp_path / "state"),
    ]  # fmt: skip
    process = start_signer(args, socket_path, env={"SOFTHSM2_CONF": softhsm["SOFTHSM2_CONF"]})
    try:
        token = process.client.sign_status_list(3, 1, statuses(64), real_now, real_now + timedelta(days=1), timedelta(hours=1))
    finally:
        process.stop()
    assert cose.parse_sign1(token, max_size=1 << 20).algorithm == algorithm
    assert parse_status_list(token, certificate, now=real_now, list_id=3).sequence == 1


def test_wrong_pin_is_a_clear_error(softhsm: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTHSM2_CONF", softhsm["SOFTHSM2_CONF"])
    (tmp_path / "bad-pin").write_text("000000")
    result = subprocess.run(
        [*SIGNER, "public-key", "--pkcs11-module", softhsm["module"], "--token-label", TOKEN, "--key-label", "x",
         "--pin-file", str(tmp_path / "bad-pin")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "cannot open token" in result.stderr and "Traceback" not in result.stderr
