// zlib (RFC 1950) inflate into exactly the declared size, mirroring tag_tools/status_list.py's
// `inflate`: the output is capped at the declared size while inflating (a "zlib bomb" costs no
// more memory than the list it claims to be), and a stream that is invalid, truncated, followed by
// more bytes, or inflating to another size is refused.
//
// Why not DecompressionStream('deflate'): Node's accepts bytes after the end of the stream where
// Chromium's and Python's refuse them, it cannot stop at the declared size, and WeChat
// mini-programs lack it. This decoder refuses what zlib refuses (header checks, preset
// dictionaries, block types, over-subscribed or incomplete Huffman codes as zlib's inftrees does,
// missing end-of-block codes, distances before the start, the Adler-32 check); it is stricter in
// one place: a distance beyond the window the header declares is refused even where zlib would
// find the bytes in its output buffer.

export class InflateError extends Error {
  constructor(message) {
    super(message);
    this.name = "InflateError";
  }
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
  16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

const CODES = 0;
const LENS = 1;
const DISTS = 2;

/** A decoding table: entry = symbol << 4 | code length, -1 for no code. */
function buildTable(lengths, kind) {
  const count = new Uint16Array(16);
  let max = 0;
  for (const l of lengths) {
    count[l]++;
    if (l > max) max = l;
  }
  if (max === 0) {
    // zlib builds a table of invalid codes: any code read from it fails (code lengths and
    // literals cannot be empty; an unused distance code may be).
    if (kind !== DISTS) throw new InflateError("invalid code lengths set");
    return { table: Int32Array.of(-1, -1), bits: 1 };
  }
  count[0] = 0;
  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = left * 2 - count[len];
    if (left < 0) throw new InflateError("over-subscribed code lengths");
  }
  if (left > 0 && (kind === CODES || max !== 1)) throw new InflateError("incomplete code lengths");
  const next = new Uint16Array(16);
  for (let len = 1, code = 0; len <= 15; len++) {
    code = (code + count[len - 1]) << 1;
    next[len] = code;
  }
  const size = 1 << max;
  const table = new Int32Array(size).fill(-1);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const len = lengths[symbol];
    if (!len) continue;
    let code = next[len]++;
    let reversed = 0;
    for (let i = 0; i < len; i++) {
      reversed = (reversed << 1) | (code & 1);
      code >>= 1;
    }
    const entry = (symbol << 4) | len;
    for (let j = reversed; j < size; j += 1 << len) table[j] = entry;
  }
  return { table, bits: max };
}

let fixed = null;

function fixedTables() {
  if (!fixed) {
    const lit = new Uint8Array(288);
    lit.fill(8, 0, 144);
    lit.fill(9, 144, 256);
    lit.fill(7, 256, 280);
    lit.fill(8, 280, 288);
    fixed = { lit: buildTable(lit, LENS), dist: buildTable(new Uint8Array(32).fill(5), DISTS) };
  }
  return fixed;
}

function adler32(data) {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Exactly `expectedSize` bytes from one complete zlib stream that fills `input`; InflateError otherwise. */
export function inflateExact(input, expectedSize) {
  if (input.length < 2) throw truncated();
  const cmf = input[0];
  const flg = input[1];
  if ((cmf * 256 + flg) % 31 !== 0) throw new InflateError("incorrect header check");
  if ((cmf & 0x0f) !== 8) throw new InflateError("unknown compression method");
  if (cmf >> 4 > 7) throw new InflateError("invalid window size");
  if (flg & 0x20) throw new InflateError("a preset dictionary is needed");
  // The bit buffer: `cnt` bits in `buf`, least significant first. Refills stop at 31 bits so `buf`
  // stays a small integer for V8 (a uint32 above 2^31 would be a heap number, several times slower).
  const s = { input, end: input.length, out: new Uint8Array(expectedSize), window: 1 << ((cmf >> 4) + 8), pos: 2, buf: 0, cnt: 0, o: 0 };
  let last = 0;
  while (!last) {
    last = bits(s, 1);
    const type = bits(s, 2);
    if (type === 0) stored(s);
    else if (type === 1) symbols(s, fixedTables().lit, fixedTables().dist);
    else if (type === 2) dynamic(s);
    else throw new InflateError("invalid block type");
  }
  // The Adler-32 check starts at the next byte boundary: drop the partial byte, give back whole
  // bytes the bit buffer read ahead.
  let pos = s.pos - (s.cnt >> 3);
  if (pos + 4 > s.end) throw truncated();
  const check = ((input[pos] << 24) | (input[pos + 1] << 16) | (input[pos + 2] << 8) | input[pos + 3]) >>> 0;
  pos += 4;
  if (pos !== s.end) throw new InflateError("status list has bytes after its zlib stream");
  if (s.o !== expectedSize) throw new InflateError(`status list inflates to ${s.o} bytes, not the declared ${expectedSize}`);
  if (check !== adler32(s.out)) throw new InflateError("incorrect data check");
  return s.out;
}

function truncated() {
  return new InflateError("status list zlib stream is truncated");
}

function tooMuch(s) {
  return new InflateError(`status list inflates to more than the declared ${s.out.length} bytes`);
}

/** `n` bits (block headers; the symbol loop reads its own). */
function bits(s, n) {
  while (s.cnt < n) {
    if (s.pos >= s.end) throw truncated();
    s.buf |= s.input[s.pos++] << s.cnt;
    s.cnt += 8;
  }
  const v = s.buf & ((1 << n) - 1);
  s.buf >>>= n;
  s.cnt -= n;
  return v;
}

/** One symbol of a code-length code. */
function decode(s, { table, bits: width }) {
  while (s.cnt < width && s.pos < s.end) {
    s.buf |= s.input[s.pos++] << s.cnt;
    s.cnt += 8;
  }
  const entry = table[s.buf & ((1 << width) - 1)];
  if (entry < 0) throw new InflateError("invalid code");
  const len = entry & 15;
  if (len > s.cnt) throw truncated(); // near the end fewer bits may exist than the table is wide
  s.buf >>>= len;
  s.cnt -= len;
  return entry >> 4;
}

function stored(s) {
  s.pos -= s.cnt >> 3; // to the byte boundary: give back the whole bytes read ahead
  s.buf = 0;
  s.cnt = 0;
  const { input, pos } = s;
  if (pos + 4 > s.end) throw truncated();
  const len = input[pos] | (input[pos + 1] << 8);
  const nlen = input[pos + 2] | (input[pos + 3] << 8);
  if (len !== (~nlen & 0xffff)) throw new InflateError("invalid stored block lengths");
  if (pos + 4 + len > s.end) throw truncated();
  if (s.o + len > s.out.length) throw tooMuch(s);
  s.out.set(input.subarray(pos + 4, pos + 4 + len), s.o);
  s.o += len;
  s.pos = pos + 4 + len;
}

function dynamic(s) {
  const nlen = bits(s, 5) + 257;
  const ndist = bits(s, 5) + 1;
  const ncode = bits(s, 4) + 4;
  if (nlen > 286 || ndist > 30) throw new InflateError("too many length or distance symbols");
  const codeLengths = new Uint8Array(19);
  for (let i = 0; i < ncode; i++) codeLengths[CODE_LENGTH_ORDER[i]] = bits(s, 3);
  const codeTable = buildTable(codeLengths, CODES);
  const lengths = new Uint8Array(nlen + ndist);
  for (let have = 0; have < nlen + ndist; ) {
    const symbol = decode(s, codeTable);
    if (symbol < 16) {
      lengths[have++] = symbol;
      continue;
    }
    let value = 0;
    let repeat;
    if (symbol === 16) {
      if (have === 0) throw new InflateError("invalid bit length repeat");
      value = lengths[have - 1];
      repeat = 3 + bits(s, 2);
    } else if (symbol === 17) {
      repeat = 3 + bits(s, 3);
    } else {
      repeat = 11 + bits(s, 7);
    }
    if (have + repeat > nlen + ndist) throw new InflateError("invalid bit length repeat");
    lengths.fill(value, have, have + repeat);
    have += repeat;
  }
  if (lengths[256] === 0) throw new InflateError("invalid code -- missing end-of-block");
  symbols(s, buildTable(lengths.subarray(0, nlen), LENS), buildTable(lengths.subarray(nlen), DISTS));
}

/** The symbols of one block up to its end-of-block code: where the time goes, so the state lives
 * in locals here and the function is small enough for V8 to optimise once and keep. */
function symbols(s, lit, dist) {
  const { input, end, out, window } = s;
  const size = out.length;
  const litTable = lit.table;
  const litMask = (1 << lit.bits) - 1;
  const distTable = dist.table;
  const distMask = (1 << dist.bits) - 1;
  let { buf, cnt, pos, o } = s;
  for (;;) {
    if (cnt < 15) {
      while (cnt <= 23 && pos < end) {
        buf |= input[pos++] << cnt;
        cnt += 8;
      }
    }
    let entry = litTable[buf & litMask];
    if (entry < 0) throw new InflateError("invalid literal/length code");
    let len = entry & 15;
    if (len > cnt) throw truncated();
    buf >>>= len;
    cnt -= len;
    const symbol = entry >> 4;
    if (symbol < 256) {
      if (o >= size) throw tooMuch(s);
      out[o++] = symbol;
      continue;
    }
    if (symbol === 256) break;
    const li = symbol - 257;
    if (li >= 29) throw new InflateError("invalid literal/length code");
    let length = LENGTH_BASE[li];
    const lengthExtra = LENGTH_EXTRA[li];
    // Up to 5 extra length bits and a distance code of up to 15: 20 bits, within one refill.
    while (cnt <= 23 && pos < end) {
      buf |= input[pos++] << cnt;
      cnt += 8;
    }
    if (lengthExtra) {
      if (lengthExtra > cnt) throw truncated();
      length += buf & ((1 << lengthExtra) - 1);
      buf >>>= lengthExtra;
      cnt -= lengthExtra;
    }
    entry = distTable[buf & distMask];
    if (entry < 0) throw new InflateError("invalid distance code");
    len = entry & 15;
    if (len > cnt) throw truncated();
    buf >>>= len;
    cnt -= len;
    const di = entry >> 4;
    if (di >= 30) throw new InflateError("invalid distance code");
    let distance = DIST_BASE[di];
    const distExtra = DIST_EXTRA[di];
    if (distExtra) {
      while (cnt <= 23 && pos < end) {
        buf |= input[pos++] << cnt;
        cnt += 8;
      }
      if (distExtra > cnt) throw truncated();
      distance += buf & ((1 << distExtra) - 1);
      buf >>>= distExtra;
      cnt -= distExtra;
    }
    if (distance > o || distance > window) throw new InflateError("invalid distance too far back");
    if (o + length > size) throw tooMuch(s);
    for (const stop = o + length; o < stop; o++) out[o] = out[o - distance];
  }
  s.buf = buf;
  s.cnt = cnt;
  s.pos = pos;
  s.o = o;
}
