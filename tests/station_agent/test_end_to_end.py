"""End to end: emulated tags on both reader stacks (nfcpy udp, pcscd + vpcd), a real registry
(SQLite and PostgreSQL), and the pump interlock on pymodbus's Modbus server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from station_agent.tagsource import FakeTagSource, ReaderTagSource
from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.readers import ReadOptions
from tag_tools.verdict import ChipEvidence, Originality
from tests.peers import peer_unavailable, wait_until
from tests.station_agent.conftest import SUPERVISOR_PASSWORD, session_of, sync_of
from tests.station_agent.e2e import OVERDUE, PAST_LIFE, RunningAgent, emulated_tag, new_vehicle
from tests.station_agent.fakes import Clock
from tests.station_agent.modbus_peer import ModbusPeer
from tests.station_agent.registry_peer import RegistryPeer, database_url
from tests.testkit import TestPki

COIL = 5
PARKING_UID = bytes.fromhex("04000000000002")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, test_pki: TestPki, now: datetime
) -> Iterator[RegistryPeer]:
    peer = RegistryPeer(database_url(request.param, tmp_path_factory.mktemp("registry")), test_pki, lambda: now)
    yield peer.start()
    peer.dispose()


@pytest.fixture(scope="module")
def originality_keys() -> tuple[bytes, bytes]:
    return ntag.generate_test_key()


@pytest.fixture(scope="module")
def rig(request: pytest.FixtureRequest) -> Iterator[Any]:
    from tests.rigs import Rig, UdpRig, VpcdRig

    started: Rig
    try:
        if request.param == "nfcpy-udp":
            import nfc  # noqa: F401

            started = UdpRig().start(NtagEmulator.blank(PARKING_UID))
        else:
            import smartcard  # noqa: F401

            started = VpcdRig().start(NtagEmulator.blank(PARKING_UID))
    except Exception as error:
        peer_unavailable(f"reader rig {request.param}", f"{type(error).__name__}: {error}")
    yield started
    started.stop()


def _agent(
    tmp_path: Path,
    test_pki: TestPki,
    root_pem: Path,
    source: Any,
    modbus: ModbusPeer,
    registry: RegistryPeer,
    clock: Clock,
    **policy: Any,
) -> RunningAgent:
    return RunningAgent(
        tmp_path,
        test_pki,
        root_pem,
        source,
        f"modbus-tcp://127.0.0.1:{modbus.port}/1/{COIL}",
        registry.url,
        registry.token,
        clock,
        **policy,
    )


# Each reader stack once, each database once (the registry-down test below runs on both databases):
# every pairing would double the slowest test without exercising anything new.
@pytest.mark.parametrize(("rig", "registry"), [("nfcpy-udp", "postgresql"), ("pcsc-vpcd", "sqlite")], indirect=True)
def test_readers_registry_and_relay(
    rig: Any,
    originality_keys: tuple[bytes, bytes],
    registry: RegistryPeer,
    modbus: ModbusPeer,
    tmp_path: Path,
    test_pki: TestPki,
    root_pem: Path,
    clock: Clock,
) -> None:
    source = ReaderTagSource(rig.reader_path, repeat_after_s=600, options=ReadOptions(originality_key=originality_keys[1]))
    private = originality_keys[0]
    rig.empty()  # nothing in the field when the agent starts
    with _agent(tmp_path, test_pki, root_pem, source, modbus, registry, clock) as running:
        agent = running.agent

        def present(uid: bytes, message: bytes) -> Any:
            lines = len(running.lines)
            rig.present(emulated_tag(uid, message, private))
            wanted = uid.hex().upper()

            def handled() -> Any:
                session = agent.session
                found = [c for c in session.cylinders.values() if c.tag_uid == wanted] if session else []
                return found[0] if found else None

            # The line is printed once the event is stored and the interlock driven.
            wait_until(lambda: len(running.lines) > lines and handled() is not None, f"a read of {wanted}")
            rig.empty()  # the tag leaves the field, as a real tag does when the reader is moved on
            return handled()

        # An allowed vehicle: the coil goes on, and off once the attendant ends the fill.
        good = new_vehicle(registry, test_pki)
        result = present(good.uids[0], good.message(test_pki, 0))
        assert result.decision == "allow" and result.online and result.read_counter is not None, result
        assert modbus.coil(COIL) is True, (running.lines, agent.fault, running.interlock.states)
        agent.end_fill()
        assert modbus.coil(COIL) is False

        running.interlock.states.clear()
        refusals: list[tuple[str, bytes, bytes]] = []
        overdue = new_vehicle(registry, test_pki, overrides=[OVERDUE])
        refusals.append(("inspection_overdue", overdue.uids[0], overdue.message(test_pki, 0)))
        past = new_vehicle(registry, test_pki, overrides=[PAST_LIFE])
        refusals.append(("past_service_life", past.uids[0], past.message(test_pki, 0)))
        moved = new_vehicle(registry, test_pki)
        refusals.append(("uid_mismatch", bytes.fromhex("04DEADBEEF0001"), moved.message(test_pki, 0)))
        forged = bytearray(new_vehicle(registry, test_pki).message(test_pki, 0))
        forged[-5] ^= 0x01
        forged_vehicle_uid = bytes.fromhex("04") + bytes(6)
        refusals.append(("bad_signature", forged_vehicle_uid, bytes(forged)))
        revoked = new_vehicle(registry, test_pki)
        registry.revoke(str(revoked.cylinder_ids[0]))  # after the agent's last sync: only online status knows
        refusals.append(("cylinder_revoked", revoked.uids[0], revoked.message(test_pki, 0)))
        for reason, uid, message in refusals:
            agent.new_vehicle()
            result = present(uid, message)
            assert result.decision == "refuse" and reason in result.reasons, (reason, result)

        # Three cylinders, the third overdue: refused, the relay never switched on.
        agent.new_vehicle()
        three = new_vehicle(registry, test_pki, cylinders=3, overrides=[{}, {}, OVERDUE])
        for index in range(3):
            present(three.uids[index], three.message(test_pki, index))
        assert session_of(agent).state.value == "refused" and session_of(agent).expected == 3
        assert not running.ever_enabled() and modbus.coil(COIL) is False
        assert len(running.lines) == 9
        wait_until(lambda: agent.outbox.counts().unsent == 0, "every event delivered")
        ids = agent.outbox.event_ids()
    assert modbus.coil(COIL) is False
    assert len(ids) == 9 and set(ids) <= set(registry.event_ids())


def test_registry_down_decides_offline_then_delivers_exactly_once(
    registry: RegistryPeer, modbus: ModbusPeer, tmp_path: Path, test_pki: TestPki, root_pem: Path, clock: Clock
) -> None:
    source = FakeTagSource()
    good = new_vehicle(registry, test_pki)
    overdue = new_vehicle(registry, test_pki, overrides=[OVERDUE])
    before = registry.event_count()  # the module's registry also holds other tests' events
    registry.stop()
    try:
        with _agent(tmp_path, test_pki, root_pem, source, modbus, registry, clock) as running:
            agent = running.agent
            source.push(good.uids[0], good.message(test_pki, 0), ChipEvidence(Originality.GENUINE))
            running.wait_reads(1)
            first = session_of(agent).cylinders[str(good.cylinder_ids[0])]
            assert first.decision == "allow" and not first.online and modbus.coil(COIL) is True
            agent.end_fill()
            assert modbus.coil(COIL) is False
            for _ in range(3):
                agent.new_vehicle()
                source.push(overdue.uids[0], overdue.message(test_pki, 0))
            running.wait_reads(4)
            assert "(offline)" in running.lines[-1] and "inspection_overdue" in running.lines[-1]
            ids = agent.outbox.event_ids()
            assert len(ids) == 4 and registry.event_count() == before
            registry.start()
            wait_until(lambda: agent.outbox.counts().unsent == 0, "outbox drained after the registry came back")
            wait_until(lambda: sync_of(agent).status.online is True, "sender online")
            # A crash between upload and mark-sent resends a batch: the registry keeps one copy.
            agent.outbox._db.execute("UPDATE events SET sent_at = NULL")
            sync_of(agent).poke()
            wait_until(lambda: agent.outbox.counts().unsent == 0, "resend done")

            # Back online: the registry's status decides, and knows a revocation the agent never synced.
            revoked, allowed = new_vehicle(registry, test_pki), new_vehicle(registry, test_pki)
            registry.revoke(str(revoked.cylinder_ids[0]))
            running.interlock.states.clear()
            agent.new_vehicle()
            source.push(revoked.uids[0], revoked.message(test_pki, 0))
            running.wait_reads(5)
            refused = session_of(agent).cylinders[str(revoked.cylinder_ids[0])]
            assert refused.online and refused.decision == "refuse" and "cylinder_revoked" in refused.reasons
            assert not running.ever_enabled()
            agent.new_vehicle()
            source.push(allowed.uids[0], allowed.message(test_pki, 0))
            running.wait_reads(6)
            assert session_of(agent).cylinders[str(allowed.cylinder_ids[0])].online and modbus.coil(COIL) is True
            agent.end_fill()
            assert modbus.coil(COIL) is False
            wait_until(lambda: agent.outbox.counts().unsent == 0, "online events delivered")
            ids = agent.outbox.event_ids()
            assert len(ids) == 6
        mine = [i for i in registry.event_ids() if i in set(ids)]
        assert sorted(mine) == sorted(ids)
    finally:
        if registry._server is None:
            registry.start()


def test_override_reaches_the_registry_with_attendant_and_supervisor(
    registry: RegistryPeer, modbus: ModbusPeer, tmp_path: Path, test_pki: TestPki, root_pem: Path, clock: Clock
) -> None:
    """Every override is an event the bureau sees: attendant, supervisor and reason as separate fields."""
    source = FakeTagSource()
    vehicle = new_vehicle(registry, test_pki)
    with _agent(tmp_path, test_pki, root_pem, source, modbus, registry, clock) as running:
        agent = running.agent
        wait_until(lambda: sync_of(agent).status.online is True, "sender online")
        source.push(vehicle.uids[0], vehicle.message(test_pki, 0), ChipEvidence(Originality.NOT_GENUINE))
        running.wait_reads(1)
        result = session_of(agent).cylinders[str(vehicle.cylinder_ids[0])]
        assert result.decision == "refuse" and "chip_not_genuine" in result.reasons and modbus.coil(COIL) is False
        agent.override("A-009", "S-01", SUPERVISOR_PASSWORD, "tag chip replaced under warranty, ticket 1234")
        assert modbus.coil(COIL) is True
        agent.end_fill()
        wait_until(lambda: agent.outbox.counts().unsent == 0, "override delivered")
        assert agent.outbox.counts().rejected == 0
        bodies = [json.loads(body) for (body,) in agent.outbox._db.execute("SELECT body FROM events ORDER BY seq")]
    assert len(bodies) == 2
    stored = {body["registry"]["outcome"]: registry.event(body["event_id"]) for body in bodies}
    refused, overridden = stored["refused"], stored["overridden"]
    assert overridden is not None and refused is not None
    assert overridden.attendant == "A-009" and overridden.supervisor == "S-01"
    assert overridden.override_reason == "tag chip replaced under warranty, ticket 1234"
    assert overridden.session_id == refused.session_id and overridden.session_id
    assert refused.supervisor is None and refused.override_reason is None
    assert overridden.decided_offline is refused.decided_offline is (not result.online)
