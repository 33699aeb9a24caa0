"""waitress serving a WSGI app from a thread of the test process, stopped cleanly.

waitress's own `run()` loops until its sockets are closed, and closing them from another thread
races the loop's select(): the loop thread then dies of "bad file descriptor" (a pytest
unhandled-thread-exception warning). Here the loop runs one short pass at a time and the thread
that runs it also closes the server, its connections and its worker threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

PASS_S = 0.05  # one pass of the loop at most: how long a stop waits


@contextmanager
def served_in_thread(app: Any, threads: int = 4, name: str = "test-waitress") -> Iterator[int]:
    """Serve `app` on 127.0.0.1 on a free port; yields the port."""
    with running_in_thread(create_server(app, host="127.0.0.1", port=0, threads=threads), name) as server:
        yield server.effective_port


@contextmanager
def running_in_thread(server: Any, name: str = "test-waitress") -> Iterator[Any]:
    """Run a waitress server made by waitress.create_server (or registry_service.serving's) until
    the block ends; yields the server."""
    stopping = threading.Event()

    def loop() -> None:
        try:
            while not stopping.is_set():
                wasyncore.loop(timeout=PASS_S, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        finally:
            server.task_dispatcher.shutdown()
            wasyncore.close_all(server._map)  # the listener, its trigger and every open connection

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stopping.set()
        thread.join(timeout=30)
