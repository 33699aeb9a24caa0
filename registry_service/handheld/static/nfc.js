// Web NFC (NDEFReader, Chrome on Android) at its narrowest: start a scan and hand each tag's serial
// number and records to the page, shaped as the verifier core takes them. Nothing else here knows
// about Web NFC; the tests stand in for NDEFReader at exactly this boundary.

/** Whether this browser can read NFC tags at all. */
export function nfcAvailable() {
  return typeof globalThis.NDEFReader === "function";
}

/** One Web NFC record as the core takes it: the record's bytes as a Uint8Array. */
function asRecord(record) {
  const view = record.data;
  const data = view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array(0);
  return {
    recordType: record.recordType,
    mediaType: record.mediaType ?? null,
    id: record.id ?? null,
    encoding: record.encoding ?? null,
    lang: record.lang ?? null,
    data,
  };
}

/**
 * Start scanning (it needs a tap on a button: the browser asks for permission the first time).
 * `onTag({serialNumber, records})` for every tag read, `onError()` for a tag that could not be read.
 * Resolves to an AbortController that stops the scan; rejects when the browser refuses (no
 * permission, NFC switched off).
 */
export async function startScan(onTag, onError) {
  const reader = new globalThis.NDEFReader();
  const controller = new AbortController();
  reader.addEventListener("reading", (event) => {
    onTag({ serialNumber: event.serialNumber ?? "", records: Array.from(event.message?.records ?? [], asRecord) });
  });
  reader.addEventListener("readingerror", () => onError());
  await reader.scan({ signal: controller.signal });
  return controller;
}
