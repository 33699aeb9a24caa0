"""Interlock paths and backends, and the fail-safe guard above them. Modbus runs against
pymodbus's own server; GPIO against a stand-in for the `gpiod` module (no GPIO chip here)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from station_agent.errors import InterlockError, InterlockPathError, PumpSessionEnded
from station_agent.interlock import GpioInterlock, Interlock, LogInterlock, ModbusInterlock, open_interlock
from station_agent.pump import PumpGuard
from tests.peers import free_tcp_port, peer_unavailable, wait_until
from tests.station_agent.modbus_peer import ModbusPeer, ModbusRtuPeer


@pytest.mark.parametrize(
    "path",
    [
        "modbus-tcp://host/1",
        "modbus-tcp://host/a/b",
        "modbus-tcp://host:99999/1/0",
        "modbus-tcp://h/1/0?bogus=1",
        "modbus-rtu:///dev/ttyUSB0?unit=1",
        "modbus-rtu:///dev/ttyUSB0?unit=1&coil=0&parity=X",
        "gpio:17",
        "relay:1",
        "",
    ],
)
def test_bad_paths_are_rejected(path: str) -> None:
    with pytest.raises(InterlockPathError):
        open_interlock(path)


def test_paths_choose_backends() -> None:
    tcp = open_interlock("modbus-tcp://10.0.0.5:1502/3/7?watchdog=100")
    assert isinstance(tcp, ModbusInterlock) and (tcp.unit, tcp.coil, tcp.watchdog) == (3, 7, 100)
    rtu = open_interlock("modbus-rtu:///dev/ttyUSB0?baud=19200&unit=2&coil=1")
    assert isinstance(rtu, ModbusInterlock) and (rtu.unit, rtu.coil, rtu.watchdog) == (2, 1, None)
    assert rtu.client.comm_params.baudrate == 19200 and rtu.client.comm_params.host == "/dev/ttyUSB0"
    assert isinstance(open_interlock("log:"), LogInterlock)


def test_modbus_tcp_coil_and_watchdog(modbus: ModbusPeer) -> None:
    interlock = open_interlock(f"modbus-tcp://127.0.0.1:{modbus.port}/1/3?watchdog=7")
    with PumpGuard(interlock, heartbeat_s=0.02) as guard:
        assert modbus.coil(3) is False
        guard.enable("s1", 60)
        assert modbus.coil(3) is True and modbus.coil(2) is False
        first = modbus.register(7)
        wait_until(lambda: modbus.register(7) != first, "a new watchdog value")  # the heartbeat keeps writing it
        guard.disable("test")
        assert modbus.coil(3) is False
        guard.enable("s2", 60)
    assert modbus.coil(3) is False  # stop() leaves it off


def test_modbus_rtu_over_a_serial_line(tmp_path: Path) -> None:
    try:
        peer = ModbusRtuPeer(tmp_path).start()
    except Exception as error:
        peer_unavailable("pymodbus serial server on a socat pty", f"{type(error).__name__}: {error}")
    try:
        interlock = open_interlock(f"modbus-rtu://{peer.agent_port}?baud=9600&unit=1&coil=2&watchdog=5")
        assert isinstance(interlock, ModbusInterlock)
        with PumpGuard(interlock, heartbeat_s=60) as guard:
            guard.enable("s3", 60)
            interlock.heartbeat()
            # Read back over the same RTU line: the relay module answers what it holds.
            assert interlock.client.read_coils(2, count=1, device_id=1).bits[0] is True
            assert interlock.client.read_holding_registers(5, count=1, device_id=1).registers == [1]
            guard.disable("test")
            assert interlock.client.read_coils(2, count=1, device_id=1).bits[0] is False
    finally:
        peer.stop()


def test_modbus_server_gone_is_an_interlock_error() -> None:
    interlock = open_interlock(f"modbus-tcp://127.0.0.1:{free_tcp_port()}/1/0", timeout=0.3)
    with pytest.raises(InterlockError, match="write coil 0=1"):
        interlock.set_enabled(True)
    interlock.close()


class FlakyInterlock(Interlock):
    """Fails the commands it is told to fail, remembers the others (`states`) and every attempt."""

    def __init__(self, fail_on: set[bool] | None = None, fail_heartbeat: bool = False) -> None:
        self.path = "flaky:"
        self.fail_on = fail_on or set()
        self.fail_heartbeat = fail_heartbeat
        self.states: list[bool] = []
        self.attempts: list[bool] = []
        self.closed = False

    def set_enabled(self, enabled: bool) -> None:
        self.attempts.append(enabled)
        if enabled in self.fail_on:
            raise InterlockError(f"cannot switch to {enabled}")
        self.states.append(enabled)

    def heartbeat(self) -> None:
        if self.fail_heartbeat:
            raise InterlockError("watchdog write failed")

    def close(self) -> None:
        self.closed = True


def test_guard_is_off_at_start_and_stop() -> None:
    interlock = FlakyInterlock()
    guard = PumpGuard(interlock, heartbeat_s=60).start()
    assert interlock.states == [False]
    guard.enable("s4", 60)
    guard.stop()
    assert interlock.states == [False, True, False] and interlock.closed


def test_guard_switches_off_when_enable_fails() -> None:
    interlock = FlakyInterlock(fail_on={True})
    guard = PumpGuard(interlock, heartbeat_s=60).start()
    with pytest.raises(InterlockError):
        guard.enable("s5", 60)
    assert not guard.enabled and interlock.states == [False, False]
    guard.stop()


def test_guard_deadline_drops_the_enable() -> None:
    now = [0.0]
    interlock = FlakyInterlock()
    guard = PumpGuard(interlock, heartbeat_s=60, clock=lambda: now[0]).start()
    guard.enable("s6", 600)
    now[0] = 599.0
    guard.check_deadline()
    assert guard.enabled
    now[0] = 600.0
    guard.check_deadline()
    assert not guard.enabled and interlock.states[-1] is False
    guard.stop()


def test_guard_thread_enforces_deadline_and_failed_heartbeat() -> None:
    interlock = FlakyInterlock()
    guard = PumpGuard(interlock, heartbeat_s=0.01).start()
    guard.enable("s7", 0.05)
    wait_until(lambda: not guard.enabled, "the fill deadline to disable the pump")
    assert interlock.states[-1] is False
    interlock.fail_heartbeat = True
    guard.enable("s8", 600)
    wait_until(lambda: not guard.enabled, "the failed heartbeat to disable the pump")
    assert interlock.states[-1] is False and guard.last_error is not None
    guard.stop()


def test_a_failed_off_is_retried_as_off_never_replaced_by_on() -> None:
    """The issue-10 defect: an OFF write that failed left a stored ON that the heartbeat re-sent."""
    interlock = FlakyInterlock()
    guard = PumpGuard(interlock, heartbeat_s=0.01).start()
    guard.enable("s1", 600)
    interlock.fail_on = {False, True}  # the relay module drops off the network
    guard.disable("fill finished")
    wait_until(lambda: interlock.attempts.count(False) >= 5, "five OFF attempts")  # the heartbeat keeps retrying...
    interlock.fail_on = set()  # ...and the module comes back with its outputs off
    wait_until(lambda: guard.healthy and interlock.states[-1] is False, "the guard healthy with the relay OFF")
    off_at = interlock.attempts.index(False, interlock.attempts.index(True))
    assert True not in interlock.attempts[off_at:]  # nothing but OFF after the fill ended
    guard.stop()


@pytest.mark.parametrize("step", ["before_enable", "enabling", "during_fill", "disabling"])
def test_relay_lost_at_any_step_of_a_session_never_turns_on_outside_it(step: str) -> None:
    """A relay module that disappears (every write fails) at each step, then comes back: the coil
    history has no ON outside the allowed session, and the first commands after it are OFF."""
    interlock = FlakyInterlock()
    guard = PumpGuard(interlock, heartbeat_s=0.01).start()
    gone, back = {False, True}, set[bool]()
    if step == "before_enable":
        interlock.fail_on = gone
        with pytest.raises(InterlockError):
            guard.enable("s1", 600)
    elif step == "enabling":
        interlock.fail_on = {True}
        with pytest.raises(InterlockError):
            guard.enable("s1", 600)
        interlock.fail_on = gone
    else:
        guard.enable("s1", 600)
        interlock.fail_on = gone
        if step == "disabling":
            guard.disable("fill finished")
    wait_until(lambda: not guard.healthy and len(interlock.attempts) >= 8, "the guard unhealthy after eight attempts")
    assert not guard.enabled  # a fault ends the fill, in the decision state too
    first_lost = len(interlock.attempts) - 1
    interlock.fail_on = back
    wait_until(lambda: guard.healthy and len(interlock.states) >= 3, "the guard healthy again")
    assert True not in interlock.attempts[first_lost:]
    with pytest.raises(PumpSessionEnded):  # the same session cannot come back on after a fault
        guard.enable("s1", 600)
    guard.enable("s2", 600)  # a new allowed session can
    assert interlock.states[-1] is True
    guard.stop()
    assert interlock.states[-1] is False


def test_the_fill_deadline_bounds_every_on_even_while_the_relay_flaps() -> None:
    now = [0.0]
    interlock = FlakyInterlock()
    guard = PumpGuard(interlock, heartbeat_s=60, clock=lambda: now[0]).start()
    guard.enable("s1", 10)
    for _ in range(3):
        interlock.fail_heartbeat = True
        guard.beat()
        interlock.fail_heartbeat = False
        guard.beat()
    assert not guard.enabled  # the first failed beat ended the fill
    guard.enable("s2", 10)
    now[0] = 10.0
    guard.beat()
    assert not guard.enabled and interlock.states[-1] is False
    guard.stop()


def test_gpio_backend_drives_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []  # Any: the test unpacks what the backend passed

    class Request:
        def set_value(self, line: int, value: str) -> None:
            calls.append(("set", (line, value)))

        def release(self) -> None:
            calls.append(("release", None))

    # A stand-in for the gpiod package (absent here): a module object has no declared attributes,
    # hence the attr-defined ignores on each one set.
    line = types.ModuleType("gpiod.line")
    line.Direction = types.SimpleNamespace(OUTPUT="output")  # type: ignore[attr-defined]
    line.Value = types.SimpleNamespace(ACTIVE="active", INACTIVE="inactive")  # type: ignore[attr-defined]
    gpiod = types.ModuleType("gpiod")
    gpiod.line = line  # type: ignore[attr-defined]
    gpiod.LineSettings = lambda **kw: kw  # type: ignore[attr-defined]

    def request_lines(chip: str, consumer: str, config: dict[int, dict[str, object]]) -> Request:
        calls.append(("request", (chip, consumer, config)))
        return Request()

    gpiod.request_lines = request_lines  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "gpiod.line", line)
    interlock = open_interlock("gpio:/dev/gpiochip0:17?active_low=1")
    assert isinstance(interlock, GpioInterlock)
    with PumpGuard(interlock, heartbeat_s=60) as guard:
        guard.enable("s9", 60)
    request = calls[0][1]
    assert request[0] == "/dev/gpiochip0" and request[2][17]["output_value"] == "inactive"
    assert request[2][17]["active_low"] is True
    assert [c[1] for c in calls[1:4]] == [(17, "inactive"), (17, "active"), (17, "inactive")]
    assert calls[-1][0] == "release"


def test_gpio_without_gpiod_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gpiod", None)
    with pytest.raises(InterlockError, match="gpiod"):
        open_interlock("gpio:gpiochip0:4")
