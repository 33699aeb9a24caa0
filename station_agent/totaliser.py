"""The dispenser's totaliser: its running total of gas dispensed, read over Modbus.

    modbus-tcp://HOST[:PORT]/UNIT                     a dispenser (or its forecourt controller's gateway)
    modbus-rtu:///dev/ttyUSB0?unit=N[&baud=&parity=]  on RS-485

`[totaliser]` in station.toml maps the registers (station_agent.config.TotaliserSettings): holding or
input registers, the first address, the data type (a 32-bit counter takes two registers), the word
order, the scale and the unit. Decoding is pymodbus's own (`convert_from_registers`), so the word
order means what it means to every pymodbus user. Reading only: nothing here can switch a pump.
Every failure is a TotaliserError; the caller decides what a meter it cannot read means.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Protocol

from station_agent.config import TotaliserSettings
from station_agent.errors import InterlockPathError, StationAgentError
from station_agent.interlock import _int_option, modbus_rtu_client, modbus_tcp_client  # one Modbus path syntax

DEFAULT_TIMEOUT_S = 0.5  # a LAN device answers in milliseconds; a dead one must not hold a read long


class TotaliserError(StationAgentError, OSError):
    """The totaliser could not be read (path, connection, Modbus exception, or a value that is not
    a meter reading)."""


class Meter(Protocol):
    """What metering needs of a totaliser (a fake in tests)."""

    unit: str

    def read(self) -> float: ...

    def close(self) -> None: ...


def _data_type(name: str) -> Any:
    from pymodbus.client.mixin import ModbusClientMixin

    return ModbusClientMixin.DATATYPE[name.upper()]


class ModbusTotaliser:
    """One totaliser register map on a Modbus client (pymodbus's sync TCP or serial client)."""

    def __init__(self, settings: TotaliserSettings, client: Any, device: int) -> None:
        self.settings = settings
        self.path = settings.path
        self.unit: str = settings.unit
        self.client = client
        self.device = device
        self._type = _data_type(settings.data_type)
        self._count: int = self._type.value[1]  # registers this data type spans
        self._lock = threading.Lock()

    def read(self) -> float:
        """The reading in `unit` (raw * scale). TotaliserError for any failure."""
        from pymodbus.exceptions import ModbusException

        where = f"{self.path}: {self.settings.register_type} registers {self.settings.address}+{self._count}"
        method = "read_holding_registers" if self.settings.register_type == "holding" else "read_input_registers"
        with self._lock:
            try:
                if not self.client.connected:
                    self.client.connect()
                response = getattr(self.client, method)(self.settings.address, count=self._count, device_id=self.device)
            except (ModbusException, OSError) as error:
                raise TotaliserError(f"{where}: read failed: {error}") from error
        if response is None or response.isError():
            raise TotaliserError(f"{where}: answered with an error: {response}")
        registers = list(getattr(response, "registers", []) or [])
        if len(registers) != self._count:
            raise TotaliserError(f"{where}: answered {len(registers)} registers")
        raw = self.client.convert_from_registers(registers, self._type, word_order=self.settings.word_order)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise TotaliserError(f"{where}: decoded to {raw!r}, not a number")
        value = float(raw) * self.settings.scale
        # A float register holding NaN, or a signed counter gone negative, is not a reading.
        if not math.isfinite(value) or value < 0:
            raise TotaliserError(f"{where}: {value!r} is not a meter reading")
        return value

    def close(self) -> None:
        with self._lock:
            self.client.close()


def open_totaliser(settings: TotaliserSettings, *, timeout: float = DEFAULT_TIMEOUT_S) -> ModbusTotaliser:
    """The totaliser `settings.path` names; TotaliserError for a malformed path. Nothing is read yet
    (the client connects on the first read, so a meter that is down does not stop the agent)."""
    try:
        if settings.path.startswith("modbus-tcp:"):
            client, device = _tcp(settings.path, timeout)
        elif settings.path.startswith("modbus-rtu:"):
            client, device = _rtu(settings.path, timeout)
        else:
            raise TotaliserError(f"totaliser path must be modbus-tcp://... or modbus-rtu://..., not {settings.path!r}")
    except InterlockPathError as error:  # the interlock's option parser names the bad option
        raise TotaliserError(str(error)) from error
    return ModbusTotaliser(settings, client, device)


def _tcp(path: str, timeout: float) -> tuple[Any, int]:
    client, (unit,), _ = modbus_tcp_client(path, timeout, 1, "totaliser path must be modbus-tcp://HOST[:PORT]/UNIT", set())
    return client, unit


def _rtu(path: str, timeout: float) -> tuple[Any, int]:
    usage = "totaliser path must be modbus-rtu:///dev/ttyX?unit=N[&baud=&parity=]"
    client, options = modbus_rtu_client(path, timeout, usage, {"unit"})
    unit = _int_option(path, options, "unit")
    if unit is None:
        raise TotaliserError(f"{usage}, not {path!r}")
    return client, unit
