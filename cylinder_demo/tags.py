"""Emulated NTAG215 chips behind nfcpy's udp driver: the reader the station agent opens is real
nfcpy code, only the radio is a UDP socket. Each tag gets an originality signature from a demo
key, which the station is told to trust instead of NXP's (no real chip is involved)."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from tag_tools import ntag, t2t_memory
from tag_tools.emulation.nfcpy_udp_target import UdpTagTarget
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.readers import ReadOptions, open_reader, read_tag
from tag_tools.readers.errors import ReaderError

PARKING_UID = bytes.fromhex("04000000000002")  # what the udp target answers before the first vehicle
FIRST_READ_COUNT = 41  # a centre leaves the NFC counter on; a tag has been read a few times already


@dataclass(frozen=True)
class OriginalityKeys:
    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> OriginalityKeys:
        private, public = ntag.generate_test_key()
        return cls(private, public)

    def read_options(self) -> ReadOptions:
        return ReadOptions(originality_key=self.public)


def written_tag(uid: bytes, message: bytes, keys: OriginalityKeys) -> NtagEmulator:
    """A chip as a centre leaves it: the NDEF TLV in the data area, the read counter enabled."""
    emulator = NtagEmulator.blank(uid, signature=ntag.sign_uid(uid, keys.private))
    tlv = t2t_memory.ndef_tlv(message)
    emulator.memory[16 : 16 + len(tlv)] = tlv
    emulator.memory[emulator.chip.cfg1_page * 4] |= ntag.ACCESS_NFC_CNT_EN
    emulator.counter = FIRST_READ_COUNT
    return emulator


class ReaderField:
    """The pump's reader field: `cylinder-tag emulate --udp`'s target in a thread, on a free port,
    with one tag at a time in it (or none)."""

    def __init__(self, parked: NtagEmulator) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self.reader_path = f"nfcpy:udp:localhost:{port}"
        self.target = UdpTagTarget(parked, port).start()
        try:  # one read through the real stack, so the agent's first read meets a target that answers
            with open_reader(self.reader_path) as reader:
                read_tag(reader, timeout=10)
        except ReaderError:
            self.target.stop()
            raise

    def present(self, emulator: NtagEmulator) -> None:
        self.target.replace_emulator(emulator)

    def empty(self) -> None:
        self.target.empty()

    def stop(self) -> None:
        self.target.stop()


def start_reader_field() -> ReaderField:
    """The emulated field with nothing in it, already activated once."""
    import nfc  # noqa: F401  (nfcpy sets its own logger to INFO on import: one line per reader open)

    logging.getLogger("nfc").setLevel(logging.WARNING)
    # The demo takes a tag out of the field right after the agent handled it; a re-read that was under
    # way then fails with "tag left the field", as at a real pump. Not news for the story's reader.
    logging.getLogger("station_agent.tagsource").setLevel(logging.ERROR)
    field = ReaderField(NtagEmulator.blank(PARKING_UID))
    field.empty()
    return field
