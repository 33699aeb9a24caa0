"""The emulated chip behaves as the NTAG213/215/216 datasheet says, refusals included."""

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator

UID = bytes.fromhex("04A2C4D2E15A80")
NAK, ACK = b"\x00", b"\x0a"


def answer(emulator: NtagEmulator, frame: bytes) -> bytes:
    response = emulator.handle(frame)
    assert response is not None, f"no answer to {frame.hex()}"
    return response


def chip(model: ntag.ChipModel = ntag.NTAG215) -> NtagEmulator:
    emulator = NtagEmulator.blank(UID, model, signature=bytes(range(32)))
    emulator.power_on()
    return emulator


def test_factory_memory() -> None:
    emulator = chip()
    assert answer(emulator, b"\x30\x00")[:9] == bytes.fromhex("04A2C4") + bytes([0x88 ^ 0x04 ^ 0xA2 ^ 0xC4]) + bytes.fromhex("D2E15A80") + bytes([0xD2 ^ 0xE1 ^ 0x5A ^ 0x80])
    assert emulator.page(3) == bytes.fromhex("E1103E00")
    assert emulator.handle(b"\x60") == bytes.fromhex("0004040201001103")
    assert emulator.handle(b"\x3c\x00") == bytes(range(32))


def test_read_rolls_over_and_hides_the_password() -> None:
    emulator = chip()
    last = ntag.NTAG215.total_pages - 1
    assert answer(emulator, bytes([0x30, last]))[4:8] == emulator.page(0)
    assert emulator.handle(bytes([0x30, ntag.NTAG215.total_pages])) == NAK
    assert emulator.page(ntag.NTAG215.pwd_page) == b"\xff\xff\xff\xff"
    assert emulator.handle(bytes([0x3A, ntag.NTAG215.pwd_page, ntag.NTAG215.pwd_page])) == bytes(4)


def test_fast_read_bounds() -> None:
    emulator = chip()
    assert len(answer(emulator, bytes([0x3A, 0, 0x86]))) == 135 * 4
    assert emulator.handle(bytes([0x3A, 5, 4])) == NAK
    assert emulator.handle(bytes([0x3A, 0, 0x87])) == NAK


def test_write_rules() -> None:
    emulator = chip()
    assert emulator.handle(b"\xa2\x00\x01\x02\x03\x04") == NAK  # UID is read-only
    assert emulator.handle(b"\xa2\x04\x01\x02\x03\x04") == ACK
    assert emulator.page(4) == b"\x01\x02\x03\x04"
    assert emulator.handle(b"\xa2\x03\x00\x00\x00\x0f") == ACK  # CC is OTP: bits are ORed
    assert emulator.handle(b"\xa2\x03\x00\x00\x00\x00") == ACK
    assert emulator.page(3) == bytes.fromhex("E1103E0F")
    assert emulator.handle(b"\xa2\x02\xaa\xbb\x10\x00") == ACK  # only lock bytes change, L4 set
    assert emulator.page(2)[:2] == bytes([0xD2 ^ 0xE1 ^ 0x5A ^ 0x80, 0x48])
    assert emulator.handle(b"\xa2\x04\x09\x09\x09\x09") == NAK
    assert emulator.handle(b"\xa2\x05\x09\x09\x09\x09") == ACK
    assert emulator.handle(b"\xa2\x87\x00\x00\x00\x00") == NAK  # past the last page


def test_dynamic_locks_and_config_lock() -> None:
    emulator = chip()
    dyn, cfg1 = ntag.NTAG215.dynamic_lock_page, ntag.NTAG215.cfg1_page
    assert emulator.handle(bytes([0xA2, dyn, 0x02, 0, 0, 0])) == ACK  # pages 32-47
    assert emulator.handle(bytes([0xA2, 31, 1, 1, 1, 1])) == ACK
    assert emulator.handle(bytes([0xA2, 32, 1, 1, 1, 1])) == NAK
    assert emulator.handle(bytes([0xA2, 47, 1, 1, 1, 1])) == NAK
    assert emulator.handle(bytes([0xA2, dyn, 0x00, 0, 0, 0])) == ACK
    assert emulator.page(dyn)[0] == 0x02  # lock bits never clear
    assert emulator.handle(bytes([0xA2, cfg1, ntag.ACCESS_CFGLCK, 5, 0, 0])) == ACK
    assert emulator.handle(bytes([0xA2, cfg1, 0, 5, 0, 0])) == NAK


def test_nfc_counter_counts_the_first_read_after_power_on() -> None:
    emulator = chip()
    assert emulator.handle(b"\x39\x02") == NAK  # disabled from the factory
    cfg1 = ntag.NTAG215.cfg1_page
    emulator.handle(bytes([0xA2, cfg1, ntag.ACCESS_NFC_CNT_EN, 5, 0, 0]))
    assert emulator.handle(b"\x39\x02") == b"\x00\x00\x00"  # no read yet in this power-on... since enabling
    emulator.power_on()
    emulator.handle(b"\x30\x04")
    emulator.handle(b"\x3a\x04\x08")
    emulator.handle(b"\x30\x04")
    assert emulator.handle(b"\x39\x02") == b"\x01\x00\x00"
    emulator.power_on()
    emulator.handle(b"\x3a\x00\x01")
    assert emulator.handle(b"\x39\x02") == b"\x02\x00\x00"
    assert emulator.handle(b"\x39\x00") == NAK  # only counter 2 exists
    emulator.counter = 0xFFFFFF
    emulator.power_on()
    emulator.handle(b"\x30\x04")
    assert emulator.handle(b"\x39\x02") == b"\xff\xff\xff"  # stops at the maximum


def test_unknown_commands_get_no_answer_and_removal_silences_everything() -> None:
    emulator = chip()
    assert emulator.handle(b"\x1a\x00") is None  # Ultralight C AUTHENTICATE: NTAG stays mute
    emulator.remove_after_commands(1)
    assert emulator.handle(b"\x60") is not None
    assert emulator.handle(b"\x60") is None and emulator.removed
    assert emulator.handle(b"\x30\x00") is None
    emulator.reinsert()
    assert emulator.handle(b"\x60") is not None
