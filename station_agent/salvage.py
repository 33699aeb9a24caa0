"""`station-agent outbox salvage DAMAGED NEW`: recover the events of a damaged outbox.

Debian 12's sqlite3 (3.40.1) cannot do it: its `.recover` needs the sqlite_dbpage table, which
Debian's libsqlite3 is built without, so it prints "SQL logic error" and recovers nothing from any
file, damaged or not; and merely opening the file with sqlite3 checkpoints and empties the -wal,
where the outbox keeps its newest events (wal_autocheckpoint=0). So this module reads both files
itself, at the page level, and never writes to them.

File format (https://www.sqlite.org/fileformat2.html): the database is an array of pages; table
b-tree leaf pages (type 0x0D) hold cells (payload length, rowid, record); a payload too large for
its page continues on a chain of overflow pages. The -wal is a 32-byte header and frames of a
24-byte header plus one page; a frame counts when its salts match the header, its checksum holds
and its transaction reached a commit frame. Every version of every page is decoded, not only the
newest: rows are merged per event id by state, which only moves forward (unsent -> quarantined ->
rejected -> sent), so the most advanced version seen is the truth and a lost later version can
only make an event look unsent (it is then uploaded again and the registry ignores the duplicate).
Fill times and saved trust data are not salvaged: the agent downloads the trust data again.
"""

from __future__ import annotations

import argparse
import json
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station_agent.errors import OutboxError
from station_agent.fault_report import FaultReportError, fault_report, is_uuid, parse_fault_report
from station_agent.outbox import Outbox, StoredEvent

log = logging.getLogger(__name__)

_WAL_MAGIC = {0x377F0682: "<", 0x377F0683: ">"}  # checksum word order: little- or big-endian
_WAL_HEADER, _FRAME_HEADER = 32, 24
_PAGE_SIZES = tuple(1 << n for n in range(9, 17))
_MAX_PAYLOAD = 64 * 1024 * 1024  # no outbox row comes near this; a larger length is damage


class SalvageError(OutboxError):
    """Salvage cannot start: the damaged outbox is missing, or the new file already exists."""


@dataclass(frozen=True)
class SalvageResult:
    page_size: int
    pages_read: int  # page images decoded: every database page plus every WAL frame used
    wal_frames_used: int
    unreadable_pages: int  # images neither a b-tree page nor part of an overflow chain (damaged, zeroed, free)
    damaged_cells: int  # cells on table leaf pages that did not decode
    rows_recovered: int  # distinct events written to the new outbox
    unsent_recovered: int
    reports_recovered: int


@dataclass(frozen=True)
class _Image:
    pgno: int
    data: bytes
    position: int  # 0: the database file; n: the n-th WAL frame used
    snapshot: int  # the position whose overflow pages belong with this image (its commit frame)


@dataclass
class _Pages:
    """All page versions, looked up as of a position so a cell meets its own overflow pages."""

    size: int
    usable: int
    versions: dict[int, list[_Image]] = field(default_factory=dict)
    overflow_used: set[tuple[int, int]] = field(default_factory=set)

    def add(self, image: _Image) -> None:
        self.versions.setdefault(image.pgno, []).append(image)

    def at(self, pgno: int, snapshot: int) -> _Image | None:
        found = None
        for image in self.versions.get(pgno, ()):
            if image.position <= snapshot:
                found = image
        return found


def salvage(damaged: Path, target: Path, *, at: datetime | None = None) -> SalvageResult:
    """Write every event that can be read from `damaged` (and its -wal) into a new outbox `target`."""
    wal_path = damaged.with_name(damaged.name + "-wal")
    if target.exists() or target.with_name(target.name + "-wal").exists():
        raise SalvageError(f"salvage: {target} already exists; name a new file")
    try:
        database = damaged.read_bytes() if damaged.exists() else b""
        wal = wal_path.read_bytes() if wal_path.exists() else b""
    except OSError as error:
        raise SalvageError(f"salvage: cannot read {damaged}: {error}") from error
    if not database and not wal:
        raise SalvageError(f"salvage: neither {damaged} nor {wal_path} holds anything to salvage")
    found = _extract_best(database, wal)
    rows = [entry[3] for entry in sorted(found.events.values(), key=lambda e: (e[2], e[3].event_id))]
    outbox = Outbox(target)
    try:
        added = outbox.import_events(rows)
        restored = _restore_reports(outbox, list(found.reports.values()))
        when = datetime.now(UTC) if at is None else at
        outbox.add_report(
            fault_report(
                "station_fault",
                "outbox_salvaged",
                f"outbox {damaged.name} was damaged; salvaged {added} events ({_unsent(rows)} unsent) and {restored} "
                f"reports; {found.unreadable} unreadable pages, {found.damaged_cells} undecodable cells",
                at=when,
                pump=None,
            )
        )
    finally:
        outbox.close()
    return SalvageResult(
        found.page_size, found.pages_read, found.wal_frames, found.unreadable, found.damaged_cells, added, _unsent(rows), restored
    )


@dataclass
class _Found:
    page_size: int
    events: dict[str, tuple[int, int, int, StoredEvent]] = field(default_factory=dict)  # id -> rank, position, rowid
    reports: dict[str, tuple[bool, int, dict[str, Any], str | None]] = field(default_factory=dict)
    pages_read: int = 0
    wal_frames: int = 0
    unreadable: int = 0
    damaged_cells: int = 0


def _extract_best(database: bytes, wal: bytes) -> _Found:
    """The page size comes from the -wal header (checksummed), else from an intact database header;
    when neither can be trusted every size is tried and the one that recovers most rows wins."""
    stated = _database_page_size(database)
    if (size := _wal_page_size(wal)) is not None:
        return _extract(database, wal, size)
    if database[:16] == b"SQLite format 3\x00" and stated is not None:
        return _extract(database, wal, stated)
    tries = [_extract(database, wal, size) for size in _PAGE_SIZES]
    return max(tries, key=lambda f: (len(f.events), len(f.reports), f.page_size == stated, f.page_size == 4096))


def _extract(database: bytes, wal: bytes, size: int) -> _Found:
    pages = _load(database, wal, size)
    found = _Found(size)
    images = [image for versions in pages.versions.values() for image in versions]
    btree: set[tuple[int, int]] = set()
    for image in images:
        if not _is_btree_page(image.data, image.pgno, size):
            continue
        btree.add((image.pgno, image.position))
        if _page_type(image.data, image.pgno) != 0x0D:
            continue
        for cell in _cells(image, pages):
            if cell is None:
                found.damaged_cells += 1
                continue
            rowid, values = cell
            if (event := _as_event(values)) is not None:
                _keep(found.events, event.event_id, (_event_rank(event), image.position, rowid, event))
            elif (report := _as_report(values)) is not None:
                body, sent_at = report
                _keep(found.reports, body["report_id"], (sent_at is not None, image.position, body, sent_at))
    found.pages_read = len(images)
    found.unreadable = len(images) - len(btree | pages.overflow_used)
    found.wal_frames = sum(image.position > 0 for image in images)
    return found


def _keep(best: dict[str, Any], key: str, entry: tuple[Any, ...]) -> None:
    """Keep the most advanced state of a row; between equals, the later page version."""
    current = best.get(key)
    if current is None or entry[:2] >= current[:2]:
        best[key] = entry


def _unsent(rows: list[StoredEvent]) -> int:
    return sum(_event_rank(r) == 0 for r in rows)


def _event_rank(row: StoredEvent) -> int:
    return 3 if row.sent_at else 2 if row.rejected else 1 if row.quarantined else 0


def _restore_reports(outbox: Outbox, entries: list[tuple[int, int, dict[str, Any], str | None]]) -> int:
    restored = 0
    for _rank, _position, body, sent_at in entries:
        try:
            report = parse_fault_report(body)
        except FaultReportError as error:
            log.warning("salvage: report %s skipped: %s", body.get("report_id"), error)
            continue
        outbox.add_report(report)
        if sent_at is not None:
            outbox.mark_reports_sent([report.report_id], _time(sent_at))
        restored += 1
    return restored


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.now(UTC)


# --- the two files, page by page -------------------------------------------------------------------


def _load(database: bytes, wal: bytes, size: int) -> _Pages:
    reserved = database[20] if database[:16] == b"SQLite format 3\x00" and len(database) > 20 else 0
    pages = _Pages(size, size - reserved)
    for index in range(len(database) // size):
        pages.add(_Image(index + 1, database[index * size : (index + 1) * size], 0, 0))
    for image in _wal_images(wal, size):
        pages.add(image)
    return pages


def _wal_page_size(wal: bytes) -> int | None:
    if len(wal) < _WAL_HEADER:
        return None
    magic, version, size = struct.unpack_from(">III", wal)
    order = _WAL_MAGIC.get(magic)
    if order is None or version != 3007000 or size not in _PAGE_SIZES:
        return None
    if _checksum(order, wal[:24], (0, 0)) != struct.unpack_from(">II", wal, 24):
        return None
    return int(size)


def _database_page_size(database: bytes) -> int | None:
    stated = struct.unpack_from(">H", database, 16)[0] if len(database) >= 18 else 0
    stated = 65536 if stated == 1 else stated
    return stated if stated in _PAGE_SIZES else None


def _wal_images(wal: bytes, size: int) -> Iterator[_Image]:
    """Frames of committed transactions whose salts match the header and whose checksums hold.

    Each frame stores the running checksum, so a frame is checked from its predecessor's stored
    value: one damaged frame loses its own transaction, not every later one (SQLite stops there)."""
    if _wal_page_size(wal) != size:
        return
    order = _WAL_MAGIC[struct.unpack_from(">I", wal)[0]]
    salts = wal[16:24]
    previous = struct.unpack_from(">II", wal, 24)
    pending: list[tuple[int, bytes]] = []
    broken = False
    used = 0
    offset = _WAL_HEADER
    while offset + _FRAME_HEADER + size <= len(wal):
        header = wal[offset : offset + _FRAME_HEADER]
        data = wal[offset + _FRAME_HEADER : offset + _FRAME_HEADER + size]
        offset += _FRAME_HEADER + size
        pgno, commit = struct.unpack_from(">II", header)
        stored = struct.unpack_from(">II", header, 16)
        valid = header[8:16] == salts and pgno > 0 and _checksum(order, header[:8] + data, previous) == stored
        previous = stored
        broken = broken or not valid
        pending.append((pgno, data))
        if commit:
            if not broken:
                snapshot = used + len(pending)
                for number, page in pending:
                    used += 1
                    yield _Image(number, page, used, snapshot)
            pending, broken = [], False


def _checksum(order: str, data: bytes, seed: tuple[int, int]) -> tuple[int, int]:
    s0, s1 = seed
    words = struct.unpack(f"{order}{len(data) // 4}I", data[: len(data) // 4 * 4])
    for index in range(0, len(words) - 1, 2):
        s0 = (s0 + words[index] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[index + 1] + s0) & 0xFFFFFFFF
    return s0, s1


# --- b-tree pages, cells and records ---------------------------------------------------------------


def _page_type(page: bytes, pgno: int) -> int:
    offset = 100 if pgno == 1 else 0
    return page[offset] if len(page) > offset else 0


def _is_btree_page(page: bytes, pgno: int, size: int) -> bool:
    offset = 100 if pgno == 1 else 0
    if len(page) < offset + 12 or page[offset] not in (0x02, 0x05, 0x0A, 0x0D):
        return False
    cells, content = struct.unpack_from(">HH", page, offset + 3)
    header = 8 if page[offset] in (0x0A, 0x0D) else 12
    content = 65536 if content == 0 else content
    return offset + header + 2 * cells <= min(content, size) and (
        cells > 0 or page[offset] in (0x0A, 0x0D)
    )  # leaves may be empty


def _cells(image: _Image, pages: _Pages) -> Iterator[tuple[int, list[Any]] | None]:
    """(rowid, column values) per cell of a table leaf page; None for a cell that does not decode."""
    page = image.data
    base = 100 if image.pgno == 1 else 0
    count = struct.unpack_from(">H", page, base + 3)[0]
    for index in range(count):
        try:
            pointer = struct.unpack_from(">H", page, base + 8 + 2 * index)[0]
            length, at = _varint(page, pointer)
            rowid, at = _varint(page, at)
            payload = _payload(page, at, length, image.snapshot, pages)
            yield _signed(rowid), _record(payload)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            yield None


def _payload(page: bytes, at: int, length: int, snapshot: int, pages: _Pages) -> bytes:
    usable = pages.usable
    if length > _MAX_PAYLOAD:
        raise ValueError("payload length out of range")
    most = usable - 35
    if length <= most:
        if at + length > len(page):
            raise ValueError("cell runs past its page")
        return page[at : at + length]
    least = (usable - 12) * 32 // 255 - 23
    local = least + (length - least) % (usable - 4)
    local = local if local <= most else least
    if at + local + 4 > len(page):
        raise ValueError("cell runs past its page")
    parts = [page[at : at + local]]
    remaining = length - local
    following = struct.unpack_from(">I", page, at + local)[0]
    seen: set[int] = set()
    while remaining > 0:
        image = pages.at(following, snapshot)
        if image is None or following in seen:
            raise ValueError(f"overflow page {following} missing or looping")
        seen.add(following)
        pages.overflow_used.add((image.pgno, image.position))
        take = min(remaining, usable - 4)
        parts.append(image.data[4 : 4 + take])
        remaining -= take
        following = struct.unpack_from(">I", image.data)[0]
    return b"".join(parts)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for index in range(9):
        byte = data[at + index]
        if index == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + index + 1
    raise ValueError("unreachable")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _record(payload: bytes) -> list[Any]:
    """Column values: None, int, float, bytes (blob) or str (text, strict UTF-8)."""
    header_size, at = _varint(payload, 0)
    if header_size > len(payload):
        raise ValueError("record header runs past the payload")
    types = []
    while at < header_size:
        serial, at = _varint(payload, at)
        types.append(serial)
    values: list[Any] = []
    at = header_size
    for serial in types:
        width = _WIDTHS.get(serial, (serial - 12) // 2 if serial >= 12 else -1)
        if width < 0 or at + width > len(payload):
            raise ValueError(f"bad serial type {serial} or column past the payload")
        raw = payload[at : at + width]
        at += width
        if serial == 0:
            values.append(None)
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial <= 6:
            values.append(int.from_bytes(raw, "big", signed=True))
        elif serial == 7:
            values.append(struct.unpack(">d", raw)[0])
        else:
            values.append(raw.decode("utf-8") if serial % 2 else bytes(raw))
    return values


_WIDTHS = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8, 8: 0, 9: 0}


def _optional_texts(values: list[Any]) -> bool:
    return all(value is None or isinstance(value, str) for value in values)


def _json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _as_event(values: list[Any]) -> StoredEvent | None:
    """An events row: (seq, event_id UUID, body JSON object, sent_at, rejected[, quarantined, problem_at])."""
    if not 5 <= len(values) <= 7 or not (values[0] is None or isinstance(values[0], int)):
        return None
    if not is_uuid(values[1]) or _json_object(values[2]) is None or not _optional_texts(values[3:]):
        return None
    extra = values[5:] + [None] * (7 - len(values))
    return StoredEvent(values[1], values[2], values[3], values[4], extra[0], extra[1])


def _as_report(values: list[Any]) -> tuple[dict[str, Any], str | None] | None:
    """A reports row: (seq, report_id UUID, event_id, body JSON naming the same report, sent_at, damaged)."""
    if len(values) != 6 or not is_uuid(values[1]) or not _optional_texts(values[2:3] + values[4:]):
        return None
    body = _json_object(values[3])
    if body is None or body.get("report_id") != values[1]:
        return None
    return body, values[4]


# --- command line ----------------------------------------------------------------------------------


def add_salvage_command(subparsers: Any) -> None:
    """Register `outbox salvage DAMAGED NEW` on the station-agent command line."""
    outbox = subparsers.add_parser("outbox", help="maintain the local event outbox")
    actions = outbox.add_subparsers(dest="outbox_command", required=True)
    command = actions.add_parser("salvage", help="copy every readable event of a damaged outbox into a new one")
    command.add_argument("damaged", type=Path, help="the damaged outbox (its -wal is read too; neither is changed)")
    command.add_argument("new", type=Path, help="the new outbox to create (must not exist)")
    command.set_defaults(handler=cmd_salvage)


def cmd_salvage(args: argparse.Namespace) -> int:
    result = salvage(args.damaged, args.new)
    print(
        f"salvaged {result.rows_recovered} events ({result.unsent_recovered} unsent) and "
        f"{result.reports_recovered} reports into {args.new}: {result.pages_read} pages read "
        f"({result.wal_frames_used} from the WAL), {result.unreadable_pages} unreadable, "
        f"{result.damaged_cells} undecodable cells"
    )
    return 0
