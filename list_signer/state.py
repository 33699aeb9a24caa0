"""The signer's memory of what it last signed, in its own state directory (mode 0700, its user's).

The refusal to undo a revocation is only as good as this memory, so it lives where the registry's
user cannot write it (or read it), is replaced atomically after each signature, and a damaged file
stops the signer (STATE_DAMAGED) instead of being taken as "nothing signed yet".

    <state>/status-<list id>.cbor   the last status list signed: header fields and compressed entries
    <state>/trust-list.cose         the last trust list signed, verbatim
    <state>/policy-sequence.cbor    the sequence of the last batch of station policies signed
"""

import os
import stat
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
from cryptography import x509

from list_signer.errors import Refusal, RefusedError, SignerError
from tag_tools.errors import TagToolsError
from tag_tools.keys import atomic_write
from tag_tools.status_list import PER_BYTE, StatusArray, StatusList, inflate
from tag_tools.trustlist import TrustList, parse_trust_list

TRUST_LIST = "trust-list.cose"
POLICY_SEQUENCE = "policy-sequence.cbor"


def packed_size(count: int) -> int:
    """Bytes that `count` entries take packed (tag_tools.status_list packs BITS per entry)."""
    return -(-count // PER_BYTE)


@dataclass(frozen=True)
class StateDir:
    path: Path

    def prepare(self) -> None:
        """Create the directory 0700, or refuse one that others can read or enter."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise SignerError(f"state directory {self.path} is mode {mode:o}: it must be 0700 (only the signer's user)")
        if self.path.stat().st_uid != os.geteuid():
            raise SignerError(f"state directory {self.path} belongs to another user")

    def last_status_list(self, list_id: int) -> StatusList | None:
        path = self.path / f"status-{list_id}.cbor"
        if not path.exists():
            return None
        try:
            saved = cbor2.loads(path.read_bytes())
            count = saved["count"]
            statuses = StatusArray(count, inflate(saved["lst"], packed_size(count)))
            return StatusList(
                list_id,
                saved["sequence"],
                datetime.fromtimestamp(saved["iat"], UTC),
                datetime.fromtimestamp(saved["exp"], UTC),
                timedelta(seconds=saved["ttl"]),
                statuses,
            )
        except (OSError, ValueError, KeyError, TypeError, cbor2.CBORDecodeError, TagToolsError) as error:
            raise RefusedError(Refusal.STATE_DAMAGED, f"{path} cannot be read: {error}") from None

    def save_status_list(self, status_list: StatusList) -> None:
        saved = {
            "sequence": status_list.sequence,
            "iat": int(status_list.issued_at.timestamp()),
            "exp": int(status_list.expires_at.timestamp()),
            "ttl": int(status_list.ttl.total_seconds()),
            "count": status_list.statuses.count,
            "lst": zlib.compress(status_list.statuses.packed, 6),
        }
        atomic_write(self.path / f"status-{status_list.list_id}.cbor", cbor2.dumps(saved, canonical=True), mode=0o600)

    def last_trust_list(self, root: x509.Certificate) -> TrustList | None:
        path = self.path / TRUST_LIST
        if not path.exists():
            return None
        try:
            return parse_trust_list(path.read_bytes(), root)
        except (OSError, TagToolsError) as error:
            raise RefusedError(Refusal.STATE_DAMAGED, f"{path} cannot be read: {error}") from None

    def save_trust_list(self, signed: bytes) -> None:
        atomic_write(self.path / TRUST_LIST, signed, mode=0o600)

    def last_policy_sequence(self) -> int | None:
        """The sequence of the last station policies signed, None before the first."""
        path = self.path / POLICY_SEQUENCE
        if not path.exists():
            return None
        try:
            sequence = cbor2.loads(path.read_bytes())["sequence"]
            if type(sequence) is not int:
                raise TypeError("sequence is not an integer")
            return sequence
        except (OSError, ValueError, KeyError, TypeError, cbor2.CBORDecodeError) as error:
            raise RefusedError(Refusal.STATE_DAMAGED, f"{path} cannot be read: {error}") from None

    def save_policy_sequence(self, sequence: int) -> None:
        atomic_write(self.path / POLICY_SEQUENCE, cbor2.dumps({"sequence": sequence}, canonical=True), mode=0o600)

    def sequences(self) -> dict[str, int]:
        """For the `status` request: the last sequence signed per list (no entries, no secrets)."""
        found = {}
        for path in sorted(self.path.glob("status-*.cbor")):
            try:
                found[path.stem] = int(cbor2.loads(path.read_bytes())["sequence"])
            except (OSError, ValueError, KeyError, TypeError, cbor2.CBORDecodeError):
                found[path.stem] = -1
        return found
