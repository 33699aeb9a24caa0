"""The cylinder record as one NFC Forum external-type NDEF record (no I/O).

Type: TNF 4 (NFC Forum external type) with type name `gcyl.org:r`, written `urn:nfc:ext:gcyl.org:r`
(RTD 1.0); payload: the COSE_Sign1 bytes. A record is the cylinder record when its TNF is 4 **and**
its type equals `gcyl.org:r` compared case-insensitively, as RTD 1.0 says external type names
compare. A record of another TNF whose type bytes look the same (a media type, an absolute URI
`urn:nfc:ext:gcyl.org:r`) is a look-alike: it is not the cylinder record and is ignored like any other
record beside it. Two cylinder records on one tag are refused as ambiguous, and so is a chunked
cylinder record (the record is small enough for one NTAG21x record; reassembling chunks would only
add ways to smuggle bytes). Chunked records of other types must still be well formed and are ignored.

Messages are decoded here, not by ndeflib, because ndeflib's decoder reports neither the TNF (it folds
it into a type string that a TNF 3 URI can imitate) nor the chunk flag. Encoding still uses ndeflib.
"""

from dataclasses import dataclass

import ndef

from tag_tools.errors import NoRecordError, RecordFormatError

RECORD_TYPE = "urn:nfc:ext:gcyl.org:r"
TNF_EXTERNAL = 0x04
EXTERNAL_TYPE = b"gcyl.org:r"  # the TYPE field: RECORD_TYPE without ndeflib's "urn:nfc:ext:" prefix
MAX_MESSAGE_SIZE = 1024  # more than any NTAG21x holds

# Header flags of NFC Forum NDEF 1.0, section 3.2.
_MB, _ME, _CF, _SR, _IL = 0x80, 0x40, 0x20, 0x10, 0x08
_TNF_MASK = 0x07
_TNF_EMPTY, _TNF_UNKNOWN, _TNF_UNCHANGED, _TNF_RESERVED = 0x00, 0x05, 0x06, 0x07


@dataclass(frozen=True)
class NdefRecord:
    """One logical NDEF record: a lone record, or a chunked one (its chunks' payloads joined)."""

    tnf: int
    type: bytes
    record_id: bytes
    payload: bytes
    chunked: bool = False

    @property
    def is_cylinder_record(self) -> bool:
        """TNF 4 and the external type name, compared case-insensitively (NFC Forum RTD 1.0, 2.4)."""
        return self.tnf == TNF_EXTERNAL and self.type.lower() == EXTERNAL_TYPE


def encode_message(cose_sign1: bytes) -> bytes:
    """An NDEF message with one cylinder record."""
    return b"".join(ndef.message_encoder([ndef.Record(RECORD_TYPE, "", cose_sign1)]))


def record_payload(message: bytes) -> bytes:
    """The COSE_Sign1 bytes of the one cylinder record in `message`.

    NoRecordError when the message is empty or holds no cylinder record (look-alikes do not count);
    RecordFormatError when it is not a well-formed NDEF message, holds more than one cylinder record,
    or its cylinder record is chunked or carries a record ID.
    """
    if not message:
        raise NoRecordError("the tag holds no NDEF message")
    ours = [record for record in decode_message(message) if record.is_cylinder_record]
    if not ours:
        raise NoRecordError("the NDEF message holds no cylinder record")
    if len(ours) > 1:
        raise RecordFormatError("the NDEF message holds more than one cylinder record (ambiguous)")
    if ours[0].chunked:
        raise RecordFormatError("the cylinder record must not be chunked")
    if ours[0].record_id:
        raise RecordFormatError("the cylinder record must not carry an NDEF record ID")
    return ours[0].payload


def decode_message(message: bytes) -> list[NdefRecord]:
    """Every logical record of a well-formed NDEF message; RecordFormatError otherwise.

    Well formed (NDEF 1.0): MB on the first record only, ME on the last only and nothing after it,
    TNF 0-6, the type/ID/payload lengths each TNF allows, chunks that begin with a typed chunk and
    continue with TNF 6 (unchanged) chunks without type or ID, the last chunk without CF.
    """
    if len(message) > MAX_MESSAGE_SIZE:
        raise RecordFormatError(f"NDEF message of {len(message)} bytes is larger than any tag")
    records: list[NdefRecord] = []
    chunks: list[tuple[int, bytes, bytes, bytes]] = []  # the chunked record being assembled
    position, first = 0, True
    while True:
        if position >= len(message):
            raise RecordFormatError("not a well-formed NDEF message: it ends before a record with ME")
        header, position = _header(message, position)
        flags, tnf, type_, record_id, payload = header
        if bool(flags & _MB) is not first:
            raise RecordFormatError("not a well-formed NDEF message: MB must be set on the first record only")
        first = False
        _check_tnf(tnf, type_, record_id, payload)
        continuing = bool(chunks)
        if continuing != (tnf == _TNF_UNCHANGED):
            raise RecordFormatError(
                "not a well-formed NDEF message: TNF 6 (unchanged) must mark, and only mark, a following chunk"
            )
        if continuing and (type_ or record_id):
            raise RecordFormatError("not a well-formed NDEF message: a following chunk carries a type or an ID")
        if flags & _CF or continuing:
            chunks.append((tnf, type_, record_id, payload))
            if not flags & _CF:  # the terminating chunk
                head = chunks[0]
                records.append(NdefRecord(head[0], head[1], head[2], b"".join(c[3] for c in chunks), chunked=True))
                chunks = []
        else:
            records.append(NdefRecord(tnf, type_, record_id, payload))
        if flags & _ME:
            if flags & _CF:
                raise RecordFormatError("not a well-formed NDEF message: CF set on the last record")
            break
    if position != len(message):
        raise RecordFormatError(f"not a well-formed NDEF message: {len(message) - position} bytes follow its end")
    return records


def _header(message: bytes, position: int) -> tuple[tuple[int, int, bytes, bytes, bytes], int]:
    """One record's (flags, TNF, type, ID, payload) and the position after it."""
    flags = message[position]
    length_size = 1 if flags & _SR else 4
    fixed = 2 + length_size + (1 if flags & _IL else 0)
    if position + fixed > len(message):
        raise RecordFormatError("not a well-formed NDEF message: a record header is cut short")
    type_length = message[position + 1]
    payload_length = int.from_bytes(message[position + 2 : position + 2 + length_size], "big")
    id_length = message[position + 2 + length_size] if flags & _IL else 0
    start = position + fixed
    end = start + type_length + id_length + payload_length
    if end > len(message):
        raise RecordFormatError("not a well-formed NDEF message: a record is longer than the message")
    type_ = message[start : start + type_length]
    record_id = message[start + type_length : start + type_length + id_length]
    payload = message[start + type_length + id_length : end]
    return (flags, flags & _TNF_MASK, type_, record_id, payload), end


def _check_tnf(tnf: int, type_: bytes, record_id: bytes, payload: bytes) -> None:
    if tnf == _TNF_RESERVED:
        raise RecordFormatError("not a well-formed NDEF message: TNF 7 is reserved")
    if tnf in (_TNF_EMPTY, _TNF_UNKNOWN, _TNF_UNCHANGED) and type_:
        raise RecordFormatError(f"not a well-formed NDEF message: TNF {tnf} must have no type")
    if tnf == _TNF_EMPTY and (record_id or payload):
        raise RecordFormatError("not a well-formed NDEF message: an empty record (TNF 0) must have no ID or payload")
    if tnf not in (_TNF_EMPTY, _TNF_UNKNOWN, _TNF_UNCHANGED) and not type_:
        raise RecordFormatError(f"not a well-formed NDEF message: TNF {tnf} needs a type")
