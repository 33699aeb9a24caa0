"""`python -m cylinder_demo` from the outside: a subprocess with no stdin, as a newcomer runs it.

The first test tells the story with --no-serve and checks every vehicle's decision line and the
demo's own dashboard check. The second serves, looks at the dashboard in Chromium (a screenshot
into test-artifacts/demo/), and stops the demo with SIGINT.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.dashboard.browser import chromium_peer, screenshot, sign_in
from tests.peers import free_tcp_port, peer_unavailable

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "demo"
STORY_TIMEOUT_S = 90
REFUSE = "禁止加气 / Do not fill"
# plate, cylinders read/expected, decision as printed, reason codes as printed
EXPECTED = [
    ("豫A8M2K7", "1/1", "可以加气 / Fill", "-"),
    ("豫A3Q7T1", "1/1", "可以加气（请注意） / Fill (note the warning)", "due_soon"),
    ("豫AD5521", "1/1", REFUSE, "inspection_overdue"),
    ("豫A1P0X9", "1/1", REFUSE, "past_service_life"),
    ("豫A7K3N8", "1/1", REFUSE, "bad_signature"),
    ("豫A5H2M6", "1/1", REFUSE, "uid_mismatch"),
    ("豫A9C6R4", "1/1", REFUSE, "unknown_signer"),
    ("豫A2B015", "3/3", REFUSE, "inspection_overdue"),
]


def demo_command(folder: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cylinder_demo", "--dir", str(folder), "--port", str(port), *extra]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def vehicle_line(out: str, plate: str) -> str:
    lines = [line for line in out.splitlines() if f" {plate}  " in line and "cylinders" in line]
    assert len(lines) == 1, f"one decision line for {plate}:\n{out}"
    return lines[0]


def test_the_story_ends_with_the_refused_vehicles_on_the_dashboard(tmp_path: Path) -> None:
    port = free_tcp_port()
    started = time.monotonic()
    done = subprocess.run(
        demo_command(tmp_path / "demo", port, "--no-serve"),
        cwd=REPO,
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=STORY_TIMEOUT_S,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for plate, cylinders, decision, reasons in EXPECTED:
        line = vehicle_line(out, plate)
        assert re.search(rf" {plate}  {cylinders} cylinders  {re.escape(decision)}  {reasons}  \[pump (on|off)\]$", line), line
        assert line.endswith("[pump on]") == (decision != REFUSE), line
    assert "all 10 scan events delivered" in out
    assert "dashboard check passed: signed in as bureau and found all 6 refused vehicles" in out
    assert f"dashboard  http://127.0.0.1:{port}/dashboard/" in out
    # A sign-in for every role the demo creates: people by user and password, the station by its token.
    assert re.search(r"^bureau +user bureau +password \S{12,}   \(the bureau: every page\)$", out, re.M)
    assert re.search(r"^centre +user centre-zztj01 +password \S{12,}   \(centre ZZTJ01: its own inspections\)$", out, re.M)
    assert re.search(r"^station +ST-410105-88 signs in with the API token in \S+/station/station\.toml$", out, re.M)
    assert "signed in as centre-zztj01 and saw the centre's inspections" in out
    # Issue 16: the refused overdue and past-life cylinders opened cases in the station's grid cell,
    # which its officer (a sign-in printed with the others) finds on its case list.
    assert re.search(r"^grid check passed: the refused vehicles opened 3 cases in grid cell 410105-02-01 ", out, re.M)
    assert re.search(
        r"^grid +user grid-410105-02-01 +password \S{12,}   \(grid officer of cell 410105-02-01: its cases\)$", out, re.M
    )
    assert f"cases      http://127.0.0.1:{port}/dashboard/cases?region=410105-02-01" in out
    assert f"handheld   http://127.0.0.1:{port}/verify/   " in out  # issue 18: the phone verifier's address
    assert "Traceback" not in done.stderr, done.stderr
    assert (tmp_path / "demo" / "registry.sqlite3").exists() and (tmp_path / "demo" / "station" / "station.toml").exists()
    assert time.monotonic() - started < 60


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_until(lines: queue.Queue[str | None], marker: str, limit: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"no {marker!r} in the demo's output:\n" + "\n".join(seen))


def test_serves_the_dashboard_until_interrupted(tmp_path: Path) -> None:
    port = free_tcp_port()
    process = subprocess.Popen(
        demo_command(tmp_path / "demo", port),
        cwd=REPO,
        env=environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = _lines(process)
        out = _read_until(lines, "serving until Ctrl-C", STORY_TIMEOUT_S)
        password = next(line.split()[4] for line in out if line.startswith("bureau ") and " password " in line)
        _screenshot(f"http://127.0.0.1:{port}", password)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        _read_until(lines, "stopping", 5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _screenshot(base_url: str, password: str) -> None:
    """The attempts the demo station refused, as the bureau sees them."""
    with chromium_peer() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base_url, "bureau", password)
        page.goto(f"{base_url}/dashboard/attempts?station=ST-410105-88&outcome=refused")
        text = page.inner_text("body")
        for plate in ("豫AD5521", "豫A1P0X9", "豫A2B015"):
            assert plate in text, text[:2000]
        assert screenshot(page, "demo-refused-attempts", ARTIFACTS).stat().st_size > 10_000
        page.goto(f"{base_url}/dashboard/overview")
        screenshot(page, "demo-overview", ARTIFACTS)


@pytest.fixture(autouse=True)
def _skip_without_nfcpy() -> None:
    try:
        import nfc  # noqa: F401
    except ImportError as error:
        peer_unavailable("nfcpy (the emulated reader)", str(error))


def test_refuses_a_busy_port_and_a_precious_folder(tmp_path: Path) -> None:
    from cylinder_demo.__main__ import fresh_folder

    assert fresh_folder(Path.cwd()) is not None and fresh_folder(Path.cwd().parent) is not None
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "stale.txt").write_text("from an earlier run")
    assert fresh_folder(tmp_path / "old") is None and not any((tmp_path / "old").iterdir())

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            demo_command(tmp_path / "demo", port, "--no-serve"),
            cwd=REPO,
            env=environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1 and f"port {port}" in done.stderr, done.stderr
    assert not (tmp_path / "demo").exists()
