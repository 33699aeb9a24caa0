"""Choose a reader from a path string, as nfcpy picks its drivers: a prefix and lazy imports.

    nfcpy:usb[:VID[:PID]]        nfcpy over libusb (RC-S380, PN533/SCL3711, ACR122U without pcscd)
    nfcpy:tty:PORT[:DRIVER]      nfcpy on a serial PN532 (e.g. nfcpy:tty:USB0:pn532)
    nfcpy:udp:HOST:PORT          nfcpy's udp driver: an emulated tag (cylinder-tag emulate --udp)
    pcsc[:NAME]                  the first PC/SC reader whose name contains NAME (any reader if absent)

Backends are imported only when asked for, so a station with pyscard and no nfcpy (or the other
way round) works.
"""

from __future__ import annotations

from tag_tools.readers.base import Reader
from tag_tools.readers.errors import ReaderPathError

NFCPY_DRIVERS = ("usb", "tty", "udp")


def open_reader(path: str, *, command_timeout: float | None = None) -> Reader:
    """Open the reader a path string names. ReaderPathError for a malformed path."""
    backend, _, rest = path.strip().partition(":")
    if backend == "pcsc":
        from tag_tools.readers.pcsc_backend import PcscReader

        return PcscReader(rest)
    if backend == "nfcpy":
        driver, _, detail = rest.partition(":")
        if driver not in NFCPY_DRIVERS:
            raise ReaderPathError(f"unknown nfcpy driver {driver!r} in {path!r}: use one of {', '.join(NFCPY_DRIVERS)}")
        if driver == "udp":
            host, _, port = detail.rpartition(":")
            if not host or not port.isdigit():
                raise ReaderPathError(f"udp reader path must be nfcpy:udp:HOST:PORT, not {path!r}")
        if driver == "tty" and not detail:
            raise ReaderPathError(f"serial reader path must be nfcpy:tty:PORT[:DRIVER], not {path!r}")
        from tag_tools.readers.nfcpy_backend import NfcpyReader

        return NfcpyReader(rest, command_timeout=command_timeout)
    raise ReaderPathError(
        f"unknown reader path {path!r}: use nfcpy:usb[:VID:PID], nfcpy:tty:..., nfcpy:udp:HOST:PORT or pcsc[:NAME]"
    )
