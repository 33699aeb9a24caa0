"""NTAG21x / Type 2 Tag read and write logic above any transport.

Reads fetch only what the NDEF TLV needs: GET_VERSION, one FAST_READ of pages 0-7 (UID, lock
bytes, capability container, TLV header), one FAST_READ of the rest of the message, then
READ_SIG and READ_CNT. READ_CNT comes after the first read on purpose: the chip increments its
counter on the first READ/FAST_READ after power-on, so the value returned includes this tap.

Writes check the locks first, write the NDEF TLV with a zero length, then the body, then the real
length (NFC Forum T2T: an interrupted write leaves an empty message, not a truncated one), read
everything back, and lock the tag unless told not to.

`read_tag` and `write_tag` take a reader (wait for a tag, one session); `read_activated` and
`write_activated` work on a tag already activated (a Transport). They live here, not on the Reader,
so the transport layer never imports the protocol above it.
"""

from __future__ import annotations

import logging
import threading

from tag_tools import ntag
from tag_tools.chip_evidence import Originality
from tag_tools.errors import RecordFormatError
from tag_tools.ntag import ChipModel, nak_code
from tag_tools.readers.base import Reader, ReadOptions, TagRead, Transport, WriteResult
from tag_tools.readers.errors import (
    CommandNotSupported,
    MultipleTagsError,
    PartialWriteError,
    TagCommandError,
    TagFullError,
    TagLockedError,
    TagNotFormattedError,
    TagRemovedError,
)
from tag_tools.t2t_memory import (
    CC_PAGE,
    DATA_AREA_OFFSET,
    PAGE_SIZE,
    CapabilityContainer,
    locate_ndef_tlv,
    ndef_tlv,
    pages_for,
    parse_capability_container,
)

log = logging.getLogger(__name__)

HEAD_PAGES = 8  # pages 0-7: UID, locks, CC and the first 16 bytes of the data area


def get_version(transport: Transport) -> bytes | None:
    """GET_VERSION once per session (the backend may have asked during activation)."""
    if not transport.version_known:
        try:
            answer = transport.command(bytes([ntag.GET_VERSION]))
            transport.version = answer if len(answer) == 8 else None
        except CommandNotSupported:
            transport.version = None
        transport.version_known = True
    return transport.version


def read_pages(transport: Transport, start: int, count: int) -> bytes:
    """`count` pages from `start`, by FAST_READ where the reader allows it, else by READ."""
    out = bytearray()
    page, end = start, start + count
    while page < end:
        if transport.max_fast_read_pages > 0:
            last = min(end, page + transport.max_fast_read_pages) - 1
            try:
                answer = transport.command(bytes([ntag.FAST_READ, page, last]))
            except CommandNotSupported:
                log.info("FAST_READ not available here, falling back to READ")
                transport.max_fast_read_pages = 0
                continue
            code = nak_code(answer)
            if code is not None:
                raise TagCommandError(f"tag refused FAST_READ of pages {page}-{last} (NAK {code:#x})", nak=code)
            if len(answer) != (last - page + 1) * PAGE_SIZE:
                raise TagCommandError(f"FAST_READ of pages {page}-{last} returned {len(answer)} bytes")
            out += answer
            page = last + 1
        else:
            block = transport.read4(page)
            if len(block) != 16:
                raise TagCommandError(f"READ of page {page} returned {len(block)} bytes, not 16")
            take = min(ntag.READ_PAGES, end - page)
            out += block[: take * PAGE_SIZE]
            page += take
    return bytes(out)


def _check_uid(transport: Transport, head: bytes) -> None:
    stored = ntag.uid_from_memory(head)
    if len(transport.uid) == ntag.UID_LENGTH and stored != transport.uid:
        raise MultipleTagsError(
            f"tag memory holds UID {stored.hex()} but {transport.uid.hex()} answered the selection: "
            "two tags in the field, or a tampered tag; present one tag at a time"
        )


def _parse_cc(head: bytes) -> CapabilityContainer | None:
    try:
        return parse_capability_container(head[CC_PAGE * PAGE_SIZE : (CC_PAGE + 1) * PAGE_SIZE])
    except RecordFormatError:
        return None


def _data_area_size(cc: CapabilityContainer, chip: ChipModel | None) -> int:
    return min(cc.data_area_size, chip.user_bytes) if chip is not None else cc.data_area_size


def _chip_name(transport: Transport, version: bytes | None) -> str:
    if version is None and transport.raw_unavailable:
        return "unknown"  # the reader cannot send GET_VERSION: we do not know
    if version is None and transport.uid[:1] != b"\x04":
        return "other"  # no GET_VERSION and not NXP: not an Ultralight either
    return ntag.chip_name(version)


def _read_ndef(transport: Transport, head: bytes, data_area_size: int) -> bytes | None:
    """The NDEF message, fetching only the pages up to the end of the NDEF TLV."""
    data = bytearray(head[DATA_AREA_OFFSET:])
    while True:
        try:
            header = locate_ndef_tlv(bytes(data[:data_area_size]))
            break
        except RecordFormatError:
            if len(data) >= data_area_size:
                return None  # no NDEF TLV anywhere in the data area
            data += read_pages(transport, pages_for(DATA_AREA_OFFSET + len(data)), ntag.READ_PAGES)
    if header.end > data_area_size:
        log.warning("NDEF TLV claims %d bytes, past the data area of %d", header.length, data_area_size)
        return None
    have = pages_for(DATA_AREA_OFFSET + len(data))
    need = pages_for(DATA_AREA_OFFSET + header.end)
    if need > have:
        data += read_pages(transport, have, need - have)
    return bytes(data[header.value_offset : header.end])


def _optional_command(transport: Transport, frame: bytes, length: int) -> bytes | None:
    """A command whose absence is an answer (no signature, counter off): None instead of an error."""
    try:
        answer = transport.command(frame)
    except TagCommandError as error:  # CommandNotSupported, or a reader that reports the NAK as an error
        log.info("command %s not answered: %s", frame[:1].hex(), error)
        return None
    if nak_code(answer) is not None or len(answer) != length:
        return None
    return answer


def read_tag(
    reader: Reader, *, timeout: float | None = None, cancel: threading.Event | None = None, options: ReadOptions | None = None
) -> TagRead:
    """Wait for a tag on `reader` and read it in one session."""
    with reader.session(timeout, cancel) as transport:
        return read_activated(transport, options or ReadOptions())


def write_tag(
    reader: Reader,
    message: bytes,
    *,
    lock: bool = True,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
) -> WriteResult:
    """Wait for a tag on `reader`, write `message` with read-back verification, and lock it unless told not to."""
    with reader.session(timeout, cancel) as transport:
        return write_activated(transport, message, lock=lock)


def read_activated(transport: Transport, options: ReadOptions) -> TagRead:
    version = get_version(transport)
    chip = ntag.chip_for_version(version)
    if chip is None:
        transport.max_fast_read_pages = 0  # only NTAG21x is known to have FAST_READ
    head = read_pages(transport, 0, HEAD_PAGES)
    _check_uid(transport, head)
    cc = _parse_cc(head)
    message = None
    data_area_size = None
    if cc is not None:
        data_area_size = _data_area_size(cc, chip)
        message = _read_ndef(transport, head, data_area_size)
    signature = None
    if options.read_signature and version is not None:
        signature = _optional_command(transport, bytes([ntag.READ_SIG, 0x00]), ntag.SIGNATURE_LENGTH)
    originality = (
        ntag.check_originality(transport.uid, signature, options.originality_key)
        if signature is not None
        else Originality.NOT_AVAILABLE
    )
    counter = None
    if options.read_counter and chip is not None and chip.has_read_counter:
        answer = _optional_command(transport, bytes([ntag.READ_CNT, ntag.NFC_COUNTER_ADDRESS]), 3)
        counter = int.from_bytes(answer, "little") if answer is not None else None
    result = TagRead(
        uid=transport.uid,
        chip=_chip_name(transport, version),
        version=version,
        ndef_message=message,
        read_counter=counter,
        originality=originality,
        signature=signature,
        round_trips=transport.round_trips,
        read_only=cc.read_only if cc is not None else False,
        data_area_size=data_area_size,
    )
    log.info(
        "read %s (%s): %s bytes of NDEF in %d round trips",
        result.uid.hex(),
        result.chip,
        len(message) if message is not None else "no",
        result.round_trips,
    )
    return result


def _check_writable(head: bytes, cc: CapabilityContainer, chip: ChipModel | None, dyn: bytes | None, pages: range) -> None:
    if cc.write_access != 0:
        raise TagLockedError(f"tag is read-only (capability container write access {cc.write_access:#x})")
    for page in pages:
        if ntag.statically_locked(head[10], head[11], page):
            raise TagLockedError(f"page {page} is permanently locked (static lock bytes)")
        if chip is not None and dyn is not None and ntag.dynamically_locked(chip, dyn, page):
            raise TagLockedError(f"page {page} is permanently locked (dynamic lock bytes)")


def _write_sequence(tlv_pages: list[bytes]) -> list[tuple[int, bytes]]:
    """Page writes in a safe order: header with length 0, body, then the real header."""
    first = tlv_pages[0]
    empty_header = bytes([first[0], 0xFF, 0, 0]) if first[1] == 0xFF else bytes([first[0], 0]) + first[2:]
    start = DATA_AREA_OFFSET // PAGE_SIZE
    body = [(start + i, data) for i, data in enumerate(tlv_pages) if i > 0]
    return [(start, empty_header), *body, (start, first)]


def write_activated(transport: Transport, message: bytes, *, lock: bool) -> WriteResult:
    version = get_version(transport)
    chip = ntag.chip_for_version(version)
    if chip is None:
        transport.max_fast_read_pages = 0
    head = read_pages(transport, 0, 4)
    _check_uid(transport, head)
    cc = _parse_cc(head)
    if cc is None:
        raise TagNotFormattedError("tag has no NDEF capability container (page 3); format it first")
    config = read_pages(transport, chip.dynamic_lock_page, 3) if chip is not None else None
    capacity = _data_area_size(cc, chip)
    try:
        tlv = ndef_tlv(message)
    except RecordFormatError as error:
        raise TagFullError(f"NDEF message of {len(message)} bytes is too long for any Type 2 Tag", cause=error) from error
    if len(tlv) > capacity:
        raise TagFullError(f"NDEF message of {len(message)} bytes does not fit the tag's {capacity}-byte data area")
    padded = tlv + bytes(-len(tlv) % PAGE_SIZE)
    tlv_pages = [padded[i : i + PAGE_SIZE] for i in range(0, len(padded), PAGE_SIZE)]
    first_page = DATA_AREA_OFFSET // PAGE_SIZE
    _check_writable(head, cc, chip, config[:4] if config else None, range(first_page, first_page + len(tlv_pages)))

    total = len(tlv_pages)
    for step, (page, data) in enumerate(_write_sequence(tlv_pages)):
        try:
            transport.write_page(page, data)
        except (TagCommandError, TagRemovedError) as error:
            if step == 0:
                if isinstance(error, TagRemovedError):
                    raise
                raise TagLockedError(f"tag refused the first write (page {page}): {error}", cause=error) from error
            written = min(step, total)
            raise PartialWriteError(
                f"write stopped at page {page} after {written} of {total} pages ({error}); "
                "the tag now holds an empty or incomplete NDEF message: write it again",
                pages_written=written,
                pages_total=total,
                cause=error,
            ) from error
    readback = read_pages(transport, first_page, total)
    if readback != padded:
        bad = next(i for i in range(total) if readback[i * 4 : i * 4 + 4] != tlv_pages[i])
        raise PartialWriteError(
            f"read-back differs from what was written at page {first_page + bad}: write it again",
            pages_written=total,
            pages_total=total,
        )
    if lock:
        _lock(transport, head, chip, config, total)
    log.info("wrote %d pages to %s%s", total, transport.uid.hex(), " and locked it" if lock else "")
    return WriteResult(transport.uid, _chip_name(transport, version), total, lock, transport.round_trips)


def _lock(transport: Transport, head: bytes, chip: ChipModel | None, config: bytes | None, total: int) -> None:
    """Lock for good: counter on + config locked, dynamic locks, CC read-only, static locks (in that order:
    the static lock bits also lock the CC page, so the CC goes before them)."""
    steps: list[tuple[str, int, bytes]] = []
    if chip is not None and config is not None:
        access = config[8] | ntag.ACCESS_CFGLCK | ntag.ACCESS_NFC_CNT_EN
        steps.append(("configuration lock and NFC counter", chip.cfg1_page, bytes([access]) + config[9:12]))
        steps.append(("dynamic lock bytes", chip.dynamic_lock_page, chip.dynamic_lock_bytes_all()))
    cc = head[12:16]
    steps.append(("capability container", CC_PAGE, bytes(cc[:3]) + bytes([cc[3] | 0x0F])))
    steps.append(("static lock bytes", 2, b"\x00\x00\xff\xff"))
    for name, page, data in steps:
        try:
            transport.write_page(page, data)
        except (TagCommandError, TagRemovedError) as error:
            raise PartialWriteError(
                f"message written and verified, but locking stopped at the {name} (page {page}): {error}",
                pages_written=total,
                pages_total=total,
                cause=error,
            ) from error
