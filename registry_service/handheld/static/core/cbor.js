// Strict deterministic CBOR decoding, mirroring tag_tools/cbor_codec.py.
//
// The Python codec accepts only input that cbor2 decodes and that re-encodes (RFC 8949 section
// 4.2.1, keys in bytewise order) to exactly the same bytes. Re-encoding needs a full encoder, so
// this module checks the same rules while it reads, and refuses exactly what that round trip
// refuses: non-shortest integers, lengths and floats (and any NaN but f9 7e00), indefinite
// lengths, map keys out of bytewise order or equal to an earlier key (as Python compares keys:
// 1, 1.0, true and simple(1) are one key), invalid UTF-8, reserved simple values, trailing bytes,
// nesting deeper than cbor2's 400 containers, and input over the size bound (1024 bytes for what
// a tag holds). Tags 2 and 3 are bignums (accepted only beyond 64 bits, without leading zeros);
// other tags cbor2 interprets (dates, decimals, sets, string references...) are refused here.
// cbor2 accepts a few of those in their canonical form (tags 0, 4, 30, 35, 37, 52, 54, 1004); no
// format of ours uses them and every check after decoding refuses them anyway, so being stricter
// changes no verdict except to turn `unsupported_version` into `malformed` for a claims map that
// carries one of them beside a foreign version number.
//
// Values: unsigned and negative integers as numbers (BigInt beyond 2^53), byte strings as
// Uint8Array, text as string, arrays as Array, maps as CborMap, floats as CborFloat (so an integer
// and a float stay distinct, as Python's `type(x) is int` tells them apart), true/false/null,
// UNDEFINED, CborSimple and CborTag.

import { FormatError } from "./errors.js";
import { compareBytes, toHex, utf8Decode } from "./bytes.js";

// The largest NTAG21x (NTAG216) has 888 bytes of user memory: nothing on a tag can be longer.
export const MAX_ENCODED_SIZE = 1024;
// cbor2 6 refuses an item nested in more than this many arrays, maps and tags.
export const MAX_DEPTH = 400;

// Tags cbor2 6.3 decodes into Python objects rather than CBORTag (found by probing every tag
// number below 70000). 2 and 3 are handled as bignums; the others are refused (see above).
const SEMANTIC_TAGS = new Set([0, 1, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261, 1004, 43000, 55799]);

const TWO_64 = 1n << 64n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export class CborTag {
  constructor(tag, value) {
    this.tag = tag; // number, or BigInt beyond 2^53
    this.value = value;
  }
}

export class CborFloat {
  constructor(value) {
    this.value = value;
  }
}

export class CborSimple {
  constructor(value) {
    this.value = value;
  }
}

export const UNDEFINED = Object.freeze({ cbor: "undefined" });

let nanCount = 0;

/**
 * The identity of a value as a Python dict key: numbers compare by value across int, float, bool
 * and CBORSimpleValue (1 == 1.0 == True == simple(1)); NaN equals nothing; containers compare
 * element by element. The text is prefix-free (strings carry their length), so containers can
 * concatenate their items' identities and the size stays linear in the input's.
 */
export function pyKey(value) {
  switch (typeof value) {
    case "number":
    case "bigint":
      return `n${value};`;
    case "boolean":
      return value ? "n1;" : "n0;";
    case "string":
      return textKey(value);
    default:
      break;
  }
  if (value === null) return "N;";
  if (value === UNDEFINED) return "U;";
  if (value instanceof Uint8Array) return `b${toHex(value)};`;
  if (value instanceof CborSimple) return `n${value.value};`;
  if (value instanceof CborFloat) {
    const v = value.value;
    if (Number.isNaN(v)) return `q${nanCount++};`;
    if (Number.isInteger(v)) return `n${BigInt(v)};`;
    return `n${v};`; // not integral (or infinite): equal to no integer, and String() is exact
  }
  if (Array.isArray(value)) return `a${value.length}[${value.map(pyKey).join("")}]`;
  if (value instanceof CborMap) {
    const pairs = value.entries.map(([k, v]) => [pyKey(k), pyKey(v)]);
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return `m${pairs.length}{${pairs.map(([k, v]) => k + v).join("")}}`;
  }
  if (value instanceof CborTag) return `t${value.tag}(${pyKey(value.value)})`;
  throw new TypeError("not a decoded CBOR value");
}

/** A decoded map: its entries in order, and a lookup by Python key identity (pyKey). */
export class CborMap {
  constructor(entries, index) {
    this.entries = entries;
    this.index = index;
  }

  get size() {
    return this.entries.length;
  }

  /** The value under integer key `n` (or a key Python finds equal to it); undefined when absent. */
  getInt(n) {
    return this.index.get(intKey(n));
  }

  hasInt(n) {
    return this.index.has(intKey(n));
  }

  getText(text) {
    return this.index.get(textKey(text));
  }

  /** True when the keys are exactly `keys` (pyKey strings), as Python compares `set(d) == keys`. */
  hasExactlyKeys(keys) {
    if (this.index.size !== keys.length) return false;
    return keys.every((k) => this.index.has(k));
  }
}

/** pyKey of integer `n`, for hasExactlyKeys. */
export function intKey(n) {
  return `n${n};`;
}

/** pyKey of a text string. */
export function textKey(text) {
  return `s${text.length}:${text}`;
}

/** True for a CBOR integer as Python's `type(x) is int` sees it (not bool, not float). */
export function isInt(value) {
  return (typeof value === "number" && Number.isInteger(value)) || typeof value === "bigint";
}

/** Python's `value == n` for an integer n: numbers of every kind compare by value. */
export function pyEqualsInt(value, n) {
  if (typeof value === "number" || typeof value === "bigint") return BigInt(value) === BigInt(n);
  if (typeof value === "boolean") return BigInt(value ? 1 : 0) === BigInt(n);
  if (value instanceof CborSimple) return BigInt(value.value) === BigInt(n);
  if (value instanceof CborFloat) return Number.isInteger(value.value) && BigInt(value.value) === BigInt(n);
  return false;
}

/** An integer as BigInt (for range checks on values that may exceed 2^53). */
export function big(value) {
  return BigInt(value);
}

/**
 * Decode one deterministically encoded CBOR item; FormatError otherwise.
 * `what` names the item in messages; `maxSize` may be raised only for data not from a tag.
 */
export function decode(data, what, maxSize = MAX_ENCODED_SIZE) {
  if (data.length > maxSize) throw new FormatError(`${what} is ${data.length} bytes, more than the ${maxSize} allowed`);
  const reader = new Reader(data, what);
  if (data.length === 0) throw new FormatError(`${what} is not valid CBOR: empty input`);
  const value = reader.item(0);
  if (reader.at !== data.length) {
    throw new FormatError(`${what} is not deterministically encoded CBOR (or has trailing bytes)`);
  }
  return value;
}

class Reader {
  constructor(data, what) {
    this.data = data;
    this.at = 0;
    this.what = what;
  }

  invalid(why) {
    return new FormatError(`${this.what} is not valid CBOR: ${why}`);
  }

  notDeterministic(why) {
    return new FormatError(`${this.what} is not deterministically encoded CBOR: ${why}`);
  }

  byte() {
    if (this.at >= this.data.length) throw this.invalid("premature end of data");
    return this.data[this.at++];
  }

  take(size) {
    if (size > this.data.length - this.at) throw this.invalid("premature end of data");
    const out = this.data.subarray(this.at, this.at + size);
    this.at += size;
    return out;
  }

  /** The argument of a head with additional information `info` (24..27), shortest form enforced. */
  argument(info) {
    if (info < 24) return info;
    if (info === 24) {
      const v = this.byte();
      if (v < 24) throw this.notDeterministic("argument not in its shortest form");
      return v;
    }
    if (info === 25) {
      const b = this.take(2);
      const v = (b[0] << 8) | b[1];
      if (v < 0x100) throw this.notDeterministic("argument not in its shortest form");
      return v;
    }
    if (info === 26) {
      const b = this.take(4);
      const v = ((b[0] << 24) >>> 0) + ((b[1] << 16) | (b[2] << 8) | b[3]);
      if (v < 0x10000) throw this.notDeterministic("argument not in its shortest form");
      return v;
    }
    if (info === 27) {
      const b = this.take(8);
      let v = 0n;
      for (const x of b) v = (v << 8n) | BigInt(x);
      if (v < 0x100000000n) throw this.notDeterministic("argument not in its shortest form");
      return v <= MAX_SAFE ? Number(v) : v;
    }
    if (info === 31) throw this.notDeterministic("indefinite length");
    throw this.invalid(`reserved additional information ${info}`);
  }

  /** A length (for strings, arrays, maps) that can fit in what is left of the input. */
  length(info, minimumItemSize) {
    const n = this.argument(info);
    const left = this.data.length - this.at;
    if (typeof n === "bigint" || n * minimumItemSize > left) throw this.invalid("premature end of data");
    return n;
  }

  item(depth) {
    if (depth > MAX_DEPTH) throw this.invalid(`maximum container nesting depth (${MAX_DEPTH}) exceeded`);
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const n = this.argument(info);
        return typeof n === "number" && n < Number.MAX_SAFE_INTEGER ? -1 - n : -1n - BigInt(n);
      }
      case 2:
        return this.take(this.length(info, 1));
      case 3: {
        const raw = this.take(this.length(info, 1));
        try {
          return utf8Decode(raw);
        } catch {
          throw this.invalid("error decoding text string");
        }
      }
      case 4: {
        const n = this.length(info, 1);
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.item(depth + 1);
        return out;
      }
      case 5:
        return this.map(this.length(info, 2), depth);
      case 6:
        return this.tag(this.argument(info), depth);
      default:
        return this.simple(info);
    }
  }

  map(n, depth) {
    const entries = new Array(n);
    const index = new Map();
    let previous = null;
    for (let i = 0; i < n; i++) {
      const start = this.at;
      const key = this.item(depth + 1);
      const encoded = this.data.subarray(start, this.at);
      // Each key is itself deterministic, so its bytes are its canonical encoding: they must rise
      // strictly, or the round trip would reorder them (or find two with one encoding).
      if (previous !== null && compareBytes(previous, encoded) >= 0) {
        throw this.notDeterministic("map keys out of bytewise order, or repeated");
      }
      previous = encoded;
      const identity = pyKey(key);
      if (index.has(identity)) throw this.notDeterministic("two map keys Python finds equal");
      const value = this.item(depth + 1);
      index.set(identity, value);
      entries[i] = [key, value];
    }
    return new CborMap(entries, index);
  }

  tag(number, depth) {
    if (number === 2 || number === 3) {
      const content = this.item(depth + 1);
      if (!(content instanceof Uint8Array)) throw this.invalid("bignum value must be a byte string");
      // Canonical only when it does not fit 64 bits (else it is a plain integer) and has no
      // leading zero byte.
      if (content.length === 0 || content[0] === 0) throw this.notDeterministic("bignum not in its shortest form");
      let n = 0n;
      for (const x of content) n = (n << 8n) | BigInt(x);
      if (n < TWO_64) throw this.notDeterministic("bignum that fits an integer");
      return number === 2 ? n : -1n - n;
    }
    if (typeof number === "number" && SEMANTIC_TAGS.has(number)) {
      throw this.notDeterministic(`tag ${number} is not allowed in this profile`);
    }
    return new CborTag(number, this.item(depth + 1));
  }

  simple(info) {
    if (info < 20) return new CborSimple(info);
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return UNDEFINED;
      case 24: {
        const v = this.byte();
        if (v < 32) throw this.invalid("invalid two-byte simple value");
        return new CborSimple(v);
      }
      case 25: {
        const b = this.take(2);
        const bits = (b[0] << 8) | b[1];
        const v = halfToNumber(bits);
        if (Number.isNaN(v) && bits !== 0x7e00) throw this.notDeterministic("NaN not written f9 7e00");
        return new CborFloat(v);
      }
      case 26: {
        const b = this.take(4);
        const v = new DataView(b.buffer, b.byteOffset, 4).getFloat32(0);
        if (Number.isNaN(v) || fitsHalf(v)) throw this.notDeterministic("float not in its shortest form");
        return new CborFloat(v);
      }
      case 27: {
        const b = this.take(8);
        const v = new DataView(b.buffer, b.byteOffset, 8).getFloat64(0);
        if (Number.isNaN(v) || Math.fround(v) === v) throw this.notDeterministic("float not in its shortest form");
        return new CborFloat(v);
      }
      case 31:
        throw this.invalid("break code where a data item was expected");
      default:
        throw this.invalid(`reserved major type 7 subtype ${info}`);
    }
  }
}

/** The value of IEEE 754 half-precision `bits`. */
function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const SINGLE = new DataView(new ArrayBuffer(4));

/** True when single-precision `v` (not NaN) is exactly a half-precision value, which cbor2 would
 * write in 3 bytes. Decided on the bits: a half has 10 fraction bits at exponents -14..15, and
 * fewer below (subnormal halves are multiples of 2^-24). */
function fitsHalf(v) {
  if (!Number.isFinite(v) || v === 0) return true;
  SINGLE.setFloat32(0, v);
  const bits = SINGLE.getUint32(0);
  const exponent = ((bits >>> 23) & 0xff) - 127;
  const fraction = bits & 0x7fffff;
  if (exponent > 15 || exponent < -24) return false; // beyond 65504, or below 2^-24 (incl. single subnormals)
  const kept = exponent >= -14 ? 10 : exponent + 24; // fraction bits a half can hold at this exponent
  return (fraction & ((1 << (23 - kept)) - 1)) === 0;
}

// --- encoding: only what the Sig_structure needs (arrays, text, byte strings) --------------------

function head(major, argument) {
  if (argument < 24) return [(major << 5) | argument];
  if (argument < 0x100) return [(major << 5) | 24, argument];
  if (argument < 0x10000) return [(major << 5) | 25, argument >> 8, argument & 0xff];
  return [(major << 5) | 26, (argument >>> 24) & 0xff, (argument >> 16) & 0xff, (argument >> 8) & 0xff, argument & 0xff];
}

/** Deterministic encoding of an array of text and byte strings (below 4 GiB each). */
export function encodeArrayOfStrings(items) {
  const parts = [head(4, items.length)];
  let size = parts[0].length;
  const encoder = new TextEncoder();
  const bodies = items.map((item) => (typeof item === "string" ? [3, encoder.encode(item)] : [2, item]));
  for (const [major, body] of bodies) {
    const h = head(major, body.length);
    parts.push(h, body);
    size += h.length + body.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
