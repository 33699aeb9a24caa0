"""The emulated chip behaves as the NTAG213/215/216 datasheet says: states, refusals, lock timing."""

import pytest

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import HLTA, REQA, WUPA, ChipState, NtagEmulator, activate

UID = bytes.fromhex("04A2C4D2E15A80")
NAK, ACK = b"\x00", b"\x0a"


def answer(emulator: NtagEmulator, frame: bytes) -> bytes:
    response = emulator.handle(frame)
    assert response is not None, f"no answer to {frame.hex()}"
    return response


def chip(model: ntag.ChipModel = ntag.NTAG215) -> NtagEmulator:
    """A chip just put on a reader and selected: ACTIVE."""
    emulator = NtagEmulator.blank(UID, model, signature=bytes(range(32)))
    emulator.power_on()
    assert activate(emulator) == 0x00
    return emulator


def state(emulator: NtagEmulator) -> ChipState:
    """The chip's state, read through a call so the type checker does not pin it between frames."""
    return emulator.state


def refused(emulator: NtagEmulator, frame: bytes) -> bool:
    """The chip NAKs `frame`; it is then IDLE, so select it again for the next command."""
    nak = emulator.handle(frame) == NAK
    assert state(emulator) is ChipState.IDLE
    assert activate(emulator) == 0x00
    return nak


def test_factory_memory() -> None:
    emulator = chip()
    assert answer(emulator, b"\x30\x00")[:9] == bytes.fromhex("04A2C4") + bytes([0x88 ^ 0x04 ^ 0xA2 ^ 0xC4]) + bytes.fromhex(
        "D2E15A80"
    ) + bytes([0xD2 ^ 0xE1 ^ 0x5A ^ 0x80])
    assert emulator.page(3) == bytes.fromhex("E1103E00")
    assert emulator.handle(b"\x60") == bytes.fromhex("0004040201001103")
    assert emulator.handle(b"\x3c\x00") == bytes(range(32))


def test_read_rolls_over_and_hides_the_password() -> None:
    emulator = chip()
    last = ntag.NTAG215.total_pages - 1
    assert answer(emulator, bytes([0x30, last]))[4:8] == emulator.page(0)
    assert refused(emulator, bytes([0x30, ntag.NTAG215.total_pages]))
    assert emulator.page(ntag.NTAG215.pwd_page) == b"\xff\xff\xff\xff"
    assert emulator.handle(bytes([0x3A, ntag.NTAG215.pwd_page, ntag.NTAG215.pwd_page])) == bytes(4)


def test_fast_read_bounds() -> None:
    emulator = chip()
    assert len(answer(emulator, bytes([0x3A, 0, 0x86]))) == 135 * 4
    assert refused(emulator, bytes([0x3A, 5, 4]))
    assert refused(emulator, bytes([0x3A, 0, 0x87]))


def test_write_rules() -> None:
    emulator = chip()
    assert refused(emulator, b"\xa2\x00\x01\x02\x03\x04")  # UID is read-only
    assert emulator.handle(b"\xa2\x04\x01\x02\x03\x04") == ACK
    assert emulator.page(4) == b"\x01\x02\x03\x04"
    assert emulator.handle(b"\xa2\x03\x00\x00\x00\x0f") == ACK  # CC is OTP: bits are ORed
    assert emulator.handle(b"\xa2\x03\x00\x00\x00\x00") == ACK
    assert emulator.page(3) == bytes.fromhex("E1103E0F")
    assert emulator.handle(b"\xa2\x02\xaa\xbb\x10\x00") == ACK  # only lock bytes change, L4 set
    assert emulator.page(2)[:2] == bytes([0xD2 ^ 0xE1 ^ 0x5A ^ 0x80, 0x48])
    assert emulator.handle(b"\xa2\x04\x09\x09\x09\x09") == ACK  # L4 counts from the next activation
    assert refused(emulator, b"\xa2\x87\x00\x00\x00\x00")  # past the last page: NAK; reselected
    assert refused(emulator, b"\xa2\x04\x09\x09\x09\x09")  # now L4 holds
    assert emulator.handle(b"\xa2\x05\x09\x09\x09\x09") == ACK


def test_dynamic_locks_take_effect_at_the_next_activation() -> None:
    emulator = chip()
    dyn = ntag.NTAG215.dynamic_lock_page
    assert emulator.handle(bytes([0xA2, dyn, 0x02, 0, 0, 0])) == ACK  # pages 32-47
    assert emulator.handle(bytes([0xA2, 32, 1, 1, 1, 1])) == ACK  # same session: not yet locked
    assert emulator.page(dyn)[0] == 0x02  # ...though the bit reads back at once
    assert activate(emulator) is None  # still ACTIVE: WUPA is an error there, the chip goes IDLE
    assert activate(emulator) == 0x00  # the next activation latches the lock bits
    assert emulator.handle(bytes([0xA2, 31, 1, 1, 1, 1])) == ACK
    assert refused(emulator, bytes([0xA2, 32, 2, 2, 2, 2]))
    assert refused(emulator, bytes([0xA2, 47, 1, 1, 1, 1]))
    assert emulator.page(32) == b"\x01\x01\x01\x01"
    assert emulator.handle(bytes([0xA2, dyn, 0x00, 0, 0, 0])) == ACK
    assert emulator.page(dyn)[0] == 0x02  # lock bits never clear


def test_config_lock_takes_effect_after_a_power_cycle_only() -> None:
    emulator = chip()
    cfg1 = ntag.NTAG215.cfg1_page
    assert emulator.handle(bytes([0xA2, cfg1, ntag.ACCESS_CFGLCK, 5, 0, 0])) == ACK
    assert emulator.handle(bytes([0xA2, cfg1, ntag.ACCESS_CFGLCK, 5, 0, 0])) == ACK  # this power-on: open
    emulator.handle(HLTA)
    assert activate(emulator, WUPA) == 0x00  # re-selected, same power-on: still open
    assert emulator.handle(bytes([0xA2, cfg1, ntag.ACCESS_CFGLCK, 5, 0, 0])) == ACK
    emulator.power_on()
    assert activate(emulator) == 0x00
    assert refused(emulator, bytes([0xA2, cfg1, 0, 5, 0, 0]))
    assert emulator.handle(bytes([0xA2, ntag.NTAG215.pwd_page, 1, 2, 3, 4])) == ACK  # PWD stays writable


def test_nfc_counter_counts_the_first_read_after_power_on() -> None:
    emulator = chip()
    assert refused(emulator, b"\x39\x02")  # disabled from the factory
    cfg1 = ntag.NTAG215.cfg1_page
    emulator.handle(bytes([0xA2, cfg1, ntag.ACCESS_NFC_CNT_EN, 5, 0, 0]))
    assert emulator.handle(b"\x39\x02") == b"\x00\x00\x00"  # no read yet in this power-on... since enabling
    emulator.power_on()
    activate(emulator)
    emulator.handle(b"\x30\x04")
    emulator.handle(b"\x3a\x04\x08")
    emulator.handle(b"\x30\x04")
    assert emulator.handle(b"\x39\x02") == b"\x01\x00\x00"
    emulator.power_on()
    activate(emulator)
    emulator.handle(b"\x3a\x00\x01")
    assert emulator.handle(b"\x39\x02") == b"\x02\x00\x00"
    assert refused(emulator, b"\x39\x00")  # only counter 2 exists
    emulator.handle(b"\x30\x04")
    assert emulator.handle(b"\x39\x02") == b"\x02\x00\x00"  # re-selected, not powered: no new count
    emulator.counter = 0xFFFFFF
    emulator.power_on()
    activate(emulator)
    emulator.handle(b"\x30\x04")
    assert emulator.handle(b"\x39\x02") == b"\xff\xff\xff"  # stops at the maximum


def test_unknown_commands_get_no_answer_and_removal_silences_everything() -> None:
    emulator = chip()
    assert emulator.handle(b"\x1a\x00") is None  # Ultralight C AUTHENTICATE: NTAG stays mute...
    assert emulator.handle(b"\x60") is None  # ...and goes IDLE: nothing until selected again
    assert activate(emulator) == 0x00
    emulator.remove_after_commands(1)
    assert emulator.handle(b"\x60") is not None
    assert emulator.handle(b"\x60") is None and emulator.removed
    assert activate(emulator) is None
    emulator.reinsert()
    assert activate(emulator) == 0x00
    assert emulator.handle(b"\x60") is not None


def test_a_nak_sends_the_chip_to_idle_until_selected_again() -> None:
    emulator = chip()
    assert emulator.handle(bytes([0x30, 0xFF])) == NAK
    assert state(emulator) is ChipState.IDLE
    for frame in (b"\x60", b"\x30\x04", b"\x3c\x00", HLTA, bytes([0x93, 0x20])):
        assert emulator.handle(frame) is None, frame.hex()
    assert emulator.handle(REQA) == bytes.fromhex("4400")  # REQA wakes IDLE
    assert emulator.handle(bytes([0x93, 0x20])) == bytes.fromhex("88") + UID[:3] + bytes([0x88 ^ 0x04 ^ 0xA2 ^ 0xC4])
    assert emulator.handle(bytes([0x93, 0x70, 0x88]) + UID[:3] + bytes([0x88 ^ 0x04 ^ 0xA2 ^ 0xC4])) == b"\x04"
    assert state(emulator) is ChipState.READY2
    assert emulator.handle(bytes([0x95, 0x20])) == UID[3:] + bytes([0xD2 ^ 0xE1 ^ 0x5A ^ 0x80])
    assert emulator.handle(bytes([0x95, 0x70]) + UID[3:] + bytes([0xD2 ^ 0xE1 ^ 0x5A ^ 0x80])) == b"\x00"
    assert state(emulator) is ChipState.ACTIVE
    assert emulator.handle(b"\x60") == ntag.NTAG215.version


def test_halt_wakes_on_wupa_only_and_errors_fall_back_to_halt() -> None:
    emulator = chip()
    assert emulator.handle(HLTA) is None and state(emulator) is ChipState.HALT
    assert emulator.handle(REQA) is None and state(emulator) is ChipState.HALT  # REQA wakes IDLE only
    assert activate(emulator, REQA) is None
    assert activate(emulator, WUPA) == 0x00
    assert emulator.handle(bytes([0x30, 0xFF])) == NAK
    assert state(emulator) is ChipState.HALT  # woken from HALT: a NAK sends it back there
    assert emulator.handle(REQA) is None
    assert activate(emulator, WUPA) == 0x00


@pytest.mark.parametrize("frame", [bytes([0x95, 0x20]), bytes([0x93, 0x70]) + bytes(5), b"\x30\x00", WUPA])
def test_wrong_frames_during_anticollision_send_the_chip_back(frame: bytes) -> None:
    emulator = NtagEmulator.blank(UID)
    assert emulator.handle(WUPA) == bytes.fromhex("4400") and state(emulator) is ChipState.READY1
    assert emulator.handle(frame) is None
    assert state(emulator) is ChipState.IDLE


def test_password_authentication() -> None:
    emulator = chip()
    chip_model = ntag.NTAG215
    assert emulator.handle(bytes([0xA2, chip_model.pwd_page]) + b"PWD!") == ACK
    assert emulator.handle(bytes([0xA2, chip_model.pack_page, 0xCA, 0xFE, 0, 0])) == ACK
    assert emulator.handle(bytes([0xA2, chip_model.cfg0_page, 0x04, 0, 0, 0x10])) == ACK  # AUTH0 = page 16
    assert emulator.handle(bytes([0xA2, 15, 1, 1, 1, 1])) == ACK
    assert refused(emulator, bytes([0xA2, 16, 1, 1, 1, 1]))  # write-protected from page 16
    assert emulator.handle(bytes([0x30, 16])) is not None  # PROT=0: reads stay open
    assert refused(emulator, b"\x1b" + b"nope")
    assert emulator.handle(b"\x1bPWD!") == b"\xca\xfe" and state(emulator) is ChipState.AUTHENTICATED
    assert emulator.handle(bytes([0xA2, 16, 1, 1, 1, 1])) == ACK
    emulator.power_on()
    assert activate(emulator) == 0x00 and state(emulator) is ChipState.ACTIVE  # authentication ends with the power
    assert refused(emulator, bytes([0xA2, 16, 2, 2, 2, 2]))
