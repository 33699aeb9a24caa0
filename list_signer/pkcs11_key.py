"""A signing key held in an HSM, reached through PKCS#11 (python-pkcs11), that the rest of the code
uses like a `cryptography` private key.

tag_tools signs through `crypto.sign(key, data)`, which accepts only `cryptography`'s Ed25519 and
P-256 key types. Rather than teach every signing path about HSMs, these adapters subclass those
abstract types: `sign` goes to the token (CKM_EDDSA, or CKM_ECDSA over a SHA-256 digest computed
here, because SoftHSM 2.6 and many HSMs lack CKM_ECDSA_SHA256), `public_key` is read from the
token once, and everything that would export the private key refuses.

Tested against SoftHSM2 (tests/list_signer/test_pkcs11.py).
"""

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from list_signer.errors import SigningKeyError
from tag_tools import crypto

Buffer = bytes | bytearray | memoryview
P256_OID = "1.2.840.10045.3.1.7"  # secp256r1 / prime256v1
ED25519_OID = "1.3.101.112"


@dataclass(frozen=True)
class Pkcs11Location:
    """Where the key lives: the module (the vendor's .so), the token's label, the key's label, and
    the file holding the user PIN (never a command-line argument: those show in `ps`)."""

    module: Path
    token_label: str
    key_label: str
    pin_file: Path

    def pin(self) -> str:
        try:
            pin = self.pin_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise SigningKeyError(f"cannot read PIN file {self.pin_file}: {error.strerror}") from None
        if not pin:
            raise SigningKeyError(f"PIN file {self.pin_file} is empty")
        return pin


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise SigningKeyError("PKCS#11 needs the python-pkcs11 package: pip install 'cylinder-guard[signer]'") from None
    return pkcs11


def open_session(location: Pkcs11Location) -> Any:
    """A logged-in read-write session on the token (kept open for the signer's lifetime)."""
    pkcs11 = _pkcs11()
    try:
        token = pkcs11.lib(str(location.module)).get_token(token_label=location.token_label)
        return token.open(user_pin=location.pin(), rw=True)
    except pkcs11.exceptions.PKCS11Error as error:
        raise SigningKeyError(
            f"cannot open token {location.token_label!r} in {location.module}: {type(error).__name__}"
        ) from None
    except (OSError, RuntimeError) as error:
        raise SigningKeyError(f"cannot load PKCS#11 module {location.module}: {error}") from None


def generate_key(location: Pkcs11Location, algorithm: crypto.Algorithm) -> crypto.PrivateKey:
    """Generate a non-extractable key pair on the token under `key_label`; refuse if the label exists."""
    pkcs11 = _pkcs11()
    from pkcs11.util.ec import encode_named_curve_parameters

    session = open_session(location)
    if list(
        session.get_objects({pkcs11.Attribute.LABEL: location.key_label, pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY})
    ):
        raise SigningKeyError(f"token {location.token_label!r} already holds a key labelled {location.key_label!r}")
    key_type, curve = (
        (pkcs11.KeyType.EC_EDWARDS, ED25519_OID) if algorithm is crypto.Algorithm.EDDSA else (pkcs11.KeyType.EC, P256_OID)
    )
    try:
        parameters = session.create_domain_parameters(
            key_type, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
        )
        parameters.generate_keypair(
            store=True,
            label=location.key_label,
            private_template={pkcs11.Attribute.SENSITIVE: True, pkcs11.Attribute.EXTRACTABLE: False},
        )
    except pkcs11.exceptions.PKCS11Error as error:
        raise SigningKeyError(f"the token cannot generate a {algorithm.name} key: {type(error).__name__}") from None
    return _adapter(session, location)


def load_key(location: Pkcs11Location) -> crypto.PrivateKey:
    """The key pair labelled `key_label` on the token, as an Ed25519 or P-256 private key object."""
    return _adapter(open_session(location), location)


def _adapter(session: Any, location: Pkcs11Location) -> crypto.PrivateKey:
    pkcs11 = _pkcs11()
    try:
        private = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=location.key_label)
        public = session.get_key(object_class=pkcs11.ObjectClass.PUBLIC_KEY, label=location.key_label)
        point = _point(bytes(public[pkcs11.Attribute.EC_POINT]))
    except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned) as error:
        raise SigningKeyError(f"token {location.token_label!r} has no single key pair labelled {location.key_label!r}") from error
    except pkcs11.exceptions.PKCS11Error as error:
        raise SigningKeyError(f"cannot read key {location.key_label!r}: {type(error).__name__}") from None
    lock = threading.Lock()  # one PKCS#11 session: one operation at a time
    if private.key_type == pkcs11.KeyType.EC_EDWARDS:
        return HsmEd25519Key(private, ed25519.Ed25519PublicKey.from_public_bytes(point), lock)
    if private.key_type == pkcs11.KeyType.EC:
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError as error:
            raise SigningKeyError(f"key {location.key_label!r} is not a P-256 key") from error
        return HsmP256Key(private, public_key, lock)
    raise SigningKeyError(f"key {location.key_label!r} is neither Ed25519 nor P-256")


def _point(encoded: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point in PKCS#11 2.40; some tokens give it raw."""
    if len(encoded) >= 2 and encoded[0] == 0x04 and encoded[1] == len(encoded) - 2 and len(encoded) in (34, 67):
        return encoded[2:]
    if len(encoded) == 68 and encoded[:2] == b"\x04\x41":  # 65-byte P-256 point, short DER form
        return encoded[2:]
    return encoded


def _refuse_export(*_: object, **__: object) -> NoReturn:
    raise SigningKeyError("an HSM key cannot be exported")


class HsmEd25519Key(ed25519.Ed25519PrivateKey):
    def __init__(self, private: Any, public: ed25519.Ed25519PublicKey, lock: threading.Lock) -> None:
        self._private, self._public, self._lock = private, public, lock

    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self._public

    def sign(self, data: Buffer) -> bytes:
        pkcs11 = _pkcs11()
        with self._lock:
            return bytes(self._private.sign(bytes(data), mechanism=pkcs11.Mechanism.EDDSA))

    private_bytes = _refuse_export
    private_bytes_raw = _refuse_export

    def __copy__(self) -> "HsmEd25519Key":
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> "HsmEd25519Key":
        return self


class HsmP256Key(ec.EllipticCurvePrivateKey):
    def __init__(self, private: Any, public: ec.EllipticCurvePublicKey, lock: threading.Lock) -> None:
        self._private, self._public, self._lock = private, public, lock

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def sign(self, data: Buffer, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        """DER ECDSA over SHA-256(data), as `cryptography` returns it (crypto.sign re-encodes it)."""
        if not (isinstance(signature_algorithm, ec.ECDSA) and isinstance(signature_algorithm.algorithm, hashes.SHA256)):
            raise SigningKeyError("the HSM key signs ECDSA with SHA-256 only")
        pkcs11 = _pkcs11()
        with self._lock:
            raw = bytes(self._private.sign(hashlib.sha256(bytes(data)).digest(), mechanism=pkcs11.Mechanism.ECDSA))
        return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise SigningKeyError("the list signer's key only signs")

    private_bytes = _refuse_export
    private_numbers = _refuse_export

    def __copy__(self) -> "HsmP256Key":
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> "HsmP256Key":
        return self


def public_key_pem(key: crypto.PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
