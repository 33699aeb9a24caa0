"""The README's demo: it must run from the embedded defaults and show what it promises."""

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_and_shows_every_case(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tag_tools.cli.demo", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("DEMO_")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "signed 4 of 5 rows" in out
    for text in [
        "ALLOW  可以加气",
        "ALLOW_WITH_WARNING",
        "inspection_overdue",
        "past_service_life",
        "bad_signature",
        "uid_mismatch",
    ]:
        assert text in out, text
    assert "Traceback" not in out + result.stderr
