"""Photos attached to case steps, kept as files under the registry's data dir (config data_dir,
REGISTRY_DATA_DIR): `case-photos/<first two hex digits>/<sha256>.<ext>`, named by their content, so
the same photo sent twice is one file and the step's sha256 proves the file is the one sent.

Only JPEG, PNG and WebP are kept, recognised by their first bytes (not by what the client says).
A file is written to a temporary name and renamed, so a half-written photo never has the final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Final

from registry_service.errors import InvalidInput
from registry_service.services.cases import StoredPhoto

MAX_PHOTO_BYTES: Final = 8 * 1024 * 1024
FOLDER: Final = "case-photos"


class PhotoRefused(InvalidInput):
    """Not a photo the registry keeps, or nowhere to keep it (422)."""


def kind_of(content: bytes) -> str | None:
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    return None


def store(data_dir: str | None, content: bytes) -> StoredPhoto:
    if data_dir is None:
        raise PhotoRefused("this registry keeps no photos (set REGISTRY_DATA_DIR)")
    if not content or len(content) > MAX_PHOTO_BYTES:
        raise PhotoRefused(f"a photo is 1 byte to {MAX_PHOTO_BYTES // (1024 * 1024)} MiB")
    ext = kind_of(content)
    if ext is None:
        raise PhotoRefused("a photo must be JPEG, PNG or WebP")
    digest = hashlib.sha256(content).hexdigest()
    relative = Path(FOLDER) / digest[:2] / f"{digest}.{ext}"
    target = Path(data_dir) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return StoredPhoto(relative.as_posix(), digest)
