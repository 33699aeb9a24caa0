"""pymodbus's own TCP server on a free port, in a thread with its own event loop: the relay module
the Modbus interlock is tested against. Coils and holding registers are read back from its blocks."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tests.peers import free_tcp_port, wait_listening, wait_until

BLOCK_SIZE = 64

if TYPE_CHECKING:
    from pymodbus.datastore import ModbusServerContext


def relay_context(unit: int = 1) -> ModbusServerContext:
    """A relay module's data: BLOCK_SIZE coils and holding registers for `unit`, all 0/OFF."""
    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # A sequential block must start at address 1 or above (pymodbus 3.16); the device context
        # maps protocol address n to block address n + 1. pymodbus leaves the block's __init__
        # unannotated: the two ignores below.
        coils = ModbusSequentialDataBlock(1, [False] * BLOCK_SIZE)  # type: ignore[no-untyped-call]
        registers = ModbusSequentialDataBlock(1, [0] * BLOCK_SIZE)  # type: ignore[no-untyped-call]
        return ModbusServerContext(devices={unit: ModbusDeviceContext(co=coils, hr=registers)}, single=False)


class ModbusPeer:
    def __init__(self) -> None:
        self.port = free_tcp_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.writes: list[tuple[str, int, Any]] = []

    def start(self) -> ModbusPeer:
        from pymodbus.server import ModbusTcpServer

        context = self._context()
        ready = threading.Event()

        def serve() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                self._server = ModbusTcpServer(context, address=("127.0.0.1", self.port))
                self._loop.call_soon(ready.set)
                await self._server.serve_forever()

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name="modbus-peer", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("pymodbus server did not start")
        wait_listening(self.port, "the pymodbus server")
        return self

    def _context(self) -> Any:
        return relay_context()

    def _reader(self) -> Any:
        from pymodbus.client import ModbusTcpClient

        if getattr(self, "_client", None) is None:
            # pymodbus leaves the sync client's connect() and close() unannotated: held as Any, as
            # station_agent/interlock.py holds it; right after the assignment mypy still sees the class.
            self._client: Any = ModbusTcpClient("127.0.0.1", port=self.port, timeout=2)
            self._client.connect()  # type: ignore[no-untyped-call]
        return self._client

    def coil(self, address: int) -> bool:
        """Read back over Modbus itself, as a second master would."""
        return bool(self._reader().read_coils(address, count=1, device_id=1).bits[0])

    def register(self, address: int) -> int:
        return int(self._reader().read_holding_registers(address, count=1, device_id=1).registers[0])

    def stop(self) -> None:
        if getattr(self, "_client", None) is not None:
            self._client.close()
        if self._loop is not None and self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        if self._thread is not None:
            self._thread.join(10)


class DispenserPeer(ModbusPeer):
    """pymodbus's server as a dispenser's controller: BLOCK_SIZE holding and BLOCK_SIZE input
    registers (from address 0) for `unit`, where a test puts a totaliser (`set_words`, or
    `set_total` in the layout given here) and advances it (`advance`) as gas flows."""

    def __init__(
        self,
        *,
        unit: int = 1,
        register_type: str = "holding",
        address: int = 0,
        data_type: str = "uint32",
        word_order: Literal["big", "little"] = "big",
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.unit = unit
        self.register_type, self.address, self.data_type = register_type, address, data_type
        self.word_order: Literal["big", "little"] = word_order
        self.scale = scale
        self.total = 0.0
        self.reads = 0  # register reads answered: a test waits on it instead of on the clock
        self._words: dict[tuple[str, int], list[int]] = {}  # ("h"|"i", address) -> words served
        self._lock = threading.Lock()

    def _context(self) -> Any:
        from pymodbus.simulator import DataType, SimData, SimDevice

        def registers() -> list[SimData]:
            return [SimData(0, count=BLOCK_SIZE, values=0, datatype=DataType.REGISTERS)]

        def bits() -> list[SimData]:
            return [SimData(0, count=16, values=False, datatype=DataType.BITS)]

        # The device's `action` (pymodbus's hook for a live device) serves the words set here.
        return SimDevice(id=self.unit, simdata=(bits(), bits(), registers(), registers()), action=self._action)

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> None:
        block = "i" if function_code == 4 else "h"
        with self._lock:
            if set_values is None:
                self.reads += 1
            for (kind, first), words in self._words.items():
                if kind == block:
                    current_registers[first - start_address : first - start_address + len(words)] = words
        return None

    def set_words(self, register_type: str, address: int, words: list[int]) -> None:
        with self._lock:
            self._words[("i" if register_type == "input" else "h", address)] = list(words)

    def set_total(self, total: float) -> None:
        """Show `total` (in the meter's unit) in the configured layout, encoded by pymodbus."""
        from pymodbus.client.mixin import ModbusClientMixin

        data_type = ModbusClientMixin.DATATYPE[self.data_type.upper()]
        raw = total / self.scale
        value: int | float = raw if self.data_type.startswith("float") else round(raw)
        self.total = total
        self.set_words(
            self.register_type, self.address, ModbusClientMixin.convert_to_registers(value, data_type, self.word_order)
        )

    def advance(self, amount: float) -> None:
        """Gas flows: the totaliser counts `amount` more."""
        self.set_total(self.total + amount)


class ModbusRtuPeer:
    """pymodbus's serial server with the RTU framer on one end of a socat pty pair; the agent
    opens the other end as its RS-485 port (`agent_port`)."""

    def __init__(self, directory: Path) -> None:
        self.server_port = directory / "relay-module"
        self.agent_port = directory / "station"
        self._socat: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> ModbusRtuPeer:
        from pymodbus import FramerType
        from pymodbus.server import ModbusSerialServer

        socat = shutil.which("socat")
        if socat is None:
            raise RuntimeError("socat is not installed (apt-get install socat)")
        process = self._socat = subprocess.Popen(
            [socat, f"pty,raw,echo=0,link={self.server_port}", f"pty,raw,echo=0,link={self.agent_port}"],
            stderr=subprocess.DEVNULL,
        )

        def pty_pair() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"socat exited with {process.returncode} before creating the pty pair")
            return self.server_port.exists() and self.agent_port.exists()

        wait_until(pty_pair, "socat to create the pty pair", 10)
        context = relay_context()
        ready = threading.Event()

        def serve() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                self._server = ModbusSerialServer(context, framer=FramerType.RTU, port=str(self.server_port), baudrate=9600)
                self._loop.call_soon(ready.set)
                await self._server.serve_forever()

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name="modbus-rtu-peer", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("pymodbus serial server did not start")
        time.sleep(0.2)  # the server opens its pty end right after the loop starts
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        if self._thread is not None:
            self._thread.join(10)
        if self._socat is not None:
            self._socat.terminate()
            self._socat.wait(5)
