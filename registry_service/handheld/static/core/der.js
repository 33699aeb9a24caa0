// A strict DER reader: just enough ASN.1 for X.509 certificates (tag_tools reads them with
// `cryptography`, whose Rust parser insists on DER). Definite, shortest lengths only; single-byte
// tags only (no certificate field of ours needs more). Errors are TrustError: a certificate that
// cannot be read is a certificate the station does not trust.

import { TrustError } from "./errors.js";
import { utf8Decode } from "./bytes.js";

export const SEQUENCE = 0x30;
export const SET = 0x31;
export const INTEGER = 0x02;
export const BIT_STRING = 0x03;
export const OCTET_STRING = 0x04;
export const NULL = 0x05;
export const OID = 0x06;
export const BOOLEAN = 0x01;
export const UTC_TIME = 0x17;
export const GENERALIZED_TIME = 0x18;

/** One TLV: `tag`, its `bytes` (header included) and `content`. */
export class Element {
  constructor(tag, bytes, content) {
    this.tag = tag;
    this.bytes = bytes;
    this.content = content;
  }

  /** The elements inside a constructed element. */
  children() {
    return readAll(this.content);
  }

  expect(tag, what) {
    if (this.tag !== tag) throw new TrustError(`${what}: expected DER tag 0x${tag.toString(16)}, found 0x${this.tag.toString(16)}`);
    return this;
  }
}

function fail(why) {
  return new TrustError(`not an X.509 certificate: ${why}`);
}

/** The element at `at` in `data`, and the position after it. */
export function readElement(data, at) {
  if (at + 2 > data.length) throw fail("truncated DER");
  const tag = data[at];
  if ((tag & 0x1f) === 0x1f) throw fail("multi-byte DER tag");
  let length = data[at + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw fail("indefinite or oversized DER length");
    if (at + 2 + count > data.length) throw fail("truncated DER");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + data[at + 2 + i];
    if (data[at + 2] === 0 || length < 0x80) throw fail("DER length not in its shortest form");
    header += count;
  }
  const end = at + header + length;
  if (end > data.length) throw fail("truncated DER");
  return [new Element(tag, data.subarray(at, end), data.subarray(at + header, end)), end];
}

/** Exactly one element filling `data`. */
export function readOne(data) {
  const [element, end] = readElement(data, 0);
  if (end !== data.length) throw fail("bytes after the DER element");
  return element;
}

export function readAll(data) {
  const out = [];
  let at = 0;
  while (at < data.length) {
    const [element, end] = readElement(data, at);
    out.push(element);
    at = end;
  }
  return out;
}

/** Dotted text of an OBJECT IDENTIFIER's content. */
export function oidText(content) {
  if (content.length === 0 || content[content.length - 1] & 0x80) throw fail("bad OID");
  const arcs = [];
  let value = 0n;
  let fresh = true;
  for (const byte of content) {
    if (fresh && byte === 0x80) throw fail("OID arc not in its shortest form");
    value = (value << 7n) | BigInt(byte & 0x7f);
    fresh = !(byte & 0x80);
    if (fresh) {
      arcs.push(value);
      value = 0n;
    }
  }
  const first = arcs[0];
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join(".");
}

export function booleanOf(element) {
  element.expect(BOOLEAN, "BOOLEAN");
  if (element.content.length !== 1 || (element.content[0] !== 0 && element.content[0] !== 0xff)) throw fail("bad DER BOOLEAN");
  return element.content[0] === 0xff;
}

/** A non-negative INTEGER small enough for a JS number (versions, path lengths). */
export function smallIntegerOf(element) {
  element.expect(INTEGER, "INTEGER");
  const c = element.content;
  if (c.length === 0 || c.length > 6) throw fail("INTEGER out of range");
  if (c.length > 1 && ((c[0] === 0 && !(c[1] & 0x80)) || (c[0] === 0xff && c[1] & 0x80))) throw fail("INTEGER not minimal");
  if (c[0] & 0x80) throw fail("negative INTEGER");
  let v = 0;
  for (const b of c) v = v * 256 + b;
  return v;
}

/** The bits of a BIT STRING: { unused, bytes }. */
export function bitStringOf(element) {
  element.expect(BIT_STRING, "BIT STRING");
  const c = element.content;
  if (c.length === 0 || c[0] > 7 || (c.length === 1 && c[0] !== 0)) throw fail("bad BIT STRING");
  const unused = c[0];
  const bytes = c.subarray(1);
  if (unused && bytes[bytes.length - 1] & ((1 << unused) - 1)) throw fail("BIT STRING with set unused bits");
  return { unused, bytes };
}

/** Milliseconds since the epoch of a UTCTime or GeneralizedTime (DER: seconds, Z). */
export function timeOf(element) {
  let text;
  try {
    text = utf8Decode(element.content);
  } catch {
    throw fail("bad time");
  }
  let match;
  let year;
  if (element.tag === UTC_TIME && (match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    year = Number(match[1]);
    year += year < 50 ? 2000 : 1900;
  } else if (element.tag === GENERALIZED_TIME && (match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    year = Number(match[1]);
  } else {
    throw fail("time is neither DER UTCTime nor GeneralizedTime");
  }
  const [month, day, hour, minute, second] = match.slice(2).map(Number);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (
    year < 1 ||
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw fail("time out of range");
  }
  return ms;
}

/** The text of a directory string (the string types X.520 names use). */
export function stringOf(element) {
  const c = element.content;
  switch (element.tag) {
    case 0x0c: // UTF8String
      try {
        return utf8Decode(c);
      } catch {
        throw fail("bad UTF8String");
      }
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x1a: // VisibleString
    case 0x14: // TeletexString (read as Latin-1, as cryptography does)
      return String.fromCharCode(...c);
    case 0x1e: {
      // BMPString: UTF-16BE
      if (c.length % 2) throw fail("bad BMPString");
      let out = "";
      for (let i = 0; i < c.length; i += 2) out += String.fromCharCode((c[i] << 8) | c[i + 1]);
      return out;
    }
    case 0x1c: {
      // UniversalString: UTF-32BE
      if (c.length % 4) throw fail("bad UniversalString");
      let out = "";
      for (let i = 0; i < c.length; i += 4) {
        out += String.fromCodePoint(((c[i] << 24) | (c[i + 1] << 16) | (c[i + 2] << 8) | c[i + 3]) >>> 0);
      }
      return out;
    }
    default:
      throw fail(`unsupported string type 0x${element.tag.toString(16)}`);
  }
}
