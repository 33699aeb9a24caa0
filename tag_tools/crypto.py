"""The one module that touches cryptography's hazmat layer: key types, signing, verifying.

Ed25519 is the default (small, fast, no nonce pitfalls); ES256 (ECDSA P-256 with SHA-256) is
accepted because some inspection centres' HSMs only do P-256. The COSE algorithm follows from the
key type: nothing else chooses an algorithm, so there is no knob to get wrong.
"""

from enum import IntEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from tag_tools.errors import KeyStoreError, SignatureError

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

SIGNATURE_SIZE = 64  # both algorithms: Ed25519, and ES256 as r || s of 32 bytes each


class Algorithm(IntEnum):
    """COSE algorithm identifiers (IANA COSE registry)."""

    EDDSA = -8
    ES256 = -7

    @classmethod
    def from_name(cls, name: str) -> "Algorithm":
        normalised = name.strip().lower()
        if normalised in ("ed25519", "eddsa"):
            return cls.EDDSA
        if normalised in ("es256", "p-256", "p256"):
            return cls.ES256
        raise KeyStoreError(f"unknown key algorithm {name!r} (use ed25519 or es256)")


def generate_private_key(algorithm: Algorithm = Algorithm.EDDSA) -> PrivateKey:
    if algorithm is Algorithm.EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    """The COSE algorithm a key signs with; other key types are refused."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return Algorithm.EDDSA
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return Algorithm.ES256
    raise SignatureError(f"unsupported key type {type(key).__name__}: only Ed25519 and ECDSA P-256")


def sign(key: PrivateKey, data: bytes) -> bytes:
    """A 64-byte signature in COSE form."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    algorithm_of(key)  # refuses curves other than P-256
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(key: PublicKey, algorithm: int, signature: bytes, data: bytes) -> None:
    """Raise SignatureError unless `signature` is valid for `data` under `key` with `algorithm`."""
    if algorithm != algorithm_of(key):
        raise SignatureError(f"record says algorithm {algorithm}, but the signer's key is for {algorithm_of(key)}")
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"signature is {len(signature)} bytes, expected {SIGNATURE_SIZE}")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("signature does not verify") from None


def public_key_of(key: PrivateKey) -> PublicKey:
    return key.public_key()


def private_key_to_encrypted_pkcs8(key: PrivateKey, passphrase: bytes) -> bytes:
    """PEM PKCS#8, encrypted with the best scheme the installed OpenSSL offers."""
    if not passphrase:
        raise KeyStoreError("refusing to store a private key with an empty passphrase")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def private_key_from_encrypted_pkcs8(pem: bytes, passphrase: bytes) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError as error:  # no password given for an encrypted key, or one for a plain key
        raise KeyStoreError("key file is not an encrypted PKCS#8 key") from error
    except ValueError as error:  # wrong passphrase or corrupt file: OpenSSL cannot tell them apart
        raise KeyStoreError("cannot decrypt the key: wrong passphrase or damaged file") from error
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"unsupported key type {type(key).__name__}")
    algorithm_of(key)
    return key


def public_key_der(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
