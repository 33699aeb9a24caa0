"""Start pcscd with the vsmartcard-vpcd driver on a chosen port, for tests and benchmarks.

pcscd is a system-wide daemon (its socket is /run/pcscd/pcscd.comm), so only one can run: this
starts it in the foreground with a private reader.conf.d that points vpcd at `port` (vpcd opens
two slots, "Virtual PCD 00 00" on `port` and "Virtual PCD 00 01" on `port + 1`), and stops it
again. Debian's own /etc/reader.conf.d/vpcd uses port 35963; a station never needs this module.

Test sessions running at the same time on one machine (the reader tests, the station agent's)
take turns: each holds an exclusive lock file for as long as its pcscd runs, and the next waits.
Without that, the second session would see the first one's "Virtual PCD" and use its cards.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from tests.peers import free_tcp_port

log = logging.getLogger(__name__)

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
LOCK_FILE = Path(tempfile.gettempdir()) / "cylinder-guard-pcscd.lock"
READER_NAME = "Virtual PCD 00 00"


class PeerError(RuntimeError):
    """pcscd or vpcd cannot be started here; the message says why."""


def free_port_pair() -> int:
    """A TCP port p with p and p+1 free (vpcd takes two)."""
    for _ in range(50):
        port = free_tcp_port()
        if port >= 65535:
            continue
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            return int(port)
        except OSError:
            continue
    raise PeerError("no free pair of TCP ports")


def pcscd_answering() -> bool:
    """True when some pcscd already listens on the system-wide socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(PCSCD_SOCKET))
            return True
        except OSError:
            return False


class PcscdWithVpcd:
    """`with PcscdWithVpcd() as peer:` pcscd runs, vpcd waits for a card on `peer.port`."""

    def __init__(self, port: int | None = None, ready_timeout: float = 10.0, turn_timeout: float = 300.0) -> None:
        self._requested_port = port
        self.port = port or 0  # chosen once it is our turn
        self.ready_timeout = ready_timeout
        self.turn_timeout = turn_timeout
        self._lock: IO[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._pcscd = "pcscd"

    def start(self) -> PcscdWithVpcd:
        pcscd = shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)
        if pcscd is None:
            raise PeerError("pcscd is not installed (apt-get install pcscd)")
        if not VPCD_DRIVER.exists():
            raise PeerError(f"{VPCD_DRIVER} missing (apt-get install vsmartcard-vpcd)")
        self._wait_turn()
        try:
            if pcscd_answering():
                raise PeerError("another pcscd is running; stop it first (systemctl stop pcscd.socket pcscd)")
            self.port = self._requested_port or free_port_pair()
            self._dir = tempfile.TemporaryDirectory(prefix="vpcd-conf-")
            conf = Path(self._dir.name) / "vpcd"
            conf.write_text(
                f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x{self.port:X}\n'
                f"LIBPATH      {VPCD_DRIVER}\nCHANNELID    0x{self.port:X}\n"
            )
            self._log = Path(self._dir.name + ".log")  # not in the conf dir: pcscd parses every file there
            self._pcscd = pcscd
            self._spawn()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        assert self._dir is not None
        with self._log.open("wb") as out:
            self._process = subprocess.Popen([self._pcscd, "--foreground", "--config", self._dir.name], stdout=out, stderr=out)
        self._wait_ready()
        log.info("pcscd %d up, vpcd waiting on port %d", self._process.pid, self.port)

    def restart(self, down_s: float = 0.5) -> None:
        """Stop pcscd and start it again after `down_s`, keeping this session's turn, port and reader:
        what `systemctl restart pcscd` (or an upgrade) does to a station."""
        assert self._process is not None and self._dir is not None, "start() first"
        self._end_process()
        time.sleep(down_s)
        self._spawn()

    def _wait_turn(self) -> None:
        """Take the machine-wide lock, waiting while another session runs its pcscd."""
        self._lock = LOCK_FILE.open("a")
        deadline = time.monotonic() + self.turn_timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._release_turn()
                    raise PeerError(f"another session kept pcscd for over {self.turn_timeout:g} s ({LOCK_FILE})") from None
                time.sleep(0.2)

    def _release_turn(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None

    def _wait_ready(self) -> None:
        from smartcard import scard

        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise PeerError(f"pcscd exited with {self._process.returncode}: {self._log.read_text()[-500:]}")
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult == scard.SCARD_S_SUCCESS:
                hresult, readers = scard.SCardListReaders(context, [])
                scard.SCardReleaseContext(context)
                if hresult == scard.SCARD_S_SUCCESS and READER_NAME in readers and self._process.poll() is None:
                    return
            time.sleep(0.1)
        self.stop()
        raise PeerError(f"pcscd did not list {READER_NAME!r} within {self.ready_timeout:g} s")

    def _end_process(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def stop(self) -> None:
        self._end_process()
        self._process = None
        if self._dir is not None:
            self._log.unlink(missing_ok=True)
            self._dir.cleanup()
            self._dir = None
        self._release_turn()

    def __enter__(self) -> PcscdWithVpcd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
