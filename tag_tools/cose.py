"""COSE_Sign1 (RFC 9052) envelopes, built with cbor2 and cryptography.

Why not a COSE library: the envelope is four fields and a 4-element Sig_structure, and we need
control that libraries do not give: strict deterministic decoding of hostile bytes within a size
bound, a fixed header profile (alg and kid protected, nothing unprotected), and speed (verification
must cost little more than the signature itself). pycose 1.1 breaks with cbor2 6; `cwt` adds a JWK
layer we do not use. The profile here is what the EU Digital COVID Certificate used.

Profile: tag 18; protected header {1: alg, 4: kid} with kid = first 8 bytes of SHA-256 over the
signer's DER certificate; unprotected header empty; payload embedded; external_aad empty.

Lists only (trust lists, never tag records, whose every byte counts on an NTAG215) may add
x5chain (33, RFC 9360) to the protected header: the list signer's DER certificate, so a station
that pins only the root can verify a list signed by a key the root certified. It is protected, so
the signature covers it; the kid must still be that certificate's kid. A reader that does not ask
for it (`allow_x5chain=False`, the default) refuses it like any other header.
"""

from dataclasses import dataclass

import cbor2

from tag_tools import cbor_codec, crypto
from tag_tools.errors import RecordFormatError

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4
HEADER_X5CHAIN = 33
KID_SIZE = 8
MAX_CHAIN = 2  # the signer's certificate, optionally followed by the root's; never a longer path


@dataclass(frozen=True)
class Sign1:
    """A parsed but not yet verified COSE_Sign1."""

    protected: bytes  # the serialized protected header, exactly as signed
    algorithm: int
    kid: bytes
    payload: bytes
    signature: bytes
    x5chain: tuple[bytes, ...] = ()  # DER certificates, the signer's first; only when allowed

    def to_be_signed(self) -> bytes:
        return _sig_structure(self.protected, self.payload)

    def verify(self, key: crypto.PublicKey) -> None:
        """Raise SignatureError unless the signature is valid under `key`."""
        crypto.verify(key, self.algorithm, self.signature, self.to_be_signed())


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor_codec.encode(["Signature1", protected, b"", payload])


def sign1(payload: bytes, key: crypto.PrivateKey, kid: bytes, x5chain: tuple[bytes, ...] = ()) -> bytes:
    """Serialize a tagged COSE_Sign1 over `payload`, with `x5chain` in the protected header if given."""
    if len(kid) != KID_SIZE:
        raise ValueError(f"kid must be {KID_SIZE} bytes")
    if len(x5chain) > MAX_CHAIN:
        raise ValueError(f"x5chain holds at most {MAX_CHAIN} certificates")
    header: dict[int, object] = {HEADER_ALG: int(crypto.algorithm_of(key)), HEADER_KID: kid}
    if x5chain:
        # RFC 9360: a single certificate is a bstr, a chain an array of them.
        header[HEADER_X5CHAIN] = x5chain[0] if len(x5chain) == 1 else list(x5chain)
    protected = cbor_codec.encode(header)
    signature = crypto.sign(key, _sig_structure(protected, payload))
    return cbor_codec.encode(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def parse_sign1(data: bytes, max_size: int = cbor_codec.MAX_ENCODED_SIZE, *, allow_x5chain: bool = False) -> Sign1:
    """Parse a COSE_Sign1 of our profile; RecordFormatError for anything else.

    `allow_x5chain` admits a protected x5chain (lists); it does not check the certificates, which
    is the caller's business (tag_tools.trustlist)."""
    item = cbor_codec.decode(data, "COSE_Sign1", max_size)
    if not isinstance(item, cbor2.CBORTag) or item.tag != COSE_SIGN1_TAG:
        raise RecordFormatError("record is not a tagged COSE_Sign1 (CBOR tag 18)")
    body = item.value
    # cbor2 6 decodes what a tag holds as immutable (a tuple); cbor2 5 as a list.
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise RecordFormatError("COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = body
    if type(protected) is not bytes or type(payload) is not bytes or type(signature) is not bytes:
        raise RecordFormatError("COSE_Sign1 protected header, payload and signature must be byte strings")
    if unprotected != {}:
        raise RecordFormatError("COSE_Sign1 unprotected header must be empty")
    if len(signature) != crypto.SIGNATURE_SIZE:
        raise RecordFormatError(f"signature is {len(signature)} bytes, expected {crypto.SIGNATURE_SIZE}")
    header = cbor_codec.decode(protected, "protected header", max_size)
    allowed = (
        ({HEADER_ALG, HEADER_KID}, {HEADER_ALG, HEADER_KID, HEADER_X5CHAIN}) if allow_x5chain else ({HEADER_ALG, HEADER_KID},)
    )
    if not isinstance(header, dict) or set(header) not in allowed:
        raise RecordFormatError(
            "protected header must hold exactly alg (1) and kid (4)" + (", and may hold x5chain (33)" if allow_x5chain else "")
        )
    algorithm, kid = header[HEADER_ALG], header[HEADER_KID]
    if type(algorithm) is not int or algorithm not in (crypto.Algorithm.EDDSA, crypto.Algorithm.ES256):
        raise RecordFormatError(f"unsupported signature algorithm {algorithm!r} (EdDSA -8 or ES256 -7)")
    if type(kid) is not bytes or len(kid) != KID_SIZE:
        raise RecordFormatError(f"kid must be {KID_SIZE} bytes")
    chain = _x5chain_from(header[HEADER_X5CHAIN]) if HEADER_X5CHAIN in header else ()
    return Sign1(protected=protected, algorithm=algorithm, kid=kid, payload=payload, signature=signature, x5chain=chain)


def _x5chain_from(value: object) -> tuple[bytes, ...]:
    chain = [value] if type(value) is bytes else value
    if not isinstance(chain, list) or not 1 <= len(chain) <= MAX_CHAIN or any(type(c) is not bytes or not c for c in chain):
        raise RecordFormatError(f"x5chain must be one DER certificate or an array of 1..{MAX_CHAIN}")
    return tuple(chain)
