"""A Modbus TCP relay module that can drop off the network and come back power-cycled.

pymodbus's own TCP server on a fixed port, in a thread with its own event loop. `go_away()` shuts
the server down (listener closed, every connection dropped, as a module losing power or its cable
does); `come_back()` starts a fresh server on the same port with every output OFF, as a
power-cycled module would. Every coil write is recorded with its monotonic time and the "epoch"
(one per power-on) it landed in: that history, across restarts, is what the fault tests judge.

The agent and the tests share CLOCK_MONOTONIC (one host), so the test's own `time.monotonic()`
marks (a vehicle presented, fill-done pressed) are comparable with the recorded writes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.peers import free_tcp_port
from tests.station_agent.modbus_peer import relay_context

COIL_FUNCTIONS = (5, 15)  # write single coil, write multiple coils
REGISTER_FUNCTIONS = (6, 16)


@dataclass(frozen=True)
class CoilWrite:
    at: float  # time.monotonic() when the module applied the write
    value: bool
    epoch: int  # which power-on of the module took it (0 = the first)


@dataclass(frozen=True)
class Window:
    """A span in which the pump may legitimately be ON: from a vehicle allowed to its end."""

    start: float
    end: float

    def holds(self, at: float) -> bool:
        return self.start <= at <= self.end


class RelayModule:
    """`modbus-tcp://127.0.0.1:{port}/{unit}/{coil}?watchdog={register}` names it for the agent."""

    def __init__(self, coil: int = 5, watchdog: int = 9, unit: int = 1) -> None:
        self.port = free_tcp_port()
        self.coil, self.watchdog, self.unit = coil, watchdog, unit
        self.writes: list[CoilWrite] = []
        self.beats = 0  # watchdog register writes seen, over every epoch
        self.epochs: list[float] = []  # monotonic start time of each power-on
        self.outages: list[float] = []  # monotonic time of each go_away()
        self.on_write: Callable[[CoilWrite], None] | None = None  # hook, called in the module's loop
        self._history_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return f"modbus-tcp://127.0.0.1:{self.port}/{self.unit}/{self.coil}?watchdog={self.watchdog}"

    @property
    def online(self) -> bool:
        return self._server is not None

    def coil_on(self) -> bool:
        """The output now: the last write of the current epoch (a power-on starts OFF)."""
        with self._history_lock:
            epoch = len(self.epochs) - 1
            mine = [w for w in self.writes if w.epoch == epoch]
        return bool(mine and mine[-1].value) and self.online

    # -- power --------------------------------------------------------------------------------

    def come_back(self) -> RelayModule:
        """Power on (first start or after go_away): a fresh server, outputs OFF, same port."""
        from pymodbus.server import ModbusTcpServer

        assert self._server is None, "the module is already on the network"
        context = relay_context(self.unit)
        ready = threading.Event()
        failed: list[BaseException] = []

        def serve() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                server = ModbusTcpServer(context, address=("127.0.0.1", self.port))
                self._record_into(server)
                self._server = server
                started = time.monotonic()
                try:
                    await server.serve_forever(background=True)
                except BaseException as error:  # the port is still held: report it to come_back()
                    failed.append(error)
                    self._server = None
                    ready.set()
                    return
                with self._history_lock:
                    self.epochs.append(started)
                ready.set()
                await server.serving

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name=f"relay-module-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failed:
            raise RuntimeError(f"relay module did not come up on port {self.port}: {failed}")
        return self

    def go_away(self) -> None:
        """Off the network: the listener closes and every connection drops, outputs lost with power."""
        if self._server is None or self._loop is None:
            return
        with self._history_lock:
            self.outages.append(time.monotonic())
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._loop = self._thread = None

    def outage(self, seconds: float) -> None:
        """Drop off the network for `seconds`, then come back power-cycled (outputs OFF)."""
        self.go_away()
        time.sleep(seconds)
        self.come_back()

    def _record_into(self, server: Any) -> None:
        """Wrap the server's datastore so every write is recorded before it is applied."""
        inner = server.context.async_setValues
        epoch = len(self.epochs)

        async def recording(device_id: int, func_code: int, address: int, values: Sequence[Any]) -> Any:
            now = time.monotonic()
            if func_code in COIL_FUNCTIONS and address <= self.coil < address + len(values):
                write = CoilWrite(now, bool(values[self.coil - address]), epoch)
                with self._history_lock:
                    self.writes.append(write)
                if self.on_write is not None:
                    self.on_write(write)
            elif func_code in REGISTER_FUNCTIONS and address <= self.watchdog < address + len(values):
                self.beats += 1
            return await inner(device_id, func_code, address, values)

        server.context.async_setValues = recording

    # -- what the history says ----------------------------------------------------------------

    def history(self) -> list[CoilWrite]:
        with self._history_lock:
            return list(self.writes)

    def ever_on(self) -> bool:
        return any(w.value for w in self.history())

    def violations(self, windows: Sequence[Window]) -> list[str]:
        """Every way the history breaks the interlock's rules, in words (empty: it held).

        1. No ON outside an allowed window.
        2. After a power-on (a reconnect), the first command is OFF unless an allowed window
           started after that power-on and the ON falls in it.
        """
        problems = []
        history = self.history()
        for write in history:
            if write.value and not any(w.holds(write.at) for w in windows):
                problems.append(f"ON at {write.at:.3f} (epoch {write.epoch}) outside every allowed window {windows}")
        with self._history_lock:
            epochs = list(self.epochs)
        for epoch, started in enumerate(epochs[1:], start=1):
            first = next((w for w in history if w.epoch == epoch), None)
            if first is not None and first.value and not any(w.holds(first.at) and w.start >= started for w in windows):
                problems.append(f"first command after the reconnect at {started:.3f} was ON ({first.at:.3f})")
        return problems

    def describe(self) -> str:
        start = self.epochs[0] if self.epochs else 0.0
        return ", ".join(f"{'ON' if w.value else 'off'}@{w.at - start:.2f}s/e{w.epoch}" for w in self.history())

    def stop(self) -> None:
        self.go_away()
