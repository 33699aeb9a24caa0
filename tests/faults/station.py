"""One pump under test: the real agent process wired to a reader rig, a relay module and a registry
(directly or through the hostile proxy), with what every fault test asserts.

The test side keeps the allowed windows: a window opens when the test presents the last tag of a
vehicle that should be allowed and closes when the test ends the fill (the agent writes OFF before
it answers the button), when the relay drops off the network, or at the fill deadline. The relay's
coil history is then judged against those windows (tests/faults/relay.py).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_tools.emulation.ntag_emulator import NtagEmulator
from tests.faults.processes import AgentProcess, Outbox, RegistryProcess
from tests.faults.relay import RelayModule, Window
from tests.peers import wait_until
from tests.rigs import Rig
from tests.station_agent.conftest import config_document
from tests.station_agent.e2e import Vehicle, emulated_tag, new_vehicle
from tests.testkit import TestPki

BUDGET_MS = 300
FILL_TIMEOUT_S = 20.0
HEARTBEAT_S = 0.1
# A decision is the read (the reader stack polls every 0.5 s at most, then reads the tag) plus the
# registry's budget. Reads are timed from the moment the tag enters the field: this allowance covers
# the reader side on a loaded two-core machine, so what is left is the budget, never 5 s of trickle.
READ_ALLOWANCE_S = 1.5
DECISION_LIMIT_S = BUDGET_MS / 1000 + READ_ALLOWANCE_S
DELIVERY_S = 30.0
MAX_BACKOFF_S = 0.5


def toml_document(document: dict[str, Any]) -> str:
    """The subset of TOML a station.toml needs: tables of scalars and arrays of tables.
    JSON's string, number and boolean spellings are valid TOML."""
    lines: list[str] = []
    for name, table in document.items():
        for entry in table if isinstance(table, list) else [table]:
            lines.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            lines.extend(f"{key} = {json.dumps(value)}" for key, value in entry.items())
            lines.append("")
    return "\n".join(lines)


def write_config(
    directory: Path,
    pki: TestPki,
    *,
    reader_path: str,
    interlock_path: str,
    registry_url: str | None,
    token: str | None,
    state_dir: Path | None = None,
    **overrides: dict[str, Any],
) -> Path:
    """station.toml for one pump; `overrides` replace keys table by table (e.g. policy={...})."""
    root, trust_list = directory / "root.pem", directory / "trust-list.cose"
    root.write_bytes(pki.root_certificate_pem)
    trust_list.write_bytes(pki.trust_list_bytes)
    document = config_document(
        state_dir or directory / "state", root, timezone="UTC", min_refill_interval_min=0, refuse_non_genuine_chip=False
    )
    document["reader"] = {"path": reader_path, "repeat_after_s": 30}
    document["interlock"] = {"path": interlock_path, "heartbeat_s": HEARTBEAT_S, "fill_timeout_s": FILL_TIMEOUT_S}
    document["trust"]["initial_trust_list"] = str(trust_list)
    if registry_url is not None:
        # Short intervals: the whole suite has three minutes (the debounce batches a busy pump's reads).
        document["registry"] = {
            "url": registry_url,
            "token": token,
            "budget_ms": BUDGET_MS,
            "sync_interval_s": 0.5,
            "max_backoff_s": MAX_BACKOFF_S,
            "upload_debounce_s": 0.2,
        }
    for table, values in overrides.items():
        document.setdefault(table, {}).update(values)
    path = directory / "station.toml"
    path.write_text(toml_document(document), encoding="utf-8")
    return path


@dataclass
class Read:
    vehicle: Vehicle
    index: int
    line: str
    seconds: float  # from the tag entering the field to the agent's line for it

    @property
    def allowed(self) -> bool:
        return " ALLOW" in self.line

    @property
    def offline(self) -> bool:
        return "(offline)" in self.line


@dataclass
class Pump:
    agent: AgentProcess
    rig: Rig
    relay: RelayModule
    registry: RegistryProcess
    pki: TestPki
    originality_key: bytes
    outbox: Outbox
    fill_timeout_s: float = FILL_TIMEOUT_S
    windows: list[Window] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)

    def vehicle(self, cylinders: int = 1) -> Vehicle:
        """A fresh vehicle, registered as its records say (fresh UIDs: the reader's repeat filter never hides it)."""
        return new_vehicle(self.registry.peer, self.pki, cylinders)

    def present(
        self, vehicle: Vehicle, index: int = 0, *, allowed_window: bool = True, acknowledged: bool = True, limit: float = 20.0
    ) -> Read:
        """Put cylinder `index`'s tag on the reader, wait for the agent's line about it, take it off.

        `allowed_window`: the pump may be ON from now until `end_window()` or the fill deadline.
        `acknowledged=False`: a read the agent is expected to refuse to store (disk full), so it is
        not counted among the reads that must reach the registry."""
        after = len(self.agent.lines())
        tag: NtagEmulator = emulated_tag(vehicle.uids[index], vehicle.message(self.pki, index), self.originality_key)
        started = time.monotonic()
        if allowed_window:
            self.windows.append(Window(started, started + 3600.0))  # closed below once the read is seen
        self.rig.present(tag)
        try:
            line = self.agent.wait_line(str(vehicle.cylinder_ids[index]), after, limit)
        finally:
            self.rig.empty()
        seen = time.monotonic()
        if allowed_window:  # the deadline runs from the ON, which lands before the line is printed
            self.windows[-1] = Window(started, seen + self.fill_timeout_s + 0.5)
        read = Read(vehicle, index, line, seen - started)
        if acknowledged:
            self.reads.append(read)
        return read

    def end_window(self, at: float | None = None) -> None:
        """The current allowed window ends now (or at `at`): fill done, relay gone, ..."""
        if self.windows:
            last = self.windows[-1]
            self.windows[-1] = Window(last.start, min(last.end, at if at is not None else time.monotonic()))

    def fill_done(self) -> dict[str, Any]:
        state = self.agent.press("fill-done")
        self.end_window()
        return state

    def state(self) -> dict[str, Any]:
        return self.agent.state()

    # -- what every test asserts ---------------------------------------------------------------

    def assert_coil_history(self) -> None:
        problems = self.relay.violations(self.windows)
        assert not problems, f"{problems}\nhistory: {self.relay.describe()}\n{self.agent.output()}"

    def assert_decided_in_time(self, read: Read) -> None:
        assert read.seconds <= DECISION_LIMIT_S, (
            f"decision took {read.seconds:.2f} s (limit {DECISION_LIMIT_S:.2f} s = budget {BUDGET_MS} ms + "
            f"{READ_ALLOWANCE_S} s for the reader): {read.line}"
        )

    def assert_delivered_exactly_once(self, limit: float = DELIVERY_S, exempt: frozenset[str] = frozenset()) -> None:
        """Every read the agent acknowledged is one event in its outbox, and every outbox event (but
        `exempt`, e.g. a quarantined one) reaches the registry exactly once, none rejected."""
        bodies = self._bodies()
        for read in self.reads:
            uid = read.vehicle.uids[read.index].hex().upper()
            stored = [b for b in bodies.values() if b.get("registry", {}).get("tag_uid") == uid]
            assert stored, f"the read of {uid} ({read.line}) is not in the outbox"
        wanted = [e for e in self.outbox.event_ids() if e not in exempt]
        counts: Counter[str] = Counter()

        def arrived() -> bool:
            counts.clear()
            counts.update(self.registry.event_ids())
            return all(counts[e] >= 1 for e in wanted)

        try:
            wait_until(arrived, "every acknowledged event at the registry", limit, every=0.2)
        except AssertionError:
            missing = [e for e in wanted if not counts[e]]
            raise AssertionError(
                f"{len(missing)} of {len(wanted)} events never reached the registry: {missing}\n"
                f"outbox: {self.outbox.rows()}\n{self.agent.output()}"
            ) from None
        time.sleep(0.3)  # a late duplicate upload, if any, lands now
        counts = Counter(self.registry.event_ids())
        assert all(counts[e] == 1 for e in wanted), {e: counts[e] for e in wanted if counts[e] != 1}
        rejected = [r for r in self.outbox.rejected() if r["event_id"] not in exempt]
        assert not rejected, f"events rejected for good: {rejected}"

    def assert_not_in_fault(self) -> dict[str, Any]:
        state = self.state()
        assert state["fault"] is None and state["state"] != "fault", state
        return state

    def _bodies(self) -> dict[str, dict[str, Any]]:
        bodies = {}
        for row in self.outbox.rows():
            try:
                bodies[str(row["event_id"])] = json.loads(row["body"])
            except (ValueError, TypeError):
                continue
        return bodies


def wait_pump(pump: Pump, enabled: bool, limit: float = 10.0) -> dict[str, Any]:
    """The attendant page's pump indicator reaches `enabled`."""

    def state_when_reached() -> dict[str, Any] | None:
        state = pump.state()
        return state if state["pump_enabled"] is enabled else None

    return wait_until(state_when_reached, f"pump_enabled={enabled} on the page", limit, every=0.05)
