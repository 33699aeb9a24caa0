"""Signing a cylinder record, and decoding one for display without trusting it.

The chain is: claims (CBOR map) -> COSE_Sign1 by the centre's key -> one NDEF record -> the NDEF
TLV on the tag. Signing refuses what a station would refuse as malformed, so a centre cannot
write a tag that no station accepts.
"""

from dataclasses import dataclass

from cryptography import x509

from tag_tools import cbor_codec, cose, crypto, ndef_record, pki, t2t_memory
from tag_tools.claims import CylinderRecord
from tag_tools.errors import InputError


def sign_record(record: CylinderRecord, key: crypto.PrivateKey, certificate: x509.Certificate) -> bytes:
    """The NDEF message to write onto the tag whose UID the record names."""
    record.check_consistency()
    identity = pki.centre_identity(certificate)
    if identity.centre_id != record.centre_id:
        raise InputError(f"record names centre {record.centre_id!r} but the certificate is for {identity.centre_id!r}")
    if not (certificate.not_valid_before_utc <= record.issued_at <= certificate.not_valid_after_utc):
        raise InputError("the signing certificate is not valid at the record's issue time")
    if crypto.public_key_der(key.public_key()) != crypto.public_key_der(certificate.public_key()):  # type: ignore[arg-type]
        raise InputError("the private key does not belong to the signing certificate")
    payload = cbor_codec.encode(record.to_cbor_map())
    # Decode what we just encoded with the reader's rules: a record we would refuse is never written.
    CylinderRecord.from_cbor_map(cbor_codec.decode(payload, "claims"))
    return ndef_record.encode_message(cose.sign1(payload, key, pki.kid_of(certificate)))


@dataclass(frozen=True)
class UnverifiedRecord:
    """What a record says, before anyone checked who said it. For display and diagnosis only."""

    envelope: cose.Sign1
    record: CylinderRecord


def decode_unverified(message: bytes) -> UnverifiedRecord:
    """Decode an NDEF message without verifying it; RecordFormatError if it is not well formed."""
    envelope = cose.parse_sign1(ndef_record.record_payload(message))
    return UnverifiedRecord(envelope, CylinderRecord.from_cbor_map(cbor_codec.decode(envelope.payload, "claims")))


def size_on_tag(message: bytes) -> int:
    """Bytes the message occupies in the data area: NDEF TLV and terminator included."""
    return len(t2t_memory.ndef_tlv(message))
