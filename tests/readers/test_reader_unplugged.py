"""A reader that goes away: pcscd stopping under an open PC/SC reader, libusb losing an nfcpy device."""

import errno

import pytest

from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.readers import open_reader, read_tag
from tag_tools.readers.errors import ReaderNotFoundError
from tests.peers import peer_unavailable
from tests.rigs import UdpRig, VpcdRig

UID = bytes.fromhex("04A2C4D2E15A80")


def test_pcsc_reader_gone_mid_use() -> None:
    rig = VpcdRig()
    try:
        rig.start(NtagEmulator.blank(UID))
    except Exception as error:  # PeerError, ImportError: "cannot start"
        rig.stop()
        peer_unavailable("pcscd + vsmartcard-vpcd", f"{type(error).__name__}: {error}")
    try:
        with open_reader(rig.reader_path) as reader:
            assert read_tag(reader, timeout=10).uid == UID
            rig.pcscd.stop()  # the daemon, and with it the reader, disappears
            with pytest.raises(ReaderNotFoundError, match=r"went away|pcscd"):
                read_tag(reader, timeout=10)
    finally:
        rig.stop()


def test_nfcpy_device_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """nfcpy reports a vanished USB device as OSError(ENODEV) from sense()."""
    import nfc

    rig = UdpRig()
    reader = open_reader(rig.reader_path)  # the udp driver opens without a peer

    def unplugged(self: object, *targets: object, **options: object) -> None:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(nfc.ContactlessFrontend, "sense", unplugged)
    try:
        with pytest.raises(ReaderNotFoundError, match="unplugged") as caught:
            read_tag(reader, timeout=5)
        assert isinstance(caught.value.cause, OSError)
    finally:
        reader.close()
