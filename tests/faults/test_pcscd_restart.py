"""pcscd restarted under a running agent (a `pcsc` reader, an emulated card behind vsmartcard-vpcd).

Today's defect: after the restart the agent never reads again. The reader must be reopened with
back-off, without restarting the agent, and the next vehicle fills as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tag_tools.emulation.ntag_emulator import NtagEmulator
from tests.faults.conftest import PARKING_UID, MakePump
from tests.faults.station import wait_pump
from tests.pcscd_peer import PcscdWithVpcd
from tests.peers import peer_unavailable, wait_until
from tests.rigs import VpcdRig

TURN_S = 120.0  # pcscd is machine-wide: wait this long for another session's turn to end
REOPEN_S = 15.0  # how long the agent may take to find the restarted pcscd (its back-off)


@pytest.fixture
def vpcd_rig() -> Iterator[VpcdRig]:
    try:
        import smartcard  # noqa: F401

        rig = VpcdRig()
        rig.pcscd.turn_timeout = TURN_S
        rig.start(NtagEmulator.blank(PARKING_UID))
    except Exception as error:  # ImportError, PeerError, pcscd trouble: all "cannot start"
        peer_unavailable("pcscd + vsmartcard-vpcd", f"{type(error).__name__}: {error}")
    rig.empty()
    yield rig
    rig.stop()


def _restart_pcscd(rig: VpcdRig) -> None:
    """Stop pcscd and start a new one on the same vpcd port (the card reconnects by itself)."""
    port = rig.pcscd.port
    rig.pcscd.stop()
    rig.pcscd = PcscdWithVpcd(port=port, turn_timeout=TURN_S)
    rig.pcscd.start()


def test_pcscd_restarted_reads_resume(make_pump: MakePump, vpcd_rig: VpcdRig) -> None:
    pump = make_pump(rig=vpcd_rig)
    before = pump.present(pump.vehicle())
    assert before.allowed and "PUMP ON" in before.line, before.line
    pump.assert_decided_in_time(before)
    pump.fill_done()

    pid = pump.agent.pid
    _restart_pcscd(vpcd_rig)
    after = pump.present(pump.vehicle(), limit=REOPEN_S)
    assert after.allowed and "PUMP ON" in after.line, after.line
    wait_until(pump.relay.coil_on, "the coil ON for the vehicle read after pcscd's restart", 5)
    pump.fill_done()
    assert pump.agent.pid == pid and pump.agent.alive, "recovered by restarting the agent, not by reopening the reader"
    wait_pump(pump, False)
    wait_until(lambda: pump.state()["reader_problem"] is None, "the page to stop showing a reader problem", REOPEN_S)
    pump.assert_not_in_fault()

    # Once reopened, reads are as quick as before the restart.
    again = pump.present(pump.vehicle())
    pump.assert_decided_in_time(again)
    pump.fill_done()
    pump.assert_coil_history()
    pump.assert_delivered_exactly_once()
