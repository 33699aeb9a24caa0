"""The code's types, checked with the suite: `mypy` with the repository's configuration (setup.cfg:
strict, over the product packages and these tests), so a change that loosens a type fails here.

The cache is a fresh one in the test's temporary folder: a shared cache is not safe for two runs
at once, and a cold run takes about 30 s on two busy cores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_strict_finds_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout, result.stdout[-2000:]
