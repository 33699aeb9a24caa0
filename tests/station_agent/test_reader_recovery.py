"""A reader that goes away comes back without restarting the agent: the ReaderTagSource reopens it.

The back-off itself is tested on a fake reader (deterministic clock and jitter). Then the agent's
own read loop runs on the real stacks: pcscd restarted under an open PC/SC reader (pcscd + vpcd,
as `systemctl restart pcscd` does to a station), and the nfcpy udp target restarted. Each asserts
that the agent showed a reader problem or kept going, that reads resume, and that the source is
the same object throughout (nothing was recreated).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from station_agent.errors import TagSourceError
from station_agent.tagsource import Backoff, ReaderTagSource
from tag_tools.emulation.ntag_emulator import NtagEmulator
from tag_tools.readers.base import TagRead
from tag_tools.readers.errors import ReaderNotFoundError, ReadTimeout
from tag_tools.verdict import Originality
from tests.peers import peer_unavailable, wait_until
from tests.station_agent.conftest import Station, uid_for

# -- back-off on a fake reader -------------------------------------------------------------------


class ScriptedReader:
    def __init__(self, script: list[Any]) -> None:
        self.script, self.closed = script, False

    def next_tag(self) -> TagRead:
        item = self.script.pop(0) if self.script else ReadTimeout("nothing")
        if isinstance(item, Exception):
            raise item
        return TagRead(item, "NTAG215", None, b"", None, Originality.NOT_AVAILABLE, None, 5)

    def close(self) -> None:
        self.closed = True


class Opener:
    """open_reader for the source: fails while `unplugged`, else hands out the next scripted reader."""

    def __init__(self, readers: list[ScriptedReader]) -> None:
        self.readers, self.unplugged, self.calls = readers, False, 0

    def __call__(self, path: str) -> Any:
        self.calls += 1
        if self.unplugged:
            raise ReaderNotFoundError("pcscd sees no reader: is it plugged in?")
        return self.readers.pop(0)


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(first_s=0.25, max_s=5.0)
    assert [backoff.delay(n, lambda: 1.0) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert [backoff.delay(n, lambda: 0.0) for n in range(7)] == [0.125, 0.25, 0.5, 1.0, 2.0, 2.5, 2.5]
    assert backoff.delay(10_000, lambda: 0.5) == 3.75  # no overflow after days unplugged


def test_lost_reader_is_reopened_with_backoff_on_the_same_source() -> None:
    now = [100.0]
    first = ScriptedReader([uid_for(0), ReaderNotFoundError("reader went away: unplugged?")])
    second = ScriptedReader([uid_for(1)])
    opener = Opener([first, second])
    source = ReaderTagSource(
        "pcsc:Fake",
        repeat_after_s=0,
        backoff=Backoff(1.0, 4.0),
        opener=opener,
        read=lambda reader, *_: reader.next_tag(),
        clock=lambda: now[0],
        rng=lambda: 1.0,
    )
    reading = source.next_read(0.1)
    assert reading is not None and reading.uid == uid_for(0)

    opener.unplugged = True
    with pytest.raises(TagSourceError, match="lost: reader went away"):
        source.next_read(0.1)
    assert first.closed and source.reader is None and source.lost is not None
    with pytest.raises(TagSourceError, match="reopening"):
        source.next_read(0.1)  # too early: the first attempt is due 1 s after the loss
    assert opener.calls == 1

    attempts_at: list[float] = []
    while len(attempts_at) < 5:  # still unplugged: the agent calls again every 0.1 s here
        now[0] += 0.1
        calls = opener.calls
        with pytest.raises(TagSourceError, match="reopening"):
            source.next_read(0.1)
        if opener.calls > calls:
            attempts_at.append(now[0])
    gaps = [b - a for a, b in itertools.pairwise(attempts_at)]
    assert gaps == pytest.approx([2.0, 4.0, 4.0, 4.0], abs=0.15)  # doubling, then capped at 4 s
    assert attempts_at[0] - 100.0 == pytest.approx(1.0, abs=0.15)  # first attempt: 1 s after the loss

    opener.unplugged = False
    now[0] += 4.0
    reading = source.next_read(0.1)  # plugged back: reopened, and it reads
    assert reading is not None and reading.uid == uid_for(1)
    assert source.reader is second and source.lost is None and source.reopened == 1
    source.close()
    assert second.closed


# -- the agent's read loop on real stacks ---------------------------------------------------------


class AgentLoop:
    """The agent's own run() in a thread, with a real ReaderTagSource, recording the problems it shows."""

    def __init__(self, station: Station, source: ReaderTagSource) -> None:
        self.agent, self.source, self.lines = station.agent, source, station.lines
        self.agent.source = source
        self.problems: list[str] = []
        self._watching = threading.Event()
        self._thread = threading.Thread(target=self.agent.run, daemon=True)
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._watching.wait(0.02):
            problem = self.agent.reader_problem
            if problem is not None and problem not in self.problems:
                self.problems.append(problem)

    def __enter__(self) -> AgentLoop:
        self._thread.start()
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.agent.request_stop()
        self._thread.join(10)
        self._watching.set()
        self._watcher.join(5)
        self.source.close()

    def read(self, present: Callable[[NtagEmulator], None], uid: bytes) -> None:
        count = len(self.lines)
        present(NtagEmulator.blank(uid))
        wait_until(lambda: len(self.lines) > count and self.agent.reader_problem is None, f"a read of {uid.hex()}")


def started(kind: str) -> Iterator[Any]:
    """A reader rig of its own (not the module-wide one of tests/readers): these tests break it."""
    import importlib

    from tests.rigs import UdpRig, VpcdRig

    rig = VpcdRig() if kind == "pcsc" else UdpRig()
    try:
        importlib.import_module("smartcard" if kind == "pcsc" else "nfc")
        rig.start(NtagEmulator.blank(uid_for(9)))
    except Exception as error:  # PeerError, ImportError, pcscd trouble: all "cannot start"
        rig.stop()
        peer_unavailable(f"reader rig {rig.name}", f"{type(error).__name__}: {error}")
    yield rig
    rig.stop()


@pytest.fixture
def vpcd_rig() -> Iterator[Any]:
    yield from started("pcsc")


@pytest.fixture
def udp_rig() -> Iterator[Any]:
    yield from started("udp")


def test_agent_reads_again_after_pcscd_restarts(vpcd_rig: Any, make_station: Callable[..., Station]) -> None:
    source = ReaderTagSource(vpcd_rig.reader_path, repeat_after_s=600, backoff=Backoff(0.1, 1.0))
    with AgentLoop(make_station(online=False), source) as loop:
        loop.read(vpcd_rig.present, uid_for(1))
        vpcd_rig.pcscd.restart(down_s=1.5)  # the reader and every handle on it vanish, then come back
        loop.read(vpcd_rig.present, uid_for(2))
        loop.read(vpcd_rig.present, uid_for(3))
        assert loop.agent.source is source and source.reopened >= 1, loop.problems
        assert any("lost" in problem for problem in loop.problems), loop.problems
        assert loop.agent.reader_problem is None


def test_agent_reads_again_after_the_udp_target_restarts(udp_rig: Any, make_station: Callable[..., Station]) -> None:
    from tag_tools.emulation.nfcpy_udp_target import UdpTagTarget

    source = ReaderTagSource(udp_rig.reader_path, repeat_after_s=600, backoff=Backoff(0.1, 1.0))
    with AgentLoop(make_station(online=False), source) as loop:
        loop.read(udp_rig.present, uid_for(1))
        udp_rig.target.stop()  # the field goes dead: the emulator process is restarted
        udp_rig.target = UdpTagTarget(NtagEmulator.blank(uid_for(9)), udp_rig.port).start()
        loop.read(udp_rig.present, uid_for(2))
        assert loop.agent.source is source and source.reader is not None
        assert loop.agent.reader_problem is None
