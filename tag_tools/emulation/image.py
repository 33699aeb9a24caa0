"""Tag image files for `cylinder-tag emulate`: one JSON object per chip.

    {
      "format": "cylinder-tag/ntag-image/1",
      "chip": "NTAG215",                 # NTAG213 | NTAG215 | NTAG216
      "uid": "04a1b2c3d4e5f6",           # 7 bytes, hex
      "pages": "04a1b2..",               # optional: the whole memory, hex (total_pages * 4 bytes);
                                         # absent: a factory-blank chip for this UID
      "signature": "00..",               # optional: 32-byte originality signature (r||s), hex;
                                         # absent: zeros (reported not genuine)
      "read_counter": 0,                 # optional: the 24-bit NFC counter
      "card_atr": "3b8f...",             # optional, vpcd only: answer with another ATR (tests)
      "sel_res": 0                       # optional, udp only: another SEL_RES (tests)
    }

Pages are the source of truth for locks, CC and configuration; the UID in pages 0-2 may differ
from "uid" on purpose (a tampered tag), which readers report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tag_tools import ntag
from tag_tools.emulation.ntag_emulator import NtagEmulator, blank_memory
from tag_tools.errors import InputError

FORMAT = "cylinder-tag/ntag-image/1"


@dataclass
class TagImage:
    emulator: NtagEmulator
    card_atr: bytes | None = None
    sel_res: int = 0x00


def _hex(document: dict[str, object], key: str, length: int | None = None) -> bytes | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"image field {key!r} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError as error:
        raise InputError(f"image field {key!r} is not hex: {error}") from error
    if length is not None and len(raw) != length:
        raise InputError(f"image field {key!r} must be {length} bytes, not {len(raw)}")
    return raw


def image_from_json(document: object) -> TagImage:
    if not isinstance(document, dict):
        raise InputError("a tag image is a JSON object")
    if document.get("format", FORMAT) != FORMAT:
        raise InputError(f"unknown image format {document.get('format')!r}, expected {FORMAT!r}")
    chip_name = document.get("chip", "NTAG215")
    chip = ntag.CHIPS.get(str(chip_name))
    if chip is None:
        raise InputError(f"image chip must be one of {', '.join(ntag.CHIPS)}, not {chip_name!r}")
    uid = _hex(document, "uid", ntag.UID_LENGTH)
    if uid is None:
        raise InputError("image needs a 7-byte 'uid'")
    pages = _hex(document, "pages", chip.total_pages * ntag.PAGE_SIZE)
    signature = _hex(document, "signature", ntag.SIGNATURE_LENGTH) or bytes(ntag.SIGNATURE_LENGTH)
    counter = document.get("read_counter", 0)
    if not isinstance(counter, int) or not 0 <= counter <= 0xFFFFFF:
        raise InputError("image 'read_counter' must be an integer 0..16777215")
    memory = bytearray(pages) if pages is not None else blank_memory(uid, chip)
    emulator = NtagEmulator(uid, chip, memory, signature, counter)
    sel_res = document.get("sel_res", 0)
    if not isinstance(sel_res, int) or not 0 <= sel_res <= 0xFF:
        raise InputError("image 'sel_res' must be a byte")
    return TagImage(emulator, _hex(document, "card_atr"), sel_res)


def image_to_json(image: TagImage) -> dict[str, object]:
    emulator = image.emulator
    document: dict[str, object] = {
        "format": FORMAT,
        "chip": emulator.chip.name,
        "uid": emulator.uid.hex(),
        "pages": bytes(emulator.memory).hex(),
        "signature": emulator.signature.hex(),
        "read_counter": emulator.counter,
    }
    if image.card_atr is not None:
        document["card_atr"] = image.card_atr.hex()
    if image.sel_res:
        document["sel_res"] = image.sel_res
    return document


def load_image(path: Path) -> TagImage:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not JSON: {error}") from error
    return image_from_json(document)


def save_image(image: TagImage, path: Path) -> None:
    Path(path).write_text(json.dumps(image_to_json(image), indent=2) + "\n", encoding="utf-8")
