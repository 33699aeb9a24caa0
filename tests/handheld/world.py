"""The bureau the handheld vectors are made in: one root, centres with Ed25519 and P-256 keys (one
revoked, one whose certificate expired long ago, one the trust list does not name), list signers
with both key types (one revoked by the root), and the trust and status lists they sign.

Everything is made with tag_tools itself (pki, build_trust_list, build_status_list, sign_record);
the few documents tag_tools refuses to make (a record signed outside its certificate's validity, a
list signed by a revoked signer) are signed by hand here, as an attacker or a buggy CA would.
Test tooling: keys live only in memory.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509

from tag_tools import cbor_codec, cose, crypto, ndef_record, pki
from tag_tools.claims import CylinderRecord
from tag_tools.record import sign_record
from tag_tools.spec_example import typical_record
from tag_tools.status_list import Claim, StatusArray, StatusList, StatusValue, build_status_list, subject_of
from tag_tools.trustlist import (
    RevocationReason,
    RevokedSigner,
    SignerRevocations,
    TrustList,
    build_signer_revocations,
    build_trust_list,
    revoked_to_cbor,
)
from tests.testkit import TestPki

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # tests/conftest.py's clock
UID = bytes.fromhex("04A2C4D2E15A80")  # the specification example's tag
ED, ES = crypto.Algorithm.EDDSA, crypto.Algorithm.ES256


@dataclass(frozen=True)
class Signer:
    """A key and the certificate the root gave it."""

    key: crypto.PrivateKey
    certificate: x509.Certificate

    @property
    def kid(self) -> bytes:
        return pki.kid_of(self.certificate)


@dataclass
class World:
    """The bureau at `now` (see the module docstring)."""

    now: datetime
    root: Signer
    centres: dict[str, Signer]
    list_signers: dict[str, Signer]
    signer_revocations: SignerRevocations
    trust_lists: dict[str, bytes] = field(default_factory=dict)

    @property
    def root_der(self) -> bytes:
        return pki.certificate_to_der(self.root.certificate)

    def as_test_pki(self) -> TestPki:
        """The shape tests/tag_tools/test_cert_profile.py's certificate builders take."""
        centre, signer = self.centres["ZZTJ01"], self.list_signers["p256"]
        return TestPki(
            self.root.key, self.root.certificate, centre.key, centre.certificate, b"", self.now, signer.key, signer.certificate
        )

    # --- records -------------------------------------------------------------------------------------

    def record(self, centre: str = "ZZTJ01", uid: bytes = UID, **overrides: Any) -> CylinderRecord:
        return typical_record(uid, self.now, **{"centre_id": centre, **overrides})

    def message(self, centre: str = "ZZTJ01", uid: bytes = UID, **overrides: Any) -> bytes:
        """An NDEF message the centre signed the way every centre does (tag_tools.record.sign_record)."""
        signer = self.centres[centre]
        return sign_record(self.record(centre, uid, **overrides), signer.key, signer.certificate)

    def raw_message(self, payload: bytes, centre: str = "ZZTJ01", header: dict[object, object] | None = None) -> bytes:
        """`payload` signed by the centre's key with no check at all (signed garbage, or a protected
        header of our choosing), in an NDEF message."""
        signer = self.centres[centre]
        if header is None:
            return ndef_record.encode_message(cose.sign1(payload, signer.key, signer.kid))
        protected = cbor_codec.encode(header)
        to_be_signed = cbor_codec.encode(["Signature1", protected, b"", payload])
        signature = crypto.sign(signer.key, to_be_signed)
        return ndef_record.encode_message(cbor_codec.encode(cbor2.CBORTag(18, [protected, {}, payload, signature])))

    # --- status lists ----------------------------------------------------------------------------------

    def status_list(
        self,
        list_id: int,
        values: dict[int, StatusValue],
        signer: str = "p256",
        count: int = 64,
        issued: timedelta = timedelta(minutes=-5),
        expires: timedelta = timedelta(days=2),
        sequence: int = 7,
    ) -> bytes:
        body = StatusList(
            list_id,
            sequence,
            self.now + issued,
            self.now + expires,
            timedelta(minutes=5),
            StatusArray.from_mapping(values, count),
        )
        chosen = self.list_signers[signer]
        return build_status_list(body, chosen.key, chosen.certificate)

    def signed_status_claims(self, claims: dict[int, Any], signer: str = "p256") -> bytes:
        """Status list claims signed by a trusted list signer without any check (hostile tokens)."""
        chosen = self.list_signers[signer]
        return cose.sign1(cbor_codec.encode(claims), chosen.key, chosen.kid)

    def status_claims(self, list_id: int = 0, packed: bytes = b"\xe4\x01", count: int = 5) -> dict[int, Any]:
        """Well-formed claims of a small list, as tests/tag_tools/test_status_list.py's good_claims."""
        return {
            Claim.SUB: subject_of(list_id),
            Claim.EXP: int((self.now + timedelta(days=1)).timestamp()),
            Claim.IAT: int(self.now.timestamp()),
            Claim.STATUS_LIST: {"bits": 2, "lst": zlib.compress(packed)},
            Claim.TTL: 3600,
            Claim.SEQUENCE: 1,
            Claim.COUNT: count,
        }

    # --- trust lists -----------------------------------------------------------------------------------

    def trust_list(self, **changes: Any) -> TrustList:
        """The national list: every centre but the unlisted one, ZZRV03 revoked, both list signers."""
        listed = [self.centres[c].certificate for c in ("ZZTJ01", "ZZES02", "ZZRV03", "ZZOLD4")]
        values: dict[str, Any] = dict(
            sequence=40,
            issued_at=self.now - timedelta(hours=1),
            expires_at=self.now + timedelta(days=14),
            centres=tuple(listed),
            revoked=(RevokedSigner(self.centres["ZZRV03"].kid, self.now - timedelta(days=3), RevocationReason.KEY_COMPROMISE),),
            signers=(self.list_signers["p256"].certificate, self.list_signers["ed25519"].certificate),
            signer_revocations=self.signer_revocations,
        )
        values.update(changes)
        return TrustList(**values)

    def signed_trust_list(self, signer: str | None = "p256", **changes: Any) -> bytes:
        """Signed by list signer `signer` (x5chain), or by the root itself when None."""
        if signer is None:
            return build_trust_list(self.trust_list(**changes), self.root.certificate, self.root.key)
        chosen = self.list_signers[signer]
        return build_trust_list(self.trust_list(**changes), self.root.certificate, chosen.key, chosen.certificate)

    def raw_trust_list(
        self,
        body: dict[int, object],
        key: crypto.PrivateKey | None = None,
        kid: bytes | None = None,
        x5chain: tuple[bytes, ...] = (),
    ) -> bytes:
        """A trust list body signed by hand, without build_trust_list's checks (root key by default)."""
        return cose.sign1(cbor_codec.encode(body), key or self.root.key, kid or pki.kid_of(self.root.certificate), x5chain)

    def raw_body(
        self, centres: list[object] | None = None, version: int = 1, extra: dict[int, object] | None = None
    ) -> dict[int, object]:
        """A trust list body (root-signed shape by default) for raw_trust_list."""
        body: dict[int, object] = {
            1: version,
            2: 9,
            3: int((self.now - timedelta(hours=1)).timestamp()),
            4: int((self.now + timedelta(days=7)).timestamp()),
            5: centres if centres is not None else [pki.certificate_to_der(self.centres["ZZTJ01"].certificate)],
            6: [],
        }
        if version == 2:
            body[7] = [pki.certificate_to_der(self.list_signers["p256"].certificate)]
        body.update(extra or {})
        return body


def _centre(root: Signer, centre_id: str, algorithm: crypto.Algorithm, issued: datetime, valid_days: int = 3 * 365) -> Signer:
    key = crypto.generate_private_key(algorithm)
    csr = pki.create_centre_csr(key, centre_id, "410105", f"Inspection centre {centre_id}")
    return Signer(key, pki.issue_centre_certificate(csr, root.certificate, root.key, issued, valid_days))


def _list_signer(root: Signer, name: str, algorithm: crypto.Algorithm, issued: datetime, valid_days: int = 90) -> Signer:
    key = crypto.generate_private_key(algorithm)
    return Signer(key, pki.issue_list_signer_certificate(key.public_key(), name, root.certificate, root.key, issued, valid_days))


def build_world(now: datetime = NOW) -> World:
    root_key = crypto.generate_private_key()
    root = Signer(
        root_key, pki.create_root(root_key, "Zhengzhou Quality Supervision Bureau (vectors)", now - timedelta(days=400))
    )
    centres = {
        "ZZTJ01": _centre(root, "ZZTJ01", ED, now - timedelta(days=365)),
        "ZZES02": _centre(root, "ZZES02", ES, now - timedelta(days=365)),
        "ZZRV03": _centre(root, "ZZRV03", ED, now - timedelta(days=365)),
        "ZZOLD4": _centre(root, "ZZOLD4", ES, now - timedelta(days=380), valid_days=30),
        "ZZUN05": _centre(root, "ZZUN05", ED, now - timedelta(days=365)),
    }
    list_signers = {
        "p256": _list_signer(root, "Bureau P-256", ES, now - timedelta(days=10)),
        "ed25519": _list_signer(root, "Bureau Ed25519", ED, now - timedelta(days=10)),
        "retired": _list_signer(root, "Retired", ED, now - timedelta(days=60)),
        "expired": _list_signer(root, "Expired", ED, now - timedelta(days=100), valid_days=30),
    }
    revoked = (
        RevokedSigner(
            list_signers["retired"].kid, (now - timedelta(days=5)).replace(microsecond=0), RevocationReason.KEY_COMPROMISE
        ),
    )
    revocations = build_signer_revocations(revoked, 1, now - timedelta(days=5), root.certificate, root.key)
    return World(now, root, centres, list_signers, revocations)


__all__ = ["NOW", "UID", "Signer", "World", "build_world", "revoked_to_cbor"]
