"""The signer under its own Unix user: another uid (here `nobody`) can read neither its key nor
what it last signed, and can use its socket only when it is in the socket's group (as the
registry's user is). Needs root to create the user and switch uids; with CI=true it must run."""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.list_signer.conftest import SignerFiles, start_signer, statuses
from tests.peers import in_ci, peer_unavailable
from tests.testkit import TestPki

USER = "cylinder-signer-test"

PROBE = r"""
import json, os, socket, sys
from list_signer.client import SignerClient
key, state, sock = sys.argv[1:4]
result = {"uid": os.getuid()}
for name, action in (
    ("key", lambda: open(key, "rb").read()),
    ("state_dir", lambda: os.listdir(state)),
    ("state_file", lambda: open(os.path.join(state, "status-7.cbor"), "rb").read()),
    ("socket", lambda: SignerClient(sock, timeout_s=10).status()["ok"]),
):
    try:
        action()
        result[name] = "ok"
    except OSError as error:
        result[name] = type(error.__cause__ or error).__name__
print(json.dumps(result))
"""


def ensure_user() -> None:
    """The system user (and its group), created once and reused (idempotent)."""
    try:
        pwd.getpwnam(USER)
        return
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode not in (0, 9):  # 9: created meanwhile by another run
        peer_unavailable("a system user", f"useradd failed: {result.stderr.strip()}")


@pytest.fixture
def as_root() -> None:
    if os.geteuid() != 0:
        if in_ci():
            peer_unavailable("root", "switching uids needs root")
        print("\nSKIP: the signer's own-user test needs root (useradd, setpriv)")
        pytest.skip("needs root to create a user and switch uids")
    if shutil.which("setpriv") is None or shutil.which("useradd") is None:
        peer_unavailable("setpriv/useradd", "util-linux setpriv or passwd's useradd is missing")
    ensure_user()


@pytest.fixture
def shared_folder(as_root: None) -> Iterator[Path]:
    """Under /tmp, not pytest's tmp_path: that is root's 0700 folder the signer user cannot enter."""
    folder = Path(tempfile.mkdtemp(prefix="cylinder-signer-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def probe(files: SignerFiles, *groups: str) -> dict[str, object]:
    group_options = ["--groups", ",".join(groups)] if groups else ["--clear-groups"]
    result = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", *group_options, "--",
         sys.executable, "-c", PROBE, str(files.key), str(files.state), str(files.socket)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_other_users_cannot_read_key_or_state_but_the_group_can_use_the_socket(
    shared_folder: Path, live_pki: TestPki, real_now: datetime
) -> None:
    signer_user = pwd.getpwnam(USER)
    files = SignerFiles(shared_folder / "signer", live_pki)
    files.folder.mkdir(mode=0o755)
    files.write()
    for path in (files.folder, files.key, files.folder / "passphrase"):
        os.chown(path, signer_user.pw_uid, signer_user.pw_gid)
    process = start_signer(
        [*files.serve_args(), "--socket-group", USER],
        files.socket,
        prefix=["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--"],
    )
    try:
        status_line = next(
            line for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines() if line.startswith("Uid:")
        )
        assert set(status_line.split()[1:]) == {str(signer_user.pw_uid)}  # real, effective, saved, fs: the signer's
        process.client.sign_status_list(7, 1, statuses(32), real_now, real_now + timedelta(days=1), timedelta(hours=1))
        assert (files.state.stat().st_mode & 0o777, files.state.stat().st_uid) == (0o700, signer_user.pw_uid)
        assert (files.socket.stat().st_mode & 0o777, files.socket.stat().st_gid) == (0o660, signer_user.pw_gid)

        stranger = probe(files)
        assert stranger["uid"] == pwd.getpwnam("nobody").pw_uid
        assert {k: stranger[k] for k in ("key", "state_dir", "state_file", "socket")} == dict.fromkeys(
            ("key", "state_dir", "state_file", "socket"), "PermissionError"
        )
        registry_like = probe(files, USER)  # in the socket's group, like the registry's user
        assert registry_like["socket"] == "ok"
        assert (registry_like["key"], registry_like["state_file"]) == ("PermissionError", "PermissionError")
    finally:
        process.stop()


def test_refuses_a_key_file_others_can_read(signer_files: SignerFiles, tmp_path: Path) -> None:
    signer_files.key.chmod(0o640)
    result = subprocess.run(
        [sys.executable, "-m", "list_signer.cli", *signer_files.serve_args()], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "make it 0600" in result.stderr
