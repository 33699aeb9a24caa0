"""A network link between the browser and the registry that a test can cut and mend: a TCP relay on
127.0.0.1. Cut, it closes every open connection and every new one at once, so every request fails
as it does on a phone without network, from the page and from its service worker alike.

Why not only Playwright's context.set_offline: in Chromium it does not reach a service worker's
own fetches (microsoft/playwright#2311), so a test that "went offline" that way could pass while
the worker still fetched from the registry. The tests use both: set_offline makes the page see
itself offline (navigator.onLine, the online event), the cut link makes sure nothing gets through.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Link:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="handheld-link", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        with self._lock:
            self.up = False
            for connection in self._open:
                _close(connection)
            self._open.clear()

    def mend(self) -> None:
        with self._lock:
            self.up = True

    def close(self) -> None:
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self.up:
                    _close(client)
                    continue
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                except OSError:
                    _close(client)
                    continue
                upstream.settimeout(None)
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


@contextmanager
def link_to(url: str) -> Iterator[Link]:
    """A cuttable link to the server at `url` (http://127.0.0.1:PORT)."""
    link = Link(int(url.rsplit(":", 1)[1]))
    try:
        yield link
    finally:
        link.close()
