"""stubs/ describes nfcpy and pyscard as installed.

mypy's stubtest imports each package and compares every name the stubs declare with the runtime
object (signatures, classes, constants, internals the emulator relies on), so a stub cannot drift
from the library it types. Names the stubs leave out are not errors (--ignore-missing-stub): they
hold only what tag_tools uses, and mypy rejects any use of a name they do not declare.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_reader_library_stubs_match_the_installed_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "nfc", "smartcard", "--ignore-missing-stub", "--mypy-config-file", "setup.cfg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Success" in result.stdout
