// Byte helpers the other modules share (hex, comparison, strict UTF-8). No dependencies, so the
// core runs unchanged in Chromium, Node and a WeChat mini-program.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of `bytes`. */
export function toHex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/** Bytes from hex (any case, no separators); TypeError on anything else. */
export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError("not an even-length hex string");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

/** Bytes from standard base64 (atob exists in browsers, Node 16+ and mini-programs' polyfills). */
export function fromBase64(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytewise lexicographic order (RFC 8949 section 4.2.1's order of encoded map keys). */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function concatBytes(...parts) {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// fatal: invalid UTF-8 (overlong forms, surrogates, truncation) throws, as Python's strict codec
// does; ignoreBOM: a leading U+FEFF is a character of the string, not a marker to drop.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The text of strict UTF-8 bytes; TypeError when they are not valid UTF-8. */
export function utf8Decode(bytes) {
  return UTF8.decode(bytes);
}

const UTF8_OUT = new TextEncoder();

export function utf8Encode(text) {
  return UTF8_OUT.encode(text);
}
