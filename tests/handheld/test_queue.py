"""The officer's check queue (registry_service/handheld/static/queue.js) in Node: checks wait while
offline or signed out, leave the queue only on the registry's answer, each officer's own; a check
asked to open a case while its first upload was on its way is sent again with the request, and a
flush asked for during a flush goes through the queue once more rather than running twice at once."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CASES = Path(__file__).with_name("queue_cases.mjs")


def test_the_queue_keeps_checks_until_the_registry_answers() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node is needed (the handheld core's vectors run in it too)")
    run = subprocess.run([node, str(CASES)], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["offline"] == {"waiting": 2, "sent": 1}  # the first failure stops the round
    assert found["signedOut"] == {"waiting": 2, "sent": 2}
    assert found["sameFlush"] is True
    online = found["online"]
    assert online["waiting"] == 0 and online["otherWaiting"] == 1  # another officer's check waits for them
    assert online["answers"] == [["a", "done", None], ["b", "done", None], ["a", "done", "C-1"], ["refused", "drop", None]]
    assert [s["id"] for s in online["sent"]] == ["a", "b", "a", "refused"]
