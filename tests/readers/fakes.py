"""A byte-level transport straight onto the emulator: the protocol's exact commands, no stack."""

from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.readers.base import Transport
from tag_tools.readers.errors import CommandNotSupported, TagCommandError, TagRemovedError
from tag_tools.readers.ntag_protocol import nak_code


class EmulatorTransport(Transport):
    """Records every frame sent, like python-fido2's tests record APDUs."""

    def __init__(self, emulator: NtagEmulator, max_fast_read_pages: int = 60) -> None:
        self.emulator = emulator
        self.uid = emulator.uid
        self.max_fast_read_pages = max_fast_read_pages
        self.sent: list[bytes] = []
        self.round_trips = 0
        emulator.power_on()

    def _send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        self.round_trips += 1
        answer = self.emulator.handle(frame)
        if answer is None:
            if self.emulator.removed:
                raise TagRemovedError("gone")
            raise CommandNotSupported("silent")
        return answer

    def command(self, frame: bytes) -> bytes:
        return self._send(frame)

    def read4(self, page: int) -> bytes:
        answer = self._send(bytes([0x30, page]))
        if nak_code(answer) is not None:
            raise TagCommandError("nak", nak=nak_code(answer))
        return answer

    def write_page(self, page: int, data: bytes) -> None:
        answer = self._send(bytes([0xA2, page]) + data)
        if answer != b"\x0a":
            raise TagCommandError("nak", nak=nak_code(answer))
