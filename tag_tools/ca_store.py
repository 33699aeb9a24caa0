"""The bureau's CA folder: root key and certificate, every certificate it issued, revocations, and
the sequence number of the last trust list. Plain files so an offline CA machine needs nothing else.

    ca/root-key.pem        encrypted PKCS#8 (0600)
    ca/root-cert.pem
    ca/issued/<kid>.pem    every centre certificate issued
    ca/state.json          revocations and the last trust-list sequence
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from tag_tools import crypto, pki
from tag_tools.errors import InputError, TrustError
from tag_tools.keys import PassphraseSource, read_private_key, write_private_key, write_public_file
from tag_tools.trustlist import RevocationReason, RevokedSigner, TrustList, build_trust_list

ROOT_KEY = "root-key.pem"
ROOT_CERT = "root-cert.pem"
ISSUED = "issued"
STATE = "state.json"


@dataclass(frozen=True)
class CaStore:
    directory: Path

    @property
    def root_certificate_path(self) -> Path:
        return self.directory / ROOT_CERT

    def init(self, name: str, passphrase: bytes, now: datetime, valid_days: int) -> x509.Certificate:
        if (self.directory / ROOT_KEY).exists():
            raise InputError(f"{self.directory} already holds a CA; refusing to replace its root key")
        key = crypto.generate_private_key()
        certificate = pki.create_root(key, name, now, valid_days)
        write_private_key(self.directory / ROOT_KEY, key, passphrase)
        write_public_file(self.root_certificate_path, pki.certificate_to_pem(certificate))
        (self.directory / ISSUED).mkdir(exist_ok=True)
        self._save_state({"trust_list_sequence": 0, "revoked": []})
        return certificate

    def root_certificate(self) -> x509.Certificate:
        try:
            return pki.load_certificate(self.root_certificate_path.read_bytes())
        except FileNotFoundError:
            raise InputError(f"{self.directory} is not a CA folder (no {ROOT_CERT}); run `ca init` first") from None

    def root_key(self, passphrase: PassphraseSource) -> crypto.PrivateKey:
        return read_private_key(self.directory / ROOT_KEY, passphrase)

    def issue(
        self, csr: x509.CertificateSigningRequest, passphrase: PassphraseSource, now: datetime, valid_days: int
    ) -> x509.Certificate:
        root = self.root_certificate()
        certificate = pki.issue_centre_certificate(csr, root, self.root_key(passphrase), now, valid_days)
        write_public_file(self.directory / ISSUED / f"{pki.kid_of(certificate).hex()}.pem", pki.certificate_to_pem(certificate))
        return certificate

    def issued(self) -> list[x509.Certificate]:
        folder = self.directory / ISSUED
        return [pki.load_certificate(path.read_bytes()) for path in sorted(folder.glob("*.pem"))]

    def revoke(self, kid: bytes, reason: RevocationReason, when: datetime) -> None:
        if not (self.directory / ISSUED / f"{kid.hex()}.pem").exists():
            raise InputError(f"this CA issued no certificate with kid {kid.hex()}")
        state = self._load_state()
        if any(entry["kid"] == kid.hex() for entry in state["revoked"]):
            raise InputError(f"certificate {kid.hex()} is already revoked")
        state["revoked"].append({"kid": kid.hex(), "revoked_at": when.isoformat(), "reason": reason.name.lower()})
        self._save_state(state)

    def revoked(self) -> list[RevokedSigner]:
        return [
            RevokedSigner(bytes.fromhex(e["kid"]), datetime.fromisoformat(e["revoked_at"]), RevocationReason[e["reason"].upper()])
            for e in self._load_state()["revoked"]
        ]

    def build_trust_list(self, passphrase: PassphraseSource, now: datetime, valid_for: timedelta) -> tuple[bytes, TrustList]:
        """Sign a new trust list: every unexpired, unrevoked certificate, and every revocation."""
        revoked = self.revoked()
        revoked_kids = {r.kid for r in revoked}
        centres = tuple(c for c in self.issued() if c.not_valid_after_utc > now and pki.kid_of(c) not in revoked_kids)
        state = self._load_state()
        trust_list = TrustList(
            sequence=int(state["trust_list_sequence"]) + 1,
            issued_at=now.replace(microsecond=0),
            expires_at=(now + valid_for).replace(microsecond=0),
            centres=centres,
            revoked=tuple(revoked),
        )
        signed = build_trust_list(trust_list, self.root_certificate(), self.root_key(passphrase))
        state["trust_list_sequence"] = trust_list.sequence
        self._save_state(state)
        return signed, trust_list

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads((self.directory / STATE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{self.directory} is not a CA folder (no {STATE}); run `ca init` first") from None
        except json.JSONDecodeError as error:
            raise TrustError(f"{self.directory / STATE} is damaged: {error}") from None
        if not isinstance(state, dict) or not isinstance(state.get("revoked"), list):
            raise TrustError(f"{self.directory / STATE} is damaged: unexpected content")
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        write_public_file(self.directory / STATE, json.dumps(state, indent=2).encode("utf-8"))


def utc_now() -> datetime:
    return datetime.now(UTC)
