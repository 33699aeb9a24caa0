from typing import ClassVar

from nfc.clf import ContactlessFrontend, RemoteTarget

# tt2 and tt2_nxp are not imported by the package: `import nfc.tag.tt2` them.

TIMEOUT_ERROR: int
RECEIVE_ERROR: int
PROTOCOL_ERROR: int

class TagCommandError(Exception):
    errno_str: ClassVar[dict[int, str]]
    def __init__(self, errno: int) -> None: ...
    @property
    def errno(self) -> int: ...
    def __int__(self) -> int: ...

class Tag:
    # The activated target; tag_tools.readers.nfcpy_backend replaces it after selecting the tag
    # again, as nfcpy's own Type2Tag.read does after a NAK (where it may become None: tag gone).
    _target: RemoteTarget | None
    def __init__(self, clf: ContactlessFrontend, target: RemoteTarget) -> None: ...
    @property
    def clf(self) -> ContactlessFrontend: ...
    @property
    def target(self) -> RemoteTarget | None: ...
