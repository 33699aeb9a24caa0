"""Shared pieces of the end-to-end tests: emulated tags, an agent running its real loop against a
real registry and the Modbus relay, and waiting for reads to be handled."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from station_agent.agent import Agent
from station_agent.config import parse_config
from station_agent.interlock import Interlock, open_interlock
from station_agent.outbox import Outbox
from station_agent.registry_client import HttpRegistryClient
from station_agent.sync import TrustCache
from station_agent.tagsource import TagSource
from tag_tools import ntag, t2t_memory
from tag_tools.claims import CylinderId
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tests.peers import wait_until
from tests.station_agent.conftest import config_document
from tests.station_agent.registry_peer import RegistryPeer
from tests.testkit import TestPki


def emulated_tag(uid: bytes, message: bytes, private_key: bytes) -> NtagEmulator:
    """A genuine-looking NTAG215 (signature by the test originality key) holding `message`."""
    emulator = NtagEmulator.blank(uid, signature=ntag.sign_uid(uid, private_key))
    tlv = t2t_memory.ndef_tlv(message)
    emulator.memory[16 : 16 + len(tlv)] = tlv
    emulator.memory[emulator.chip.cfg1_page * 4] |= ntag.ACCESS_NFC_CNT_EN  # as written by a centre: counter on
    emulator.counter = 41
    return emulator


@dataclass
class Vehicle:
    plate: str
    vin: str
    uids: list[bytes]
    cylinder_ids: list[CylinderId]
    overrides: list[dict[str, Any]] = field(default_factory=list)

    def claims(self, index: int) -> dict[str, Any]:
        return {
            "cylinder_id": self.cylinder_ids[index],
            "plate": self.plate,
            "vin": self.vin,
            "vehicle_cylinders": len(self.uids),
            **self.overrides[index],
        }

    def message(self, pki: TestPki, index: int) -> bytes:
        return pki.ndef_message(self.uids[index], **self.claims(index))


_counter = iter(range(1, 10_000))


def new_vehicle(
    registry: RegistryPeer | None,
    pki: TestPki,
    cylinders: int = 1,
    overrides: list[dict[str, Any]] | None = None,
    register: bool = True,
) -> Vehicle:
    """A vehicle with fresh plate, VIN, tag UIDs and cylinder ids; registered like its records say."""
    n = next(_counter) + (id(pki) % 1000) * 10_000
    vehicle = Vehicle(
        plate=f"豫A{n % 100000:05d}",
        vin=f"LSVAU2180N{n % 10_000_000:07d}",
        uids=[bytes.fromhex("04") + (n * 8 + i).to_bytes(6, "big") for i in range(cylinders)],
        cylinder_ids=[CylinderId(156, 4101, 20_000_000 + n * 8 + i) for i in range(cylinders)],
        overrides=overrides or [{} for _ in range(cylinders)],
    )
    if registry is not None and register:
        specs = []
        for index in range(cylinders):
            record = pki.record(vehicle.uids[index], **vehicle.claims(index))
            specs.append(
                {
                    "cylinder_id": str(record.cylinder_id),
                    "tag_uid": vehicle.uids[index].hex().upper(),
                    "next_due": record.next_due,
                    "end_of_life": record.end_of_life,
                    "record_sequence": record.sequence,
                }
            )
        registry.register_vehicle(vehicle.plate, vehicle.vin, specs)
    return vehicle


class RecordingInterlock(Interlock):
    """Delegates to the real backend and remembers every command, to prove 'never on'."""

    def __init__(self, inner: Interlock) -> None:
        self.inner, self.path = inner, inner.path
        self.states: list[bool] = []

    def set_enabled(self, enabled: bool) -> None:
        self.inner.set_enabled(enabled)
        self.states.append(enabled)

    def heartbeat(self) -> None:
        self.inner.heartbeat()

    def close(self) -> None:
        self.inner.close()


class RunningAgent:
    """An Agent running its own read loop in a thread, as `station-agent run` does."""

    def __init__(
        self,
        tmp: Path,
        pki: TestPki,
        root_pem: Path,
        source: TagSource,
        interlock_path: str,
        registry_url: str,
        token: str,
        clock: Any,
        **policy: Any,
    ) -> None:
        document = config_document(tmp, root_pem, **policy)
        document["registry"] = {
            "url": registry_url,
            "token": token,
            "budget_ms": 2000,
            "sync_interval_s": 0.5,
            "max_backoff_s": 0.5,
            "upload_debounce_s": 0.1,
        }
        config = parse_config(document)
        outbox = Outbox(config.outbox_path)
        cache = TrustCache(outbox, pki.root_certificate, config.policy.trust_list_max_age, pki.trust_list_bytes)
        self.interlock = RecordingInterlock(open_interlock(interlock_path))
        self.lines: list[str] = []
        self.agent = Agent(
            config,
            source=source,
            interlock=self.interlock,
            outbox=outbox,
            cache=cache,
            client=HttpRegistryClient(registry_url, token),
            clock=clock,
            echo=self.lines.append,
        )
        self.thread = threading.Thread(target=self.agent.run, daemon=True)

    def __enter__(self) -> RunningAgent:
        self.agent.start()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.agent.stop()
        self.thread.join(10)
        self.agent.outbox.close()

    def wait_reads(self, count: int) -> None:
        wait_until(lambda: len(self.lines) >= count, f"{count} reads handled (got {self.lines})")

    def ever_enabled(self) -> bool:
        return True in self.interlock.states


OVERDUE = {"next_due": date(2026, 11, 1), "inspected": date(2023, 11, 1)}
PAST_LIFE = {"end_of_life": date(2026, 10, 31)}
