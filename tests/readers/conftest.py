"""Real peers for the reader tests: nfcpy's udp driver with an emulated tag on its listen side, and
pcscd + vpcd with an emulated tag as a virtual card. Each starts once per test module and is
stopped at its end (pcscd is machine-wide: other suites, like the station agent's, wait for their
turn, so it must not stay up for the whole session); with CI=true a peer that cannot start fails
the tests instead of skipping them.

Tests against a real reader (tests_hardware/test_real_reader.py) run only when CYLINDER_TAG_READER names one: a
`--reader-path` option would only be seen when pytest is started on this directory (pytest reads
pytest_addoption from the rootdir and initial conftests only), so an environment variable it is.
"""

from collections.abc import Iterator

import pytest

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tests.peers import peer_unavailable
from tests.rigs import Rig, UdpRig, VpcdRig

PARKING_UID = bytes.fromhex("04000000000001")


@pytest.fixture(scope="session")
def originality_keys() -> tuple[bytes, bytes]:
    """A secp128r1 key pair standing in for NXP's (whose private key nobody outside NXP has)."""
    return ntag.generate_test_key()


@pytest.fixture(scope="module")
def udp_rig() -> Iterator[Rig]:
    try:
        import nfc  # noqa: F401
    except ImportError as error:
        peer_unavailable("nfcpy udp driver", f"nfcpy not installed: {error}")
    try:
        rig = UdpRig().start(NtagEmulator.blank(PARKING_UID))
    except Exception as error:  # PeerError, socket trouble: all "cannot start"
        peer_unavailable("nfcpy udp driver", f"{type(error).__name__}: {error}")
    yield rig
    rig.stop()


@pytest.fixture(scope="module")
def vpcd_rig() -> Iterator[VpcdRig]:
    try:
        import smartcard  # noqa: F401

        rig = VpcdRig().start(NtagEmulator.blank(PARKING_UID))
    except Exception as error:  # PeerError, ImportError, pcscd trouble: all "cannot start"
        peer_unavailable("pcscd + vsmartcard-vpcd", f"{type(error).__name__}: {error}")
    yield rig
    rig.stop()


@pytest.fixture(params=["nfcpy-udp", "pcsc-vpcd"])
def rig(request: pytest.FixtureRequest) -> Rig:
    name = "udp_rig" if request.param == "nfcpy-udp" else "vpcd_rig"
    chosen: Rig = request.getfixturevalue(name)
    return chosen
