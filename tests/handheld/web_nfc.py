"""A stand-in for Web NFC's NDEFReader, injected into the page before its scripts run
(page.add_init_script): the one boundary the browser tests replace, since Web NFC needs a phone.

It takes the raw NDEF message an emulated tag holds (tests/handheld/handheld_world.py: the bytes of
its NDEF TLV, as a phone's NFC stack reads them) and the tag's UID, parses the message itself into
what Chrome on Android hands a page (NDEFReadingEvent: serialNumber "04:a2:..", message.records of
{recordType, mediaType, id, encoding, lang, data: DataView}, chunks joined), and dispatches a
"reading" event to every reader that is scanning. Its parser is written for this test, separately
from the verifier core's, so the page's path from Web NFC's shape to a verdict is what is tested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.handheld.handheld_world import Tag

STAND_IN = r"""
(() => {
  const scanning = new Set();
  const latin1 = (bytes) => String.fromCharCode(...bytes);

  // NFC Forum NDEF 1.0 records, as Android's NFC stack delivers them to Chrome (chunks joined).
  function records(bytes) {
    const out = [];
    let i = 0;
    let chunk = null;
    while (i < bytes.length) {
      const header = bytes[i];
      const tnf = header & 0x07;
      const short = (header & 0x10) !== 0;
      const hasId = (header & 0x08) !== 0;
      const chunked = (header & 0x20) !== 0;
      const typeLength = bytes[i + 1];
      let at = i + 2;
      const payloadLength = short ? bytes[at] : ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
      at += short ? 1 : 4;
      const idLength = hasId ? bytes[at++] : 0;
      const type = bytes.slice(at, at + typeLength);
      at += typeLength;
      const id = bytes.slice(at, at + idLength);
      at += idLength;
      const payload = bytes.slice(at, at + payloadLength);
      i = at + payloadLength;
      if (tnf === 6 && chunk) {
        chunk.payload = Uint8Array.from([...chunk.payload, ...payload]);
        if (!chunked) { out.push(chunk); chunk = null; }
        continue;
      }
      const record = { tnf, type: latin1(type), id: latin1(id), payload };
      if (chunked) chunk = record; else out.push(record);
      if (header & 0x40) break;
    }
    const wellKnown = { T: "text", U: "url", Sp: "smart-poster" };
    return out.map((r) => {
      let recordType = "unknown";
      let mediaType;
      if (r.tnf === 0) recordType = "empty";
      else if (r.tnf === 1) recordType = wellKnown[r.type] ?? `:${r.type}`;
      else if (r.tnf === 2) { recordType = "mime"; mediaType = r.type; }
      else if (r.tnf === 3) recordType = "absolute-url";
      else if (r.tnf === 4) recordType = r.type;
      const data = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
      return Object.freeze({ recordType, mediaType, id: r.id, encoding: undefined, lang: undefined, data });
    });
  }

  class NDEFReader extends EventTarget {
    async scan(options = {}) {
      scanning.add(this);
      options.signal?.addEventListener("abort", () => scanning.delete(this));
    }
  }
  Object.defineProperty(window, "NDEFReader", { value: NDEFReader, configurable: true, writable: true });

  // What the test calls: a tag of `serialNumber` holding the NDEF message `hex` comes near the phone.
  window.__handheldTap = (serialNumber, hex) => {
    const bytes = Uint8Array.from((hex.match(/../g) ?? []).map((pair) => parseInt(pair, 16)));
    const message = Object.freeze({ records: Object.freeze(records(bytes)) });
    for (const reader of scanning) {
      reader.dispatchEvent(Object.assign(new Event("reading"), { serialNumber, message }));
    }
    return scanning.size;
  };
})();
"""


def tap(page: Page, tag: Tag) -> None:
    """Hold `tag` to the phone: the page must be scanning (its button pressed)."""
    readers = page.evaluate("([serial, hex]) => window.__handheldTap(serial, hex)", [tag.serial_number, tag.ndef_message.hex()])
    assert readers == 1, f"{readers} readers scanning"
    page.wait_for_selector(f'#verdict[data-uid="{tag.emulator.uid.hex().upper()}"]')
