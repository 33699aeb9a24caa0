"""Files at rest that only their owner may read: the registry's SQLite database, the station's
outbox and state folder, the station configuration (supervisor password hashes, the registry token).

The commands (`cylinder-registry`, `station-agent`) run under `private_umask()`, so whatever they
create is 0600 / 0700 whatever the service manager's umask; `private_file` and `private_dir` also
set the mode explicitly where the code creates the file or folder, because a library caller (a test,
another WSGI server) has its own umask. Files and folders that already exist are not changed behind
the operator's back: `world_accessible` lets the caller warn (or refuse) instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
DIR_MODE = 0o700


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Run a command with umask 077; the previous umask is restored after (tests call main())."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def private_dir(path: Path) -> bool:
    """Create `path` (and missing parents) as 0700; True when it was created, False when it existed."""
    if path.is_dir():
        return False
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DIR_MODE)  # mkdir's mode is filtered through the umask
    return True


def private_file(path: Path) -> bool:
    """Create `path` empty as 0600 if it does not exist (SQLite takes an empty file as a new
    database, and gives its -wal and -shm files the database file's mode); True when created."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(descriptor)
    path.chmod(FILE_MODE)
    return True


def world_accessible(path: Path) -> bool:
    """Whether users other than the owner and group may read, write or enter `path`."""
    try:
        return bool(path.stat().st_mode & stat.S_IRWXO)
    except OSError:
        return False


def warn_if_open(path: Path, holds: str) -> bool:
    """Log a warning when `path` is open to other users; True when it is. `holds` says what is at stake."""
    if not world_accessible(path):
        return False
    log.warning("%s is open to other users and holds %s: chmod %s %s", path, holds, "700" if path.is_dir() else "600", path)
    return True
