"""The pump interlock: one small interface, backends chosen by a path string.

    log:                                        no hardware: logs and remembers each command
    modbus-tcp://HOST[:PORT]/UNIT/COIL[?watchdog=REG]
    modbus-rtu:///dev/ttyUSB0?baud=9600&unit=1&coil=0[&parity=N&watchdog=REG]
    gpio:CHIP:LINE[?active_low=1]               libgpiod (python `gpiod` 2.x), e.g. gpio:/dev/gpiochip0:17

A backend only switches one output and, where the hardware has one, feeds its watchdog. Fail-safe
timing (off at start, off after the fill or a timeout, off at stop and on errors) lives once, in
station_agent.pump.PumpGuard, above every backend.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from station_agent.errors import InterlockError, InterlockPathError

log = logging.getLogger(__name__)


class Interlock(ABC):
    """One pump-enable output. `set_enabled` raises InterlockError when the command did not land."""

    path: str

    @abstractmethod
    def set_enabled(self, enabled: bool) -> None: ...

    def heartbeat(self) -> None:  # noqa: B027 - optional hook: most outputs have no watchdog
        """Feed the hardware watchdog, where there is one (called every heartbeat interval)."""

    def close(self) -> None:  # noqa: B027 - optional hook: `log:` holds nothing
        """Release the hardware. Callers switch the output off first."""


@dataclass(frozen=True)
class Command:
    enabled: bool
    at: float  # time.perf_counter() when the command was issued


class LogInterlock(Interlock):
    """No hardware: for monitor-only stations, the demo, tests and the benchmark."""

    def __init__(self, path: str = "log:") -> None:
        self.path = path
        self.commands: list[Command] = []
        self.enabled = False

    def set_enabled(self, enabled: bool) -> None:
        self.commands.append(Command(enabled, time.perf_counter()))
        self.enabled = enabled
        log.info("interlock %s: pump %s", self.path, "ENABLED" if enabled else "disabled")


class ModbusInterlock(Interlock):
    """A relay module on Modbus (TCP or RTU): one coil per pump, an optional watchdog register.

    The heartbeat writes an incrementing value to the watchdog register; modules with a
    communication watchdog drop their outputs when these writes stop (agent dead, cable cut). See
    docs/station.md for what to set on the module.
    """

    def __init__(self, path: str, client: Any, unit: int, coil: int, watchdog: int | None) -> None:
        self.path = path
        self.client = client
        self.unit = unit
        self.coil = coil
        self.watchdog = watchdog
        self._lock = threading.Lock()
        self._beat = 0

    def _call(self, what: str, method: str, *args: Any) -> None:
        from pymodbus.exceptions import ModbusException

        with self._lock:
            try:
                if not self.client.connected:
                    self.client.connect()
                response = getattr(self.client, method)(*args, device_id=self.unit)
            except (ModbusException, OSError) as error:
                raise InterlockError(f"{self.path}: {what} failed: {error}") from error
            if response is None or response.isError():
                raise InterlockError(f"{self.path}: {what} answered with an error: {response}")

    def set_enabled(self, enabled: bool) -> None:
        self._call(f"write coil {self.coil}={int(enabled)}", "write_coil", self.coil, enabled)

    def heartbeat(self) -> None:
        """Feed the module's watchdog only. The coil is re-asserted by PumpGuard from its decision
        state: a backend that re-sent its own last state would turn a relay back ON after an OFF
        write failed (the defect of issue 10)."""
        if self.watchdog is not None:
            self._beat = self._beat % 65535 + 1
            self._call(f"write watchdog register {self.watchdog}", "write_register", self.watchdog, self._beat)

    def close(self) -> None:
        with self._lock:
            self.client.close()


class GpioInterlock(Interlock):
    """A relay on a Linux GPIO line through libgpiod 2.x. The line is requested as an output that
    starts inactive, and released (the kernel keeps its last value, so we drive it off first)."""

    def __init__(self, path: str, chip: str, line: int, active_low: bool) -> None:
        try:
            import gpiod
            from gpiod.line import Direction, Value
        except ImportError as error:
            raise InterlockError("gpio: needs the python `gpiod` package (libgpiod 2.x bindings)") from error
        self.path = path
        self.line = line
        self._values = (Value.INACTIVE, Value.ACTIVE)
        settings = gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE, active_low=active_low)
        try:
            self.request = gpiod.request_lines(chip, consumer="station-agent", config={line: settings})
        except OSError as error:
            raise InterlockError(f"{path}: cannot request line {line} of {chip}: {error}") from error

    def set_enabled(self, enabled: bool) -> None:
        try:
            self.request.set_value(self.line, self._values[enabled])
        except OSError as error:
            raise InterlockError(f"{self.path}: cannot set line {self.line}: {error}") from error

    def close(self) -> None:
        self.request.release()


def open_interlock(path: str, *, timeout: float = 1.0) -> Interlock:
    """The backend a path names. InterlockPathError for a malformed path; nothing is switched yet."""
    scheme, _, rest = path.partition(":")
    if scheme == "log":
        return LogInterlock(path)
    if scheme == "modbus-tcp":
        return _modbus_tcp(path, timeout)
    if scheme == "modbus-rtu":
        return _modbus_rtu(path, timeout)
    if scheme == "gpio":
        target, _, query = rest.partition("?")
        chip, _, line = target.rpartition(":")
        if not chip or not line.isdigit():
            raise InterlockPathError(f"gpio path must be gpio:CHIP:LINE, not {path!r}")
        options = _query(path, query, {"active_low"})
        return GpioInterlock(path, chip, int(line), options.get("active_low", "0") in ("1", "true"))
    raise InterlockPathError(f"unknown interlock {path!r}: use log:, modbus-tcp://..., modbus-rtu://... or gpio:CHIP:LINE")


def _modbus_tcp(path: str, timeout: float) -> Interlock:
    client, (unit, coil), options = modbus_tcp_client(
        path, timeout, 2, "modbus-tcp path must be modbus-tcp://HOST[:PORT]/UNIT/COIL", {"watchdog"}
    )
    return ModbusInterlock(path, client, unit, coil, _int_option(path, options, "watchdog"))


def _modbus_rtu(path: str, timeout: float) -> Interlock:
    client, options = modbus_rtu_client(
        path, timeout, "modbus-rtu path must be modbus-rtu:///dev/ttyX?baud=...&unit=...&coil=...", {"unit", "coil", "watchdog"}
    )
    unit, coil = _int_option(path, options, "unit"), _int_option(path, options, "coil")
    if unit is None or coil is None:
        raise InterlockPathError(f"modbus-rtu path needs unit= and coil=: {path!r}")
    return ModbusInterlock(path, client, unit, coil, _int_option(path, options, "watchdog"))


def modbus_tcp_client(
    path: str, timeout: float, numbers: int, usage: str, allowed: set[str]
) -> tuple[Any, list[int], dict[str, str]]:
    """A pymodbus TCP client for modbus-tcp://HOST[:PORT]/N..., the path's `numbers` numbers (unit,
    coil...) and its options (`allowed` only); InterlockPathError ("`usage`, not PATH") otherwise.
    The client connects on first use. Shared by the interlock and the totaliser (one path syntax)."""
    parts = urlsplit(path)
    segments = [s for s in parts.path.split("/") if s]
    try:
        port = parts.port or 502
    except ValueError:
        raise InterlockPathError(f"bad port in {path!r}") from None
    if not parts.hostname or len(segments) != numbers or not all(s.isdigit() for s in segments):
        raise InterlockPathError(f"{usage}, not {path!r}")
    options = _query(path, parts.query, allowed)
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient(parts.hostname, port=port, timeout=timeout, retries=1, reconnect_delay=0.1)
    return client, [int(s) for s in segments], options


def modbus_rtu_client(path: str, timeout: float, usage: str, allowed: set[str]) -> tuple[Any, dict[str, str]]:
    """A pymodbus serial client for modbus-rtu:///dev/ttyX?...: baud= and parity= read here, the
    other options (`allowed`) returned; InterlockPathError ("`usage`, not PATH") without a device."""
    parts = urlsplit(path)
    if not parts.path:
        raise InterlockPathError(f"{usage}, not {path!r}")
    options = _query(path, parts.query, allowed | {"baud", "parity"})
    parity = options.get("parity", "N")
    if parity not in ("N", "E", "O"):
        raise InterlockPathError(f"parity must be N, E or O in {path!r}")
    from pymodbus.client import ModbusSerialClient

    client = ModbusSerialClient(
        parts.path, baudrate=_int_option(path, options, "baud") or 9600, parity=parity, timeout=timeout, retries=1
    )
    return client, options


def _query(path: str, query: str, allowed: set[str]) -> dict[str, str]:
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = set(options) - allowed
    if unknown:
        raise InterlockPathError(f"unknown option {sorted(unknown)[0]!r} in {path!r}")
    return options


def _int_option(path: str, options: dict[str, str], key: str) -> int | None:
    if key not in options:
        return None
    if not options[key].isdigit():
        raise InterlockPathError(f"{key} must be a non-negative integer in {path!r}")
    return int(options[key])
