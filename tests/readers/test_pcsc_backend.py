"""PC/SC specifics that need no pcscd: which ATRs are Type 2 Tags, and the emulated reader's APDUs."""

import pytest

from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.emulation.vpcd_card import ULTRALIGHT_ATR, storage_card_response
from tag_tools.readers.errors import NotType2TagError
from tag_tools.readers.pcsc_backend import check_storage_atr

UID = bytes.fromhex("04A2C4D2E15A80")


def test_ultralight_storage_card_is_type2() -> None:
    assert check_storage_atr(ULTRALIGHT_ATR) == "Mifare Ultralight / NTAG"


@pytest.mark.parametrize(
    "atr",
    [
        "3B8F8001804F0CA000000306030001000000006A",  # Mifare Classic 1K
        "3B8880014A434F5033317632",  # ISO-DEP smart card (JCOP)
        "3B6800000073C84013009000",  # a contact card
    ],
)
def test_other_cards_are_not_type2(atr: str) -> None:
    with pytest.raises(NotType2TagError):
        check_storage_atr(bytes.fromhex(atr))


def test_emulated_reader_apdus() -> None:
    emulator = NtagEmulator.blank(UID)
    assert storage_card_response(emulator, bytes.fromhex("FFCA000000")) == UID + b"\x90\x00"
    assert storage_card_response(emulator, bytes.fromhex("FFB0000310"))[:4] == bytes.fromhex("E1103E00")
    assert storage_card_response(emulator, bytes.fromhex("FFD600040401020304")) == b"\x90\x00"
    assert storage_card_response(emulator, bytes.fromhex("FFD600000401020304")) == b"\x65\x81"  # UID page: NAK
    assert storage_card_response(emulator, bytes.fromhex("FF00000003D44260")) == bytes.fromhex("D5430000040402010011039000")
    assert storage_card_response(emulator, bytes.fromhex("FF00000003D4421A00")) == bytes.fromhex("D543019000")  # silent
    assert storage_card_response(emulator, bytes.fromhex("FF00000003D44260"), direct_transmit=False) == b"\x6a\x81"
    assert storage_card_response(emulator, bytes.fromhex("00A4040000")) == b"\x6e\x00"
