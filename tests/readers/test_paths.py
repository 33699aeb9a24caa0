"""Reader path strings, and the errors for readers that are not there."""

import errno

import pytest

from tag_tools.readers import open_reader
from tag_tools.readers.errors import ReaderBusyError, ReaderNotFoundError, ReaderPathError


@pytest.mark.parametrize(
    "path", ["", "usb", "nfcpy", "nfcpy:pcsc", "nfcpy:udp:localhost", "nfcpy:udp:host:port", "nfcpy:tty", "serial:x"]
)
def test_bad_paths(path: str) -> None:
    with pytest.raises(ReaderPathError):
        open_reader(path)


def test_no_such_usb_reader() -> None:
    with pytest.raises(ReaderNotFoundError):
        open_reader("nfcpy:usb:ffff:fffe")


def test_nfcpy_busy_reader_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    """nfcpy raises EBUSY when pcscd (or another program) holds the USB reader."""
    import nfc

    def busy(self: object, path: str) -> bool:
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(nfc.ContactlessFrontend, "open", busy)
    with pytest.raises(ReaderBusyError, match="pcscd") as caught:
        open_reader("nfcpy:usb:072f:2200")
    assert isinstance(caught.value.cause, OSError)
