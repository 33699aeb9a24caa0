"""The cylinder record as one NFC Forum external-type NDEF record (ndeflib; no I/O).

Type name: `urn:nfc:ext:gcyl.org:r` (NFC Forum RTD 1.0 external type "gcyl.org:r"); payload: the
COSE_Sign1 bytes. A tag holds exactly one such record; other records (a URL for humans, say) may sit
beside it and are ignored, but two cylinder records on one tag are refused as ambiguous.
"""

import io

import ndef

from tag_tools.errors import NoRecordError, RecordFormatError

RECORD_TYPE = "urn:nfc:ext:gcyl.org:r"
MAX_MESSAGE_SIZE = 1024  # more than any NTAG21x holds


def encode_message(cose_sign1: bytes) -> bytes:
    """An NDEF message with one cylinder record."""
    return b"".join(ndef.message_encoder([ndef.Record(RECORD_TYPE, "", cose_sign1)]))


def record_payload(message: bytes) -> bytes:
    """The COSE_Sign1 bytes of the one cylinder record in `message`.

    NoRecordError when the message is empty or holds no cylinder record; RecordFormatError when it
    is not a well-formed NDEF message or holds more than one.
    """
    if not message:
        raise NoRecordError("the tag holds no NDEF message")
    if len(message) > MAX_MESSAGE_SIZE:
        raise RecordFormatError(f"NDEF message of {len(message)} bytes is larger than any tag")
    try:
        # known_types={} keeps every record generic: we never run ndeflib's parsers for other
        # record types on bytes we do not need.
        stream = io.BytesIO(message)
        records = list(ndef.message_decoder(stream, errors="strict", known_types={}))
    except (ndef.DecodeError, ValueError, TypeError, IndexError, EOFError) as error:
        raise RecordFormatError(f"not a well-formed NDEF message: {error}") from error
    if stream.tell() != len(message):
        raise RecordFormatError(f"{len(message) - stream.tell()} bytes follow the end of the NDEF message")
    ours = [record for record in records if record.type == RECORD_TYPE]
    if not ours:
        raise NoRecordError("the NDEF message holds no cylinder record")
    if len(ours) > 1:
        raise RecordFormatError("the NDEF message holds more than one cylinder record")
    if ours[0].name:
        raise RecordFormatError("the cylinder record must not carry an NDEF record ID")
    return bytes(ours[0].data)
