"""The trust chain of the story: the bureau's root CA (a real CaStore folder), the centre it
certifies, the trust list it signs, and one centre nobody certified (the "unknown" cylinder).

The CA and the centre are back-dated a few years so records can be signed on their inspection
day, as a centre really does, even for the cylinders that are overdue today.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from tag_tools import crypto, pki
from tag_tools.ca_store import CaStore
from tag_tools.claims import CylinderRecord
from tag_tools.keys import PassphraseSource, write_private_key, write_public_file
from tag_tools.record import sign_record

ROOT_PASSPHRASE_ENV = "CYLINDER_DEMO_ROOT_PASSPHRASE"
CENTRE_ID, CENTRE_REGION, CENTRE_NAME = "ZZTJ01", "410105", "郑州市特种设备检验所"
ROGUE_ID, ROGUE_REGION, ROGUE_NAME = "HNXX09", "410100", "未获认可的检验机构"
YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Signer:
    """A centre's signing key with its certificate: what writes records onto tags."""

    centre_id: str
    key: crypto.PrivateKey
    certificate: x509.Certificate

    def sign(self, record: CylinderRecord) -> bytes:
        return sign_record(record, self.key, self.certificate)


@dataclass(frozen=True)
class Bureau:
    root_pem: bytes
    root_path: Path
    trust_list: bytes
    trust_list_path: Path
    centre: Signer
    rogue: Signer  # certified by a root no station trusts


def _centre_csr(key: crypto.PrivateKey, centre_id: str, region: str, name: str) -> x509.CertificateSigningRequest:
    return pki.create_centre_csr(key, centre_id, region, name)


def create_bureau(folder: Path, now: datetime) -> Bureau:
    """Root CA on disk (key encrypted), a certified centre, a trust list valid for 30 days."""
    os.environ.setdefault(ROOT_PASSPHRASE_ENV, secrets.token_urlsafe(24))
    passphrase = PassphraseSource(env=ROOT_PASSPHRASE_ENV, prompt_label="demo bureau root key")
    store = CaStore(folder / "bureau-ca")
    store.directory.mkdir(parents=True)
    store.init("郑州市市场监督管理局 气瓶标签根证书 (demo)", passphrase.read(), now - 5 * YEAR, valid_days=20 * 365)

    centre_folder = folder / "centre"
    centre_folder.mkdir()
    centre_key = crypto.generate_private_key()
    csr = _centre_csr(centre_key, CENTRE_ID, CENTRE_REGION, CENTRE_NAME)
    certificate = store.issue(csr, passphrase, now - 4 * YEAR, valid_days=5 * 365)
    write_private_key(centre_folder / "centre-key.pem", centre_key, passphrase.read())
    write_public_file(centre_folder / "centre-cert.pem", pki.certificate_to_pem(certificate))

    trust_list, _ = store.build_trust_list(passphrase, now, valid_for=timedelta(days=30))
    trust_list_path = folder / "trust-list.cose"
    write_public_file(trust_list_path, trust_list)

    rogue_root_key = crypto.generate_private_key()
    rogue_root = pki.create_root(rogue_root_key, "Unrecognised issuer (demo)", now - YEAR)
    rogue_key = crypto.generate_private_key()
    rogue_cert = pki.issue_centre_certificate(
        _centre_csr(rogue_key, ROGUE_ID, ROGUE_REGION, ROGUE_NAME), rogue_root, rogue_root_key, now - YEAR
    )
    return Bureau(
        root_pem=pki.certificate_to_pem(store.root_certificate()),
        root_path=store.root_certificate_path,
        trust_list=trust_list,
        trust_list_path=trust_list_path,
        centre=Signer(CENTRE_ID, centre_key, certificate),
        rogue=Signer(ROGUE_ID, rogue_key, rogue_cert),
    )
