"""The bureau's trust list: verified against the pinned bureau root on upload, stored verbatim,
served to stations, and compiled (once per list) into the TrustStore that checks submitted
inspection records. The registry never holds the bureau's private key."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry_service.errors import Conflict, NotFound, RecordRejected, ServiceUnavailable
from registry_service.models import CentreCertificate, InspectionCentre, TrustListPublication
from registry_service.principal import Principal
from registry_service.services import audit
from tag_tools import pki
from tag_tools.errors import TagToolsError
from tag_tools.trustlist import TrustStore, parse_trust_list

# The registry checks submissions against the newest list until it expires; stations apply their
# own (shorter) maximum age.
REGISTRY_MAX_AGE = timedelta(days=3650)


def load_root(pem: bytes | None):  # type: ignore[no-untyped-def]
    if not pem:
        raise ServiceUnavailable("no bureau root certificate is configured (REGISTRY_BUREAU_ROOT)")
    try:
        return pki.load_certificate(pem)
    except (TagToolsError, ValueError) as exc:
        raise ServiceUnavailable("the configured bureau root certificate cannot be read") from exc


def publish(session: Session, actor: Principal | str, now: datetime, blob: bytes, root_pem: bytes | None) -> TrustListPublication:
    root = load_root(root_pem)
    try:
        trust_list = parse_trust_list(blob, root)
    except (TagToolsError, ValueError) as exc:
        raise RecordRejected(f"trust list rejected: {exc}") from exc
    if trust_list.expires_at <= now:
        raise RecordRejected("trust list has already expired")
    digest = hashlib.sha256(blob).hexdigest()
    latest = current(session)
    if latest is not None and latest.list_sequence is not None and trust_list.sequence <= latest.list_sequence:
        if latest.sha256 == digest:
            return latest  # the same list uploaded again: idempotent
        raise Conflict(f"trust list sequence {trust_list.sequence} is not newer than {latest.list_sequence}")
    row = TrustListPublication(
        sha256=digest,
        blob=blob,
        list_sequence=trust_list.sequence,
        issued_at=trust_list.issued_at,
        next_update=trust_list.expires_at,
        uploaded_at=now,
        uploaded_by=actor.user_id if isinstance(actor, Principal) else None,
    )
    session.add(row)
    _sync_certificates(session, trust_list, now)
    session.flush()
    audit.record(
        session,
        actor,
        "publish_trust_list",
        "trust_list",
        trust_list.sequence,
        now,
        sha256=digest,
        centres=len(trust_list.centres),
        revoked=len(trust_list.revoked),
    )
    return row


def _sync_certificates(session: Session, trust_list: object, now: datetime) -> None:
    """Mirror the list's certificates into centre_certificates (creating centres it names)."""
    revoked = {r.kid.hex(): r.revoked_at for r in trust_list.revoked}  # type: ignore[attr-defined]
    for certificate in trust_list.centres:  # type: ignore[attr-defined]
        identity = pki.centre_identity(certificate)
        fingerprint = hashlib.sha256(pki.certificate_to_der(certificate)).hexdigest()
        centre = session.scalar(select(InspectionCentre).where(InspectionCentre.code == identity.centre_id))
        # The centre's name is its certificate's organisation ("郑州市特种设备检验所"); the common name
        # ("ZZTJ01 tag record signer") names the key, and is only a name for a centre without one.
        name = identity.name or _common_name(certificate)
        if centre is None:
            centre = InspectionCentre(code=identity.centre_id, name=name, active=True)
            session.add(centre)
            session.flush()
        elif centre.name == _common_name(certificate) and identity.name:
            centre.name = identity.name  # named after its key by an earlier registry version
        if session.scalar(select(CentreCertificate.id).where(CentreCertificate.fingerprint == fingerprint)) is None:
            session.add(
                CentreCertificate(
                    centre_id=centre.id,
                    fingerprint=fingerprint,
                    kid=pki.kid_of(certificate).hex(),
                    subject=certificate.subject.rfc4514_string()[:400],
                    not_before=certificate.not_valid_before_utc,
                    not_after=certificate.not_valid_after_utc,
                    pem=pki.certificate_to_pem(certificate).decode(),
                )
            )
    for cert in session.scalars(select(CentreCertificate).where(CentreCertificate.kid.in_(list(revoked)))):
        if cert.revoked_at is None:
            cert.revoked_at = revoked[cert.kid]


def _common_name(certificate: object) -> str:
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)  # type: ignore[attr-defined]
    return str(names[0].value)[:200] if names else "unnamed centre"


def current(session: Session) -> TrustListPublication | None:
    return session.scalar(select(TrustListPublication).order_by(TrustListPublication.id.desc()).limit(1))


def current_or_404(session: Session) -> TrustListPublication:
    row = current(session)
    if row is None:
        raise NotFound("the bureau has not published a trust list yet")
    return row


class TrustStoreCache:
    """One compiled TrustStore per node, rebuilt when a newer list is published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._store: TrustStore | None = None

    def store(self, session: Session, root_pem: bytes | None) -> TrustStore:
        row = current(session)
        if row is None:
            raise Conflict("no trust list has been published: records cannot be verified yet")
        with self._lock:
            if self._key != row.sha256 or self._store is None:
                self._store = TrustStore.load(load_root(root_pem), row.blob, REGISTRY_MAX_AGE)
                self._key = row.sha256
            return self._store
