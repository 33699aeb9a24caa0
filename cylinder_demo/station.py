"""The demo station: `station-agent`'s own build_agent on a station.toml written into the demo
folder, reading through nfcpy from the emulated field, the `log:` interlock, and the registry over
HTTP. `drive()` presents a vehicle's tags one after another, as an attendant moves the reader from
cylinder to cylinder, and returns what the agent decided for the vehicle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cylinder_demo.fleet import SignedVehicle
from cylinder_demo.tags import OriginalityKeys, ReaderField, start_reader_field, written_tag
from station_agent.agent import Agent
from station_agent.cli import build_agent
from station_agent.config import load_config
from station_agent.session import CylinderResult, SessionState
from station_agent.tagsource import ReaderTagSource
from station_agent.web import AttendantServer
from tag_tools.verdict import Decision

READ_WAIT_S = 20.0
STATION_TOML = """\
# Written by cylinder_demo: pump 1 of the demo station (see docs/station.md).
[station]
code = "{code}"
pump = 1
state_dir = "state"
attendant = "A-001"

[reader]
path = "{reader}"
repeat_after_s = 3

[interlock]
path = "log:"
heartbeat_s = 0.2

[trust]
root_certificate = "{root}"
initial_trust_list = "{trust_list}"

[registry]
url = "{api}"
token_file = "station.token"
budget_ms = 2000
sync_interval_s = 1
max_backoff_s = 1
upload_debounce_s = 0.2

[policy]
mode = "enforce"
timezone = "Asia/Shanghai"

[attendant]
listen = "127.0.0.1:0"
"""


@dataclass(frozen=True)
class VehicleOutcome:
    decision: Decision
    reasons: tuple[str, ...]
    plate: str | None  # as the station learnt it from a trusted record; None when no record was trusted
    read: int
    expected: int
    pump_enabled: bool  # the interlock's state right after the last read
    cylinders: tuple[CylinderResult, ...]


def write_station_toml(folder: Path, code: str, reader: str, root: Path, trust_list: Path, api_url: str, token: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "station.token").write_text(token + "\n", encoding="utf-8")
    (folder / "station.token").chmod(0o600)
    path = folder / "station.toml"
    path.write_text(
        STATION_TOML.format(code=code, reader=reader, root=root.resolve(), trust_list=trust_list.resolve(), api=api_url),
        encoding="utf-8",
    )
    path.chmod(0o600)  # holds supervisor password hashes: the agent warns when others can read it
    return path


def until(condition: Callable[[], bool], what: str, limit: float = READ_WAIT_S) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class DemoStation:
    """The agent's real read loop in a thread, fed by the emulated field."""

    def __init__(self, folder: Path, keys: OriginalityKeys, make_config: Callable[[str], Path]) -> None:
        self.folder = folder
        self.keys = keys
        self.rig: ReaderField = start_reader_field()
        self.config = load_config(make_config(self.rig.reader_path))
        source = ReaderTagSource(
            self.rig.reader_path, repeat_after_s=self.config.repeat_after.total_seconds(), options=keys.read_options()
        )
        self.agent: Agent = build_agent(self.config, source=source)
        self.lines: list[str] = []
        self.agent.echo = self.lines.append  # the demo prints one line per vehicle; these go to console.log
        self.attendant = AttendantServer(self.agent, self.config.listen_host, self.config.listen_port)
        self._thread = threading.Thread(target=self.agent.run, name="station-agent", daemon=True)

    def start(self) -> DemoStation:
        self.agent.start()
        self._thread.start()
        self.attendant.start()
        return self

    def drive(self, vehicle: SignedVehicle) -> VehicleOutcome:
        agent = self.agent
        agent.new_vehicle()  # the attendant starts with a clean screen for each vehicle
        for tag in vehicle.tags:
            before, wanted = len(self.lines), tag.uid.hex().upper()
            self.rig.present(written_tag(tag.uid, tag.message, self.keys))
            until(partial(self._handled, before, wanted), f"the reader to handle tag {wanted}")
            self.rig.empty()  # the reader moves on: the tag leaves the field
        session = agent.session
        assert session is not None
        outcome = VehicleOutcome(
            decision=_vehicle_decision(session.state, tuple(session.cylinders.values())),
            reasons=tuple(session.summary_reasons()),
            plate=session.plate,
            read=len(session.cylinders),
            expected=session.expected or len(vehicle.tags),
            pump_enabled=agent.pump.enabled,
            cylinders=tuple(session.cylinders.values()),
        )
        if outcome.pump_enabled:
            agent.end_fill()  # the fill is done: the attendant presses "fill finished"
        return outcome

    def _handled(self, lines_before: int, tag_uid: str) -> bool:
        """The agent printed a new line and its session holds a read of this tag."""
        session = self.agent.session
        return (
            len(self.lines) > lines_before
            and session is not None
            and any(c.tag_uid == tag_uid for c in session.cylinders.values())
        )

    def wait_delivered(self, limit: float = 30.0) -> None:
        """Every scan event is in the registry (the agent uploads them in the background)."""
        until(lambda: self.agent.outbox.counts().unsent == 0, "the scan events to reach the registry", limit)

    def close(self) -> None:
        try:
            self.attendant.stop()
        finally:
            self.agent.stop()
            self._thread.join(5)
            self.agent.outbox.close()
            self.rig.stop()
            (self.folder / "console.log").write_text("".join(f"{line}\n" for line in self.lines), encoding="utf-8")


def _vehicle_decision(state: SessionState, cylinders: tuple[CylinderResult, ...]) -> Decision:
    if state is SessionState.REFUSED or any(c.refused for c in cylinders):
        return Decision.REFUSE
    if state is not SessionState.READY:
        return Decision.REFUSE  # not every cylinder read: the pump stays off
    if any(c.decision == Decision.ALLOW_WITH_WARNING.value for c in cylinders):
        return Decision.ALLOW_WITH_WARNING
    return Decision.ALLOW
