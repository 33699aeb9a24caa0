"""The agent's wall clock stepped forwards and back, during and between sessions (an injected clock
for the agent only: tests/faults/agent_with_clock.py; the host's clock is never touched).

Session windows, fill deadlines and budgets run on the monotonic clock: a clock stepped back must
not keep a stale session that refuses the next vehicle, a clock stepped forward must not cut a
vehicle's session short, and every ON is bounded by the fill deadline whatever the wall clock says.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.agent_with_clock import step_clock
from tests.faults.conftest import MakePump
from tests.faults.relay import CoilWrite
from tests.faults.station import wait_pump
from tests.peers import wait_until

SESSION_WINDOW_S = 2.0
FILL_TIMEOUT_S = 3.0
HOUR = 3600.0


def _on_spans(history: list[CoilWrite]) -> list[float]:
    """How long each run of ON commands lasted, up to the OFF that ended it."""
    spans, started = [], None
    for write in history:
        if write.value and started is None:
            started = write.at
        elif not write.value and started is not None:
            spans.append(write.at - started)
            started = None
    assert started is None, "the coil was left ON"
    return spans


def test_clock_stepped_forwards_and_back(make_pump: MakePump, tmp_path: Path) -> None:
    clock = tmp_path / "clock-offset"
    step_clock(clock, 0.0)
    pump = make_pump(
        clock_file=clock, policy={"session_window_s": SESSION_WINDOW_S}, interlock={"fill_timeout_s": FILL_TIMEOUT_S}
    )

    # Stepped back while a vehicle is half read: its session must still close after the window.
    stale = pump.vehicle(cylinders=2)
    half = pump.present(stale, 0, allowed_window=False)
    assert "[1/2]" in half.line, half.line
    step_clock(clock, -HOUR)
    time.sleep(SESSION_WINDOW_S + 0.5)
    after_back = pump.present(pump.vehicle())
    assert after_back.allowed and "PUMP ON" in after_back.line, f"a stale session refused the next vehicle: {after_back.line}"
    pump.assert_decided_in_time(after_back)
    pump.fill_done()

    # Stepped forward two hours between the two reads of one vehicle: still one session, the pump
    # runs, and the events stamped two hours ahead still reach the registry (flagged, not refused).
    both = pump.vehicle(cylinders=2)
    first = pump.present(both, 0, allowed_window=False)
    assert "[1/2]" in first.line, first.line
    step_clock(clock, 2 * HOUR)
    second = pump.present(both, 1)
    assert second.allowed and "[2/2]" in second.line and "PUMP ON" in second.line, (
        f"a forward step cut the vehicle's session short: {second.line}"
    )
    pump.assert_decided_in_time(second)

    # Stepped back and forward again mid-fill: the fill deadline still ends the fill on time.
    step_clock(clock, -HOUR)
    time.sleep(0.5)
    step_clock(clock, 3 * HOUR)
    wait_until(lambda: not pump.relay.coil_on(), "the fill deadline to end the fill", FILL_TIMEOUT_S + 5)
    pump.end_window()
    wait_pump(pump, False)
    spans = _on_spans(pump.relay.history())
    assert spans and max(spans) <= FILL_TIMEOUT_S + 1.0, f"ON spans {spans} against a {FILL_TIMEOUT_S} s deadline"

    # And the next vehicle after all that is allowed, without a restart.
    step_clock(clock, 0.0)
    pid = pump.agent.pid
    last = pump.present(pump.vehicle())
    assert last.allowed and "PUMP ON" in last.line, last.line
    pump.fill_done()
    assert pump.agent.pid == pid
    pump.assert_not_in_fault()
    pump.assert_coil_history()
    pump.assert_delivered_exactly_once()
