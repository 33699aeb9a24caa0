"""One suite over both real stacks: nfcpy (udp driver) and PC/SC (pcscd + vpcd + pyscard).

The tag is the emulator; everything between the test and the emulator is the real driver stack,
so these tests see the same errors and framing a station does.
"""

import os
import threading
from datetime import datetime

import pytest

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.readers import ReadOptions, TagRead, WriteResult, open_reader, read_tag, write_tag
from tag_tools.readers.errors import (
    MultipleTagsError,
    NotType2TagError,
    PartialWriteError,
    ReaderBusyError,
    ReaderNotFoundError,
    ReadTimeout,
    TagCommandError,
    TagFullError,
    TagLockedError,
    TagRemovedError,
    WaitCancelled,
)
from tag_tools.verdict import Decision, Originality, Reason
from tests.rigs import Rig, VpcdRig
from tests.testkit import TestPki

TIMEOUT = 10.0
OTHER_UID = bytes.fromhex("04B1C2D3E4F501")
# Round trips of a read of a typical record: GET_VERSION, FAST_READ 0-7, FAST_READ of the rest,
# READ_SIG, READ_CNT; PC/SC adds the reader's GET DATA for the UID.
ROUND_TRIPS = {"nfcpy-udp": 5, "pcsc-vpcd": 6}


def genuine_chip(uid: bytes, keys: tuple[bytes, bytes], model: ntag.ChipModel = ntag.NTAG215) -> NtagEmulator:
    return NtagEmulator.blank(uid, model, signature=ntag.sign_uid(uid, keys[0]))


def read(rig: Rig, keys: tuple[bytes, bytes]) -> TagRead:
    with open_reader(rig.reader_path) as reader:
        return read_tag(reader, timeout=TIMEOUT, options=ReadOptions(originality_key=keys[1]))


def write(rig: Rig, message: bytes, lock: bool = True) -> WriteResult:
    with open_reader(rig.reader_path) as reader:
        return write_tag(reader, message, lock=lock, timeout=TIMEOUT)


def test_write_read_verify_allow(
    rig: Rig, originality_keys: tuple[bytes, bytes], test_pki: TestPki, uid: bytes, signed_message: bytes, now: datetime
) -> None:
    emulator = genuine_chip(uid, originality_keys)
    rig.present(emulator)
    result = write(rig, signed_message)
    assert (result.uid, result.chip, result.locked) == (uid, "NTAG215", True)

    tag = read(rig, originality_keys)
    assert tag.uid == uid and tag.chip == "NTAG215" and tag.read_only
    assert tag.ndef_message == signed_message
    assert tag.originality is Originality.GENUINE
    assert tag.read_counter == 1  # locking enabled the counter; this is the first tap since
    assert tag.round_trips == ROUND_TRIPS[rig.name]
    verdict = test_pki.verify(tag.uid, tag.ndef_message, now, chip=tag.chip_evidence())
    assert verdict.decision is Decision.ALLOW, verdict
    assert read(rig, originality_keys).read_counter == 2


def test_locked_tag_refuses_overwrite(rig: Rig, originality_keys: tuple[bytes, bytes], uid: bytes, signed_message: bytes) -> None:
    emulator = genuine_chip(uid, originality_keys)
    rig.present(emulator)
    write(rig, signed_message)
    before = bytes(emulator.memory)
    with pytest.raises(TagLockedError, match="read-only"):
        write(rig, b"\xd0\x00\x00")
    assert bytes(emulator.memory) == before
    assert read(rig, originality_keys).ndef_message == signed_message


def test_unlocked_tag_can_be_rewritten(
    rig: Rig, originality_keys: tuple[bytes, bytes], uid: bytes, signed_message: bytes
) -> None:
    rig.present(genuine_chip(uid, originality_keys))
    assert not write(rig, b"\xd1\x01\x05T\x02enhi", lock=False).locked
    write(rig, signed_message, lock=False)
    tag = read(rig, originality_keys)
    assert tag.ndef_message == signed_message and not tag.read_only and tag.read_counter is None


def test_record_copied_to_another_tag_is_refused(
    rig: Rig, originality_keys: tuple[bytes, bytes], test_pki: TestPki, uid: bytes, signed_message: bytes, now: datetime
) -> None:
    rig.present(genuine_chip(OTHER_UID, originality_keys))  # a genuine blank tag, bought by a forger
    write(rig, signed_message)
    tag = read(rig, originality_keys)
    assert tag.ndef_message == signed_message and tag.originality is Originality.GENUINE
    verdict = test_pki.verify(tag.uid, tag.ndef_message, now, chip=tag.chip_evidence())
    assert verdict.decision is Decision.REFUSE
    assert Reason.UID_MISMATCH in verdict.reasons


@pytest.mark.parametrize("signature", ["other-key", "random"])
def test_chip_with_wrong_signature_is_not_genuine(
    rig: Rig,
    originality_keys: tuple[bytes, bytes],
    test_pki: TestPki,
    uid: bytes,
    signed_message: bytes,
    now: datetime,
    signature: str,
) -> None:
    forged = ntag.sign_uid(uid, ntag.generate_test_key()[0]) if signature == "other-key" else os.urandom(32)
    rig.present(NtagEmulator.blank(uid, signature=forged))
    write(rig, signed_message)
    tag = read(rig, originality_keys)
    assert tag.originality is Originality.NOT_GENUINE and tag.ndef_message is not None
    verdict = test_pki.verify(tag.uid, tag.ndef_message, now, chip=tag.chip_evidence())
    assert verdict.decision is Decision.REFUSE and Reason.CHIP_NOT_GENUINE in verdict.reasons


def test_nxp_key_by_default(rig: Rig, originality_keys: tuple[bytes, bytes], uid: bytes) -> None:
    """Without a test key the check uses NXP's: no emulator can pass it."""
    rig.present(genuine_chip(uid, originality_keys))
    with open_reader(rig.reader_path) as reader:
        assert read_tag(reader, timeout=TIMEOUT).originality is Originality.NOT_GENUINE


@pytest.mark.parametrize("after", [1, 2, 3])
def test_tag_removed_mid_read(
    rig: Rig, originality_keys: tuple[bytes, bytes], uid: bytes, signed_message: bytes, after: int
) -> None:
    emulator = genuine_chip(uid, originality_keys)
    rig.present(emulator)
    write(rig, signed_message)
    emulator.remove_after_commands(after)
    with pytest.raises(TagRemovedError) as caught:
        read(rig, originality_keys)
    assert emulator.removed
    assert "left the field" in str(caught.value) or "stopped answering" in str(caught.value)


def test_tag_removed_mid_write_is_a_partial_write(
    rig: Rig, originality_keys: tuple[bytes, bytes], uid: bytes, signed_message: bytes
) -> None:
    emulator = genuine_chip(uid, originality_keys)
    rig.present(emulator)
    emulator.remove_after_commands(20)
    with pytest.raises(PartialWriteError) as caught:
        write(rig, signed_message)
    assert 0 < caught.value.pages_written < caught.value.pages_total
    assert isinstance(caught.value.cause, TagRemovedError)
    emulator.reinsert()
    rig.present(emulator)
    assert read(rig, originality_keys).ndef_message == b""  # the length was still 0: an empty message


def test_backend_selects_the_tag_again_after_a_nak(rig: Rig, uid: bytes) -> None:
    """The chip answers nothing after a NAK until selected again: each backend must re-select it."""
    rig.present(NtagEmulator.blank(uid))
    with open_reader(rig.reader_path) as reader, reader.session(timeout=TIMEOUT) as transport:
        assert ntag.nak_code(transport.command(bytes([0x30, 0xFF]))) == 0  # READ past the end: NAK
        assert transport.read4(4)[:4] == bytes([0x03, 0x00, 0xFE, 0x00])
        with pytest.raises(TagCommandError):
            transport.write_page(0, b"\x01\x02\x03\x04")  # the UID page: NAK
        assert transport.command(bytes([0x60])) == ntag.NTAG215.version


def test_not_a_type2_tag(rig: Rig, uid: bytes) -> None:
    iso_dep_atr = bytes.fromhex("3B8880014A434F5033317632")  # a contactless JCOP (Type 4) card
    rig.present(NtagEmulator.blank(uid), atr=iso_dep_atr, sel_res=0x20)
    with pytest.raises(NotType2TagError):
        with open_reader(rig.reader_path) as reader:
            read_tag(reader, timeout=TIMEOUT)


def test_full_tag(rig: Rig, uid: bytes, originality_keys: tuple[bytes, bytes]) -> None:
    emulator = genuine_chip(uid, originality_keys, ntag.NTAG213)
    rig.present(emulator)
    with pytest.raises(TagFullError, match="144"):
        write(rig, bytes(241))
    assert emulator.page(4) == bytes([0x03, 0x00, 0xFE, 0x00])


def test_memory_naming_another_uid(rig: Rig, uid: bytes) -> None:
    emulator = NtagEmulator.blank(uid)
    emulator.memory[4:8] = OTHER_UID[3:7]  # pages say one tag, anticollision another
    rig.present(emulator)
    with pytest.raises(MultipleTagsError):
        with open_reader(rig.reader_path) as reader:
            read_tag(reader, timeout=TIMEOUT)


def test_no_tag_times_out_and_can_be_cancelled(rig: Rig) -> None:
    rig.empty()
    with open_reader(rig.reader_path) as reader:
        with pytest.raises(ReadTimeout):
            read_tag(reader, timeout=0.5)
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        with pytest.raises(WaitCancelled):
            read_tag(reader, timeout=TIMEOUT, cancel=cancel)


def test_pcsc_reader_held_by_another_program(vpcd_rig: Rig, uid: bytes) -> None:
    from smartcard import scard

    vpcd_rig.present(NtagEmulator.blank(uid))
    reader_name = vpcd_rig.reader_path.removeprefix("pcsc:")
    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    hresult, card, _ = scard.SCardConnect(context, reader_name, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T1)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        with pytest.raises(ReaderBusyError) as caught:
            with open_reader(vpcd_rig.reader_path) as reader:
                read_tag(reader, timeout=TIMEOUT)
        assert getattr(caught.value.cause, "hresult", None) == scard.SCARD_E_SHARING_VIOLATION
    finally:
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(context)


def test_pcsc_unknown_reader(vpcd_rig: Rig) -> None:
    with pytest.raises(ReaderNotFoundError, match="Virtual PCD"):
        open_reader("pcsc:no such reader")


def test_pcsc_reader_without_direct_transmit(vpcd_rig: VpcdRig, uid: bytes, signed_message: bytes) -> None:
    """A CCID reader with only READ/UPDATE BINARY: reads and writes work, chip facts are unknown."""
    card = vpcd_rig.card
    assert card is not None
    card.direct_transmit = False
    try:
        vpcd_rig.present(NtagEmulator.blank(uid))
        write(vpcd_rig, signed_message, lock=False)
        with open_reader(vpcd_rig.reader_path) as reader:
            tag = read_tag(reader, timeout=TIMEOUT)
    finally:
        card.direct_transmit = True
    assert tag.ndef_message == signed_message
    assert (tag.chip, tag.originality, tag.read_counter) == ("unknown", Originality.NOT_AVAILABLE, None)
