"""The one base error of list_signer and the typed refusals a client sees."""

from enum import StrEnum


class SignerError(Exception):
    """Base of every error raised on purpose by list_signer."""


class Refusal(StrEnum):
    """Why the signer did not sign: stable codes the registry can act on."""

    BAD_REQUEST = "bad-request"  # not a request of this protocol, or fields of the wrong type
    ROLLBACK = "rollback"  # sequence not above the last list signed
    CLEARED_REVOCATION = "cleared-revocation"  # an entry (or a centre revocation) would go back
    BAD_TIME = "bad-time"  # issue time far from the signer's clock, or validity too long
    SIGNER_UNUSABLE = "signer-unusable"  # its certificate expired, is revoked, or does not cover the list
    INVALID_LIST = "invalid-list"  # the list itself is not acceptable (format, foreign certificate)
    STATE_DAMAGED = "state-damaged"  # the last-signed state cannot be read: refuse rather than guess
    INTERNAL = "internal"


class RefusedError(SignerError):
    """The signer refused (server side: raised by the service; client side: the answer received)."""

    def __init__(self, code: Refusal, detail: str, index: int | None = None) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail
        self.index = index  # the first status entry that would be lowered, for CLEARED_REVOCATION


class ProtocolError(SignerError):
    """The bytes on the socket are not a message of this protocol (framing, size, CBOR)."""


class SignerUnavailable(SignerError, OSError):
    """The signer's socket cannot be reached or the connection broke."""


class SigningKeyError(SignerError):
    """The signing key cannot be loaded (file, passphrase, PKCS#11 token, PIN, label)."""
