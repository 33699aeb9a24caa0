"""The CA folder's list signers: what the offline root certifies and revokes so it can stay offline.

Kept beside tag_tools.ca_store's files, in files of its own:

    ca/signers/<kid>.pem            every list-signer certificate the root issued
    ca/list-signing.json            revoked list signers, the signer revocations' and trust lists' sequences
    ca/signer-revocations.cose      the newest root-signed signer revocations, carried by every trust list

The root is used here only to certify a signer and, when one is compromised or retired, to sign the
signer revocations (rare, an emergency). The weekly trust list is signed by the signer itself,
from `trust_list_content` (or by the `cylinder-signer` process, which checks it again).
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from tag_tools import crypto, pki
from tag_tools.ca_store import STATE, CaStore
from tag_tools.errors import InputError, TrustError
from tag_tools.keys import PassphraseSource, write_public_file
from tag_tools.trustlist import (
    RevocationReason,
    RevokedSigner,
    SignerRevocations,
    TrustList,
    build_signer_revocations,
    parse_signer_revocations,
)

SIGNERS = "signers"
LIST_SIGNING = "list-signing.json"
SIGNER_REVOCATIONS = "signer-revocations.cose"


@dataclass(frozen=True)
class SignerCa:
    ca: CaStore

    @property
    def directory(self) -> Path:
        return self.ca.directory

    def issue(
        self, public_key: crypto.PublicKey, name: str, passphrase: PassphraseSource, now: datetime, valid_days: int
    ) -> x509.Certificate:
        root = self.ca.root_certificate()
        certificate = pki.issue_list_signer_certificate(public_key, name, root, self.ca.root_key(passphrase), now, valid_days)
        write_public_file(self.directory / SIGNERS / f"{pki.kid_of(certificate).hex()}.pem", pki.certificate_to_pem(certificate))
        return certificate

    def issued(self) -> list[x509.Certificate]:
        return [pki.load_certificate(path.read_bytes()) for path in sorted((self.directory / SIGNERS).glob("*.pem"))]

    def revoke(self, kid: bytes, reason: RevocationReason, when: datetime, passphrase: PassphraseSource) -> SignerRevocations:
        """Revoke a list signer and sign the new signer revocations with the root (needed at once:
        the next trust list, signed by another signer, must carry them)."""
        if not (self.directory / SIGNERS / f"{kid.hex()}.pem").exists():
            raise InputError(f"this CA issued no list signer with kid {kid.hex()}")
        state = self._load()
        if any(entry["kid"] == kid.hex() for entry in state["revoked"]):
            raise InputError(f"list signer {kid.hex()} is already revoked")
        state["revoked"].append({"kid": kid.hex(), "revoked_at": when.isoformat(), "reason": reason.name.lower()})
        state["revocations_sequence"] += 1
        revoked = tuple(_revoked_from(entry) for entry in state["revoked"])
        revocations = build_signer_revocations(
            revoked,
            state["revocations_sequence"],
            when.replace(microsecond=0),
            self.ca.root_certificate(),
            self.ca.root_key(passphrase),
        )
        write_public_file(self.directory / SIGNER_REVOCATIONS, revocations.blob)
        self._save(state)
        return revocations

    def revocations(self) -> SignerRevocations | None:
        path = self.directory / SIGNER_REVOCATIONS
        return parse_signer_revocations(path.read_bytes(), self.ca.root_certificate()) if path.exists() else None

    def trust_list_content(self, now: datetime, valid_for: timedelta) -> TrustList:
        """The next trust list, unsigned: unexpired unrevoked centres and list signers, every centre
        revocation, the newest signer revocations, and the next sequence (also above any list the
        root signed itself, so moving from root-signed lists to a signer never looks like a rollback)."""
        revocations = self.revocations()
        revoked_signers = revocations.kids if revocations else frozenset()
        centre_revocations = self.ca.revoked()
        revoked_centres = {r.kid for r in centre_revocations}
        state = self._load()
        sequence = max(state["trust_list_sequence"], self._root_signed_sequence()) + 1
        state["trust_list_sequence"] = sequence
        self._save(state)
        return TrustList(
            sequence=sequence,
            issued_at=now.replace(microsecond=0),
            expires_at=(now + valid_for).replace(microsecond=0),
            centres=tuple(c for c in self.ca.issued() if c.not_valid_after_utc > now and pki.kid_of(c) not in revoked_centres),
            revoked=tuple(centre_revocations),
            signers=tuple(c for c in self.issued() if c.not_valid_after_utc > now and pki.kid_of(c) not in revoked_signers),
            signer_revocations=revocations,
        )

    def _root_signed_sequence(self) -> int:
        """The last sequence tag_tools.ca_store gave a root-signed list (its documented state file)."""
        try:
            return int(json.loads((self.directory / STATE).read_text(encoding="utf-8")).get("trust_list_sequence", 0))
        except (OSError, ValueError, AttributeError):
            return 0

    def _load(self) -> dict[str, Any]:
        path = self.directory / LIST_SIGNING
        if not path.exists():
            return {"trust_list_sequence": 0, "revocations_sequence": 0, "revoked": []}
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise TrustError(f"{path} is damaged: {error}") from None
        if not isinstance(state, dict) or not isinstance(state.get("revoked"), list):
            raise TrustError(f"{path} is damaged: unexpected content")
        return state

    def _save(self, state: dict[str, Any]) -> None:
        write_public_file(self.directory / LIST_SIGNING, json.dumps(state, indent=2).encode("utf-8"))


def _revoked_from(entry: dict[str, str]) -> RevokedSigner:
    return RevokedSigner(
        bytes.fromhex(entry["kid"]), datetime.fromisoformat(entry["revoked_at"]), RevocationReason[entry["reason"].upper()]
    )
