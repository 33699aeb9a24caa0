"""A complete, in-memory bureau for tests and benchmarks: root CA, one inspection centre, a signed
trust list, and typical records (the worked example's, tag_tools.spec_example). Test tooling: not
part of the installed product; keys live only in memory."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from tag_tools import crypto, pki
from tag_tools.claims import CylinderRecord
from tag_tools.record import sign_record
from tag_tools.revocations import NO_REVOCATIONS, Revocations
from tag_tools.spec_example import TYPICAL_UID, typical_record
from tag_tools.trustlist import TrustList, TrustStore, build_trust_list
from tag_tools.verdict import ChipEvidence, Verdict
from tag_tools.verify import DEFAULT_POLICY, VerificationPolicy, verify_tag

__all__ = ["TYPICAL_UID", "TestPki", "typical_record"]


@dataclass
class TestPki:
    """Bureau root + one centre (Ed25519 by default) + a trust list signed at `now`, and a list
    signer certified 10 days before `now` for 90 days.

    `trust_list_bytes` is still signed by the root (the deprecated form every station accepts);
    `signed_trust_list()` makes one signed by the list signer."""

    __test__ = False  # not a pytest test class

    root_key: crypto.PrivateKey
    root_certificate: x509.Certificate
    centre_key: crypto.PrivateKey
    centre_certificate: x509.Certificate
    trust_list_bytes: bytes
    now: datetime
    signer_key: crypto.PrivateKey
    signer_certificate: x509.Certificate

    @classmethod
    def create(cls, now: datetime, centre_id: str = "ZZTJ01", algorithm: crypto.Algorithm = crypto.Algorithm.EDDSA) -> "TestPki":
        root_key = crypto.generate_private_key()
        root = pki.create_root(root_key, "Zhengzhou Quality Supervision Bureau (test)", now - timedelta(days=400))
        centre_key = crypto.generate_private_key(algorithm)
        csr = pki.create_centre_csr(centre_key, centre_id, "410105", "Zhengzhou Special Equipment Inspection Centre")
        centre = pki.issue_centre_certificate(csr, root, root_key, now - timedelta(days=365))
        trust_list = build_trust_list(
            TrustList(sequence=1, issued_at=now - timedelta(hours=1), expires_at=now + timedelta(days=30), centres=(centre,)),
            root,
            root_key,
        )
        signer_key = crypto.generate_private_key()
        signer = pki.issue_list_signer_certificate(
            signer_key.public_key(), "Test bureau", root, root_key, now - timedelta(days=10)
        )
        return cls(root_key, root, centre_key, centre, trust_list, now, signer_key, signer)

    def trust_list(self, sequence: int = 2, **changes: Any) -> TrustList:
        """The content of a list issued an hour before `now` for 14 days; `changes` override fields."""
        values: dict[str, Any] = dict(
            sequence=sequence,
            issued_at=self.now.replace(microsecond=0) - timedelta(hours=1),
            expires_at=self.now.replace(microsecond=0) + timedelta(days=14),
            centres=(self.centre_certificate,),
            signers=(self.signer_certificate,),
        )
        values.update(changes)
        return TrustList(**values)

    def signed_trust_list(
        self,
        sequence: int = 2,
        key: crypto.PrivateKey | None = None,
        certificate: x509.Certificate | None = None,
        **changes: Any,
    ) -> bytes:
        """A trust list signed by the list signer (or by `key`/`certificate`, another signer)."""
        return build_trust_list(
            self.trust_list(sequence, **changes),
            self.root_certificate,
            key or self.signer_key,
            certificate or self.signer_certificate,
        )

    @property
    def root_certificate_pem(self) -> bytes:
        return pki.certificate_to_pem(self.root_certificate)

    def record(self, uid: bytes, now: datetime | None = None, **claim_overrides: Any) -> CylinderRecord:
        return typical_record(uid, now or self.now, **claim_overrides)

    def ndef_message(self, uid: bytes, now: datetime | None = None, **claim_overrides: Any) -> bytes:
        """An NDEF message with one record bound to `uid`, signed by the centre."""
        return sign_record(self.record(uid, now, **claim_overrides), self.centre_key, self.centre_certificate)

    def trust_store(self, max_age: timedelta = timedelta(days=7)) -> TrustStore:
        return TrustStore.load(self.root_certificate, self.trust_list_bytes, max_age)

    def verify(
        self,
        uid: bytes,
        data: bytes,
        now: datetime | None = None,
        chip: ChipEvidence | None = None,
        revocations: Revocations = NO_REVOCATIONS,
        policy: VerificationPolicy = DEFAULT_POLICY,
    ) -> Verdict:
        return verify_tag(
            uid, data, trust=self.trust_store(), now=now or self.now, revocations=revocations, chip=chip, policy=policy
        )
