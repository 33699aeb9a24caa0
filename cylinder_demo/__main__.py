"""python -m cylinder_demo [--dir demo-output] [--port 8400] [--no-serve]

Tells the whole story (see cylinder_demo/__init__.py), prints the dashboard's address and a
sign-in, and keeps serving until Ctrl-C or SIGTERM. --no-serve exits after the dashboard check:
0 when every decision and the dashboard are as the story says, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from cylinder_demo.story import Story, fail, print_sign_in, say


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cylinder_demo",
        description="The whole story with no hardware: bureau, centre, registry, station, dashboard.",
    )
    parser.add_argument("--dir", type=Path, default=Path("demo-output"), help="work folder (emptied first)")
    parser.add_argument("--port", type=int, default=8400, help="port of the registry and its dashboard on 127.0.0.1")
    parser.add_argument("--no-serve", action="store_true", help="tell the story, check the dashboard, then exit")
    return parser.parse_args(argv)


def fresh_folder(folder: Path) -> str | None:
    """Empty `folder` for this run; refuse folders whose loss would hurt (cwd, its parents, home)."""
    target = folder.resolve()
    precious = {Path.home().resolve(), Path("/").resolve(), *Path.cwd().resolve().parents, Path.cwd().resolve()}
    if target in precious:
        return f"refusing to empty {target}: give a dedicated --dir"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return None


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does: TIME_WAIT is fine
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def missing_extras() -> str | None:
    """The emulated reader needs nfcpy and ecdsa (the `nfc` extra); say so instead of a traceback."""
    try:
        import ecdsa  # noqa: F401
        import nfc  # noqa: F401
    except ImportError as error:
        return f"the demo needs the nfc extra ({error.name} is missing): pip install -e '.[nfc]'"
    return None


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve_until_stopped() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    say("\nserving until Ctrl-C")
    while not stop.wait(1.0):
        pass
    say("stopping")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if problem := missing_extras():
        return fail(problem)
    if not 1 <= args.port <= 65535 or not port_free(args.port):
        return fail(f"port {args.port} on 127.0.0.1 is not free: give another --port")
    if problem := fresh_folder(args.dir):
        return fail(problem)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # during the story: stop like Ctrl-C does
    story = Story(args.dir.resolve(), args.port)
    try:
        with ExitStack() as stack:
            result = story.tell(stack)
            assert story.registry is not None and story.credentials is not None
            print_sign_in(story.registry, story.credentials, story.station_config)
            if not args.no_serve:
                serve_until_stopped()
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    if result.mismatches:
        return fail(f"{len(result.mismatches)} vehicle(s) decided otherwise than the story says")
    if result.dashboard_problems:
        return fail("the dashboard does not show every refused vehicle")
    say(f"demo files are in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
