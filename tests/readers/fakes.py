"""A byte-level transport straight onto the emulator: the protocol's exact commands, no stack."""

from tag_tools.emulation.ntag_emulator import NtagEmulator, activate
from tag_tools.ntag import nak_code
from tag_tools.readers.base import Transport
from tag_tools.readers.errors import CommandNotSupported, TagCommandError, TagRemovedError


class EmulatorTransport(Transport):
    """Records every Type 2 frame sent (not the anticollision), like python-fido2's tests record APDUs.

    Like a real backend it powers the tag, selects it, and selects it again after a NAK or a silence:
    the emulated chip, like the real one, answers nothing until then.
    """

    def __init__(self, emulator: NtagEmulator, max_fast_read_pages: int = 60) -> None:
        self.emulator = emulator
        self.uid = emulator.uid
        self.max_fast_read_pages = max_fast_read_pages
        self.sent: list[bytes] = []
        self.round_trips = 0
        self.reselections = 0
        emulator.power_on()
        if activate(emulator) is None:
            raise TagRemovedError("no tag")

    def _send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        self.round_trips += 1
        answer = self.emulator.handle(frame)
        if answer is None or nak_code(answer) is not None:
            self.reselections += 1
            if activate(self.emulator) is None:
                raise TagRemovedError("gone")
        if answer is None:
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
