"""NFC Forum Type 2 Tag memory: the capability container and the TLV blocks that hold NDEF.

Pure byte handling, no I/O, shared by the readers (to know how many pages to fetch), the writers
(to lay out a message) and verification (which accepts raw tag memory as well as a bare message).

Memory map (NFC Forum T2T 1.0, NXP NTAG213/215/216): 4-byte pages; pages 0-2 hold the 7-byte UID,
its check bytes and the static lock bytes; page 3 is the capability container (CC); the data area
starts at page 4 and holds TLV blocks.
"""

from dataclasses import dataclass

from tag_tools.errors import NoRecordError, RecordFormatError

PAGE_SIZE = 4
CC_PAGE = 3
DATA_AREA_OFFSET = 16  # page 4
CC_MAGIC = 0xE1

TLV_NULL = 0x00
TLV_LOCK_CONTROL = 0x01
TLV_MEMORY_CONTROL = 0x02
TLV_NDEF = 0x03
TLV_PROPRIETARY = 0xFD
TLV_TERMINATOR = 0xFE

# A single TLV of a Type 2 Tag cannot exceed the largest data area (NTAG216: 872 bytes); anything
# claiming more than this is corrupt, and refusing it early bounds the work done on hostile input.
MAX_TLV_VALUE = 0xFFFE


@dataclass(frozen=True)
class CapabilityContainer:
    """Page 3 of a Type 2 Tag."""

    major_version: int
    minor_version: int
    data_area_size: int
    read_access: int
    write_access: int

    @property
    def read_only(self) -> bool:
        """True when the CC says no write access (0x0F), as after permanent locking."""
        return self.write_access == 0x0F

    def to_bytes(self) -> bytes:
        return bytes(
            [
                CC_MAGIC,
                (self.major_version << 4) | self.minor_version,
                self.data_area_size // 8,
                (self.read_access << 4) | self.write_access,
            ]
        )


def parse_capability_container(page: bytes) -> CapabilityContainer:
    """Decode page 3; a tag without the NDEF magic number is not NDEF-formatted."""
    if len(page) < PAGE_SIZE:
        raise RecordFormatError("capability container is shorter than one page")
    if page[0] != CC_MAGIC:
        raise RecordFormatError(f"capability container magic is {page[0]:#04x}, not 0xe1: tag is not NDEF formatted")
    major = page[1] >> 4
    if major != 1:
        raise RecordFormatError(f"unsupported Type 2 Tag mapping version {major}.{page[1] & 0x0F}")
    return CapabilityContainer(
        major_version=major,
        minor_version=page[1] & 0x0F,
        data_area_size=page[2] * 8,
        read_access=page[3] >> 4,
        write_access=page[3] & 0x0F,
    )


@dataclass(frozen=True)
class TlvHeader:
    """Where one TLV block sits in the data area."""

    tag: int
    offset: int  # offset of the tag byte within the data area
    value_offset: int
    length: int

    @property
    def end(self) -> int:
        return self.value_offset + self.length


def _read_tlv_header(data: bytes, offset: int) -> TlvHeader | None:
    """The TLV at offset, or None when the header itself runs past the bytes available."""
    tag = data[offset]
    if tag in (TLV_NULL, TLV_TERMINATOR):
        return TlvHeader(tag, offset, offset + 1, 0)
    if offset + 1 >= len(data):
        return None
    if data[offset + 1] != 0xFF:
        return TlvHeader(tag, offset, offset + 2, data[offset + 1])
    if offset + 3 >= len(data):
        return None
    length = int.from_bytes(data[offset + 2 : offset + 4], "big")
    if length < 0xFF or length > MAX_TLV_VALUE:
        raise RecordFormatError(f"TLV at data offset {offset} has an invalid three-byte length {length}")
    return TlvHeader(tag, offset, offset + 4, length)


def locate_ndef_tlv(data_area: bytes) -> TlvHeader:
    """Find the first NDEF TLV header; its value may extend past the bytes given.

    Readers call this on the first pages they fetched, then read up to `header.end`.
    Raises RecordFormatError when there is no NDEF TLV, or when more bytes are needed to even
    see its header (the caller then reads more pages and asks again).
    """
    offset = 0
    while offset < len(data_area):
        header = _read_tlv_header(data_area, offset)
        if header is None:
            raise RecordFormatError("data area ends inside a TLV header")
        if header.tag == TLV_NDEF:
            return header
        if header.tag == TLV_TERMINATOR:
            break
        offset = header.end
    raise NoRecordError("no NDEF message on the tag")


def ndef_message_from_data_area(data_area: bytes) -> bytes:
    """The NDEF message held by the first NDEF TLV of a data area."""
    header = locate_ndef_tlv(data_area)
    if header.end > len(data_area):
        raise RecordFormatError(f"NDEF TLV claims {header.length} bytes but only {len(data_area) - header.value_offset} follow")
    return bytes(data_area[header.value_offset : header.end])


def ndef_message_from_memory(memory: bytes) -> bytes:
    """The NDEF message in a Type 2 Tag memory image that starts at page 0."""
    if len(memory) < DATA_AREA_OFFSET:
        raise RecordFormatError("tag memory image is shorter than the four header pages")
    cc = parse_capability_container(memory[CC_PAGE * PAGE_SIZE : (CC_PAGE + 1) * PAGE_SIZE])
    data_area = memory[DATA_AREA_OFFSET : DATA_AREA_OFFSET + cc.data_area_size]
    return ndef_message_from_data_area(data_area)


def ndef_tlv(message: bytes) -> bytes:
    """The NDEF TLV and a terminator TLV, as written to the start of the data area."""
    if len(message) < 0xFF:
        header = bytes([TLV_NDEF, len(message)])
    elif len(message) <= MAX_TLV_VALUE:
        header = bytes([TLV_NDEF, 0xFF]) + len(message).to_bytes(2, "big")
    else:
        raise RecordFormatError(f"an NDEF message of {len(message)} bytes does not fit a Type 2 Tag")
    return header + message + bytes([TLV_TERMINATOR])


def pages_for(length: int) -> int:
    """How many 4-byte pages hold `length` bytes."""
    return (length + PAGE_SIZE - 1) // PAGE_SIZE
