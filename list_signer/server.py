"""The signer's Unix socket server: one connection, one request, one answer, one at a time.

The socket is created mode 0660 (group: the one the registry's user shares with the signer's),
so only those two users can ask for a signature; nobody can read the key or the state through it.
A bad request gets a typed refusal; a broken connection is logged and forgotten; nothing a client
sends can stop the server.
"""

import grp
import logging
import os
import socket
import stat
from pathlib import Path
from typing import Any

from list_signer import protocol
from list_signer.errors import ProtocolError, Refusal, RefusedError
from list_signer.service import Signer

log = logging.getLogger(__name__)

CONNECTION_TIMEOUT_S = 30.0  # a client that stops sending mid-request does not hold the signer


def handle(signer: Signer, request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request; never raises."""
    op = request.get("op")
    try:
        if op == protocol.OP_SIGN_STATUS_LIST:
            return protocol.signed_answer(signer.sign_status_list(request))
        if op == protocol.OP_SIGN_TRUST_LIST:
            return protocol.signed_answer(signer.sign_trust_list(request))
        if op == protocol.OP_SIGN_STATION_POLICIES:
            return protocol.signed_batch_answer(signer.sign_station_policies(request))
        if op == protocol.OP_STATUS:
            return signer.status()
        raise RefusedError(Refusal.BAD_REQUEST, f"unknown op {op!r}")
    except RefusedError as refusal:
        log.warning("refused %s: %s", op, refusal)
        return protocol.refusal_answer(refusal)
    except Exception as error:  # the signer must outlive any request; say what failed, keep serving
        log.exception("internal error on %s", op)
        return protocol.refusal_answer(RefusedError(Refusal.INTERNAL, f"{type(error).__name__}: {error}"))


def bind(path: Path, group: str | None) -> socket.socket:
    """Listen on `path` (mode 0660, chgrp `group` when given), replacing a stale socket file only."""
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise OSError(f"{path} exists and is not a socket: refusing to replace it")
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o117)  # never a moment where the socket is world-writable
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o660)
    if group is not None:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    listener.listen(16)
    return listener


def serve(signer: Signer, listener: socket.socket) -> None:
    """Answer requests until the listener is closed (SIGTERM closes it in the CLI)."""
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return  # closed: shutting down
        with connection:
            connection.settimeout(CONNECTION_TIMEOUT_S)
            try:
                request = protocol.receive_message(connection)
            except (ProtocolError, OSError) as error:
                log.warning("dropped a connection: %s", error)
                _try_send(connection, protocol.refusal_answer(RefusedError(Refusal.BAD_REQUEST, str(error))))
                continue
            _try_send(connection, handle(signer, request))


def _try_send(connection: socket.socket, answer: dict[str, Any]) -> None:
    try:
        protocol.send_message(connection, answer)
    except (OSError, ProtocolError) as error:
        log.warning("could not answer a client: %s", error)
