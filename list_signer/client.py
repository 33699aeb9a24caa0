"""What the registry calls: `SignerClient(socket_path).sign_status_list(...)`.

The client only frames requests and reads answers; every rule is the signer's. A refusal raises
RefusedError with its code (e.g. Refusal.CLEARED_REVOCATION and the first index concerned); an
unreachable signer raises SignerUnavailable, which the registry treats as "keep serving the last
signed list", never as a reason to sign elsewhere.
"""

import socket
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from list_signer import protocol
from list_signer.errors import SignerUnavailable
from tag_tools import pki
from tag_tools.station_policy import PolicyTerms, terms_to_cbor
from tag_tools.status_list import BITS, StatusArray
from tag_tools.trustlist import TrustList, revoked_to_cbor

DEFAULT_TIMEOUT_S = 120.0  # signing the national list takes seconds (zlib level 9), not minutes


class SignerClient:
    def __init__(self, socket_path: Path | str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.socket_path = str(socket_path)
        self.timeout_s = timeout_s

    def sign_status_list(
        self,
        list_id: int,
        sequence: int,
        statuses: StatusArray,
        issued_at: datetime,
        expires_at: datetime,
        ttl: timedelta,
    ) -> bytes:
        """The signed Status List Token, or RefusedError / SignerUnavailable."""
        return protocol.answer_result(
            self.call(
                {
                    "op": protocol.OP_SIGN_STATUS_LIST,
                    "list_id": list_id,
                    "sequence": sequence,
                    "iat": int(issued_at.timestamp()),
                    "exp": int(expires_at.timestamp()),
                    "ttl": int(ttl.total_seconds()),
                    "bits": BITS,
                    "count": statuses.count,
                    "statuses": zlib.compress(statuses.packed, 6),
                }
            )
        )

    def sign_trust_list(self, trust_list: TrustList) -> bytes:
        """The signed trust list (its `signed_by` is ignored: the signer signs with its own key)."""
        return protocol.answer_result(
            self.call(
                {
                    "op": protocol.OP_SIGN_TRUST_LIST,
                    "sequence": trust_list.sequence,
                    "iat": int(trust_list.issued_at.timestamp()),
                    "exp": int(trust_list.expires_at.timestamp()),
                    "centres": [pki.certificate_to_der(c) for c in trust_list.centres],
                    "revoked": revoked_to_cbor(trust_list.revoked),
                    "signers": [pki.certificate_to_der(c) for c in trust_list.signers],
                    "signer_revocations": trust_list.signer_revocations.blob if trust_list.signer_revocations else None,
                }
            )
        )

    def sign_station_policies(self, sequence: int, policies: Sequence[tuple[str, PolicyTerms]]) -> list[bytes]:
        """One signed policy document per (station code, terms), in order, all with `sequence` and
        dated by the signer's clock; or RefusedError (e.g. ROLLBACK) / SignerUnavailable."""
        request = {
            "op": protocol.OP_SIGN_STATION_POLICIES,
            "sequence": sequence,
            "policies": [{"station": code, "terms": terms_to_cbor(terms)} for code, terms in policies],
        }
        return protocol.answer_batch(self.call(request), len(policies))

    def status(self) -> dict[str, Any]:
        """The signer's kid, certificate expiry and last sequences (a health check)."""
        return self.call({"op": protocol.OP_STATUS})

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(self.timeout_s)
            try:
                connection.connect(self.socket_path)
                protocol.send_message(connection, request)
                return protocol.receive_message(connection)
            except OSError as error:
                raise SignerUnavailable(f"list signer at {self.socket_path}: {error.strerror or error}") from error
