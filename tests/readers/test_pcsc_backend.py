"""PC/SC specifics that need no pcscd: which ATRs are Type 2 Tags, the emulated reader's APDUs and
status words (ACR122U API v2.04), and the transport's re-selection after a NAK, APDU by APDU."""

import pytest

from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.emulation.vpcd_card import ULTRALIGHT_ATR, Acr122u
from tag_tools.readers.errors import CommandNotSupported, NotType2TagError, TagCommandError, TagRemovedError
from tag_tools.readers.pcsc_backend import PcscTransport, check_storage_atr

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


def reader_on(emulator: NtagEmulator, direct_transmit: bool = True) -> Acr122u:
    reader = Acr122u(emulator, direct_transmit)
    reader.power_on()
    return reader


def test_emulated_reader_apdus() -> None:
    emulator = NtagEmulator.blank(UID)
    reader = reader_on(emulator)
    assert reader.respond(bytes.fromhex("FFCA000000")) == UID + b"\x90\x00"
    assert reader.respond(bytes.fromhex("FFCA010000")) == b"\x6a\x81"  # no ATS: a part-3 card
    assert reader.respond(bytes.fromhex("FFB0000310"))[:4] == bytes.fromhex("E1103E00")
    assert reader.respond(bytes.fromhex("FFB0000304")) == bytes.fromhex("E1103E00") + b"\x90\x00"
    assert reader.respond(bytes.fromhex("FFD600040401020304")) == b"\x90\x00"
    assert reader.respond(bytes.fromhex("FF00000003D44260")) == bytes.fromhex("D5430000040402010011039000")
    assert reader.respond(bytes.fromhex("FF00000004D4421A00")) == bytes.fromhex("D543019000")  # silent
    assert reader.respond(bytes.fromhex("FFB0000410")) == b"\x63\x00"  # ...and now IDLE: READ fails too
    assert reader.respond(bytes.fromhex("FF00000004D44A0100")) == (
        bytes.fromhex("D54B0101004400") + bytes([7]) + UID + b"\x90\x00"
    )  # InListPassiveTarget: selected
    assert reader.respond(bytes.fromhex("FFB0000410"))[-2:] == b"\x90\x00"
    assert reader.respond(bytes.fromhex("FFD600000401020304")) == b"\x63\x00"  # UID page: NAK
    assert reader.respond(bytes.fromhex("FFD6000404010203")) == b"\x63\x00"  # wrong length
    assert reader.respond(bytes.fromhex("00A4040000")) == b"\x6a\x81"
    assert reader_on(emulator, direct_transmit=False).respond(bytes.fromhex("FF00000003D44260")) == b"\x6a\x81"
    emulator.removed = True
    assert reader.respond(bytes.fromhex("FF00000004D44A0100")) == bytes.fromhex("D54B009000")  # nothing found


class RecordingCard:
    """SCardTransmit / SCardReconnect at the byte level onto the emulated ACR122U."""

    def __init__(self, reader: Acr122u) -> None:
        self.reader = reader
        self.apdus: list[bytes] = []
        self.resets = 0

    def transmit(self, card: object, protocol: int, apdu: list[int]) -> tuple[int, list[int]]:
        self.apdus.append(bytes(apdu))
        return 0, list(self.reader.respond(bytes(apdu)))

    def reconnect(self, card: object, share: int, protocols: int, init: int) -> tuple[int, int]:
        self.resets += 1
        self.reader.power_on()
        return 0, 2


@pytest.fixture
def card(monkeypatch: pytest.MonkeyPatch) -> RecordingCard:
    from smartcard import scard

    recording = RecordingCard(reader_on(NtagEmulator.blank(UID)))
    monkeypatch.setattr(scard, "SCardTransmit", recording.transmit)
    monkeypatch.setattr(scard, "SCardReconnect", recording.reconnect)
    return recording


def test_transport_reselects_after_a_nak_before_the_next_command(card: RecordingCard) -> None:
    transport = PcscTransport(0, 2, "Fake")  # the recording card answers any handle
    assert transport.command(bytes([0x30, 0xFF])) == b"\x00"  # NAK: the tag is IDLE now
    assert transport.read4(4)[:4] == bytes([0x03, 0x00, 0xFE, 0x00])
    assert card.apdus == [
        bytes.fromhex("FFCA000000"),
        bytes.fromhex("FF00000004D44230FF"),
        bytes.fromhex("FF00000004D44A0100"),  # InListPassiveTarget, then the READ
        bytes.fromhex("FFB0000410"),
    ]
    card.apdus.clear()
    with pytest.raises(TagCommandError):
        transport.write_page(0, b"\x01\x02\x03\x04")  # 63 00, and the tag answers the re-select: a NAK
    assert card.apdus == [bytes.fromhex("FFD600000401020304"), bytes.fromhex("FF00000004D44A0100")]
    with pytest.raises(CommandNotSupported):
        transport.command(b"\x1a\x00")  # silent but still there
    assert transport.command(b"\x60") == bytes.fromhex("0004040201001103")
    card.reader.emulator.removed = True
    with pytest.raises(TagRemovedError):
        transport.read4(4)


def test_transport_without_escape_reselects_by_resetting_the_card(card: RecordingCard) -> None:
    card.reader.direct_transmit = False
    transport = PcscTransport(0, 2, "Fake")  # the recording card answers any handle
    with pytest.raises(TagCommandError):
        transport.write_page(0, b"\x01\x02\x03\x04")
    assert transport.raw_unavailable and card.resets == 1
    assert transport.read4(4)[:4] == bytes([0x03, 0x00, 0xFE, 0x00])
