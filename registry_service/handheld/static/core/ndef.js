// The cylinder record inside an NDEF message, mirroring tag_tools/ndef_record.py: the record is
// TNF 4 (external type) with type `gcyl.org:r` compared case-insensitively (ASCII, as RTD 1.0
// says); look-alikes (the same bytes under another TNF) are ignored; two cylinder records are
// ambiguous; a chunked cylinder record or one with a record ID is refused; the message must be
// well formed (NDEF 1.0) or it is refused as a whole.
//
// Web NFC hands the page parsed records instead of bytes (NDEFRecord: recordType, id, data);
// recordPayloadFromWebNfc applies the same rules to them, as far as Web NFC shows them (it hides
// the TNF behind recordType, so a look-alike can never pass for an external type there).

import { FormatError, NoRecordError } from "./errors.js";

export const TNF_EXTERNAL = 0x04;
export const EXTERNAL_TYPE = "gcyl.org:r";
export const MAX_MESSAGE_SIZE = 1024;
const EXTERNAL_TYPE_BYTES = [...EXTERNAL_TYPE].map((c) => c.charCodeAt(0));

const MB = 0x80;
const ME = 0x40;
const CF = 0x20;
const SR = 0x10;
const IL = 0x08;
const TNF_MASK = 0x07;
const TNF_EMPTY = 0x00;
const TNF_UNKNOWN = 0x05;
const TNF_UNCHANGED = 0x06;
const TNF_RESERVED = 0x07;

function illFormed(why) {
  return new FormatError(`not a well-formed NDEF message: ${why}`);
}

/** TNF 4 and the external type name, ASCII case-insensitively (Python's bytes.lower()). */
function isCylinderRecord(record) {
  if (record.tnf !== TNF_EXTERNAL || record.type.length !== EXTERNAL_TYPE_BYTES.length) return false;
  for (let i = 0; i < record.type.length; i++) {
    let b = record.type[i];
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (b !== EXTERNAL_TYPE_BYTES[i]) return false;
  }
  return true;
}

/** The COSE_Sign1 bytes of the one cylinder record in `message` (NoRecordError / FormatError). */
export function recordPayload(message) {
  if (!message || message.length === 0) throw new NoRecordError("the tag holds no NDEF message");
  const ours = decodeMessage(message).filter(isCylinderRecord);
  return theOne(ours);
}

function theOne(ours) {
  if (ours.length === 0) throw new NoRecordError("the NDEF message holds no cylinder record");
  if (ours.length > 1) throw new FormatError("the NDEF message holds more than one cylinder record (ambiguous)");
  if (ours[0].chunked) throw new FormatError("the cylinder record must not be chunked");
  if (ours[0].id.length) throw new FormatError("the cylinder record must not carry an NDEF record ID");
  return ours[0].payload;
}

/** Every logical record of a well-formed NDEF message: {tnf, type, id, payload, chunked}. */
export function decodeMessage(message) {
  if (message.length > MAX_MESSAGE_SIZE) throw new FormatError(`NDEF message of ${message.length} bytes is larger than any tag`);
  const records = [];
  let chunks = [];
  let position = 0;
  let first = true;
  for (;;) {
    if (position >= message.length) throw illFormed("it ends before a record with ME");
    const [flags, tnf, type, id, payload, end] = header(message, position);
    position = end;
    if (Boolean(flags & MB) !== first) throw illFormed("MB must be set on the first record only");
    first = false;
    checkTnf(tnf, type, id, payload);
    const continuing = chunks.length > 0;
    if (continuing !== (tnf === TNF_UNCHANGED)) {
      throw illFormed("TNF 6 (unchanged) must mark, and only mark, a following chunk");
    }
    if (continuing && (type.length || id.length)) throw illFormed("a following chunk carries a type or an ID");
    if (flags & CF || continuing) {
      chunks.push({ tnf, type, id, payload });
      if (!(flags & CF)) {
        const size = chunks.reduce((n, c) => n + c.payload.length, 0);
        const joined = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          joined.set(c.payload, at);
          at += c.payload.length;
        }
        records.push({ tnf: chunks[0].tnf, type: chunks[0].type, id: chunks[0].id, payload: joined, chunked: true });
        chunks = [];
      }
    } else {
      records.push({ tnf, type, id, payload, chunked: false });
    }
    if (flags & ME) {
      if (flags & CF) throw illFormed("CF set on the last record");
      break;
    }
  }
  if (position !== message.length) throw illFormed(`${message.length - position} bytes follow its end`);
  return records;
}

function header(message, position) {
  const flags = message[position];
  const lengthSize = flags & SR ? 1 : 4;
  const fixed = 2 + lengthSize + (flags & IL ? 1 : 0);
  if (position + fixed > message.length) throw illFormed("a record header is cut short");
  const typeLength = message[position + 1];
  let payloadLength = 0;
  for (let i = 0; i < lengthSize; i++) payloadLength = payloadLength * 256 + message[position + 2 + i];
  const idLength = flags & IL ? message[position + 2 + lengthSize] : 0;
  const start = position + fixed;
  const end = start + typeLength + idLength + payloadLength;
  if (end > message.length) throw illFormed("a record is longer than the message");
  return [
    flags,
    flags & TNF_MASK,
    message.subarray(start, start + typeLength),
    message.subarray(start + typeLength, start + typeLength + idLength),
    message.subarray(start + typeLength + idLength, end),
    end,
  ];
}

function checkTnf(tnf, type, id, payload) {
  if (tnf === TNF_RESERVED) throw illFormed("TNF 7 is reserved");
  const typeless = tnf === TNF_EMPTY || tnf === TNF_UNKNOWN || tnf === TNF_UNCHANGED;
  if (typeless && type.length) throw illFormed(`TNF ${tnf} must have no type`);
  if (tnf === TNF_EMPTY && (id.length || payload.length)) throw illFormed("an empty record (TNF 0) must have no ID or payload");
  if (!typeless && !type.length) throw illFormed(`TNF ${tnf} needs a type`);
}

function bytesOf(data) {
  if (data === undefined || data === null) return new Uint8Array(0);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new FormatError("a Web NFC record carries data of an unknown kind");
}

/**
 * The COSE_Sign1 bytes of the one cylinder record among Web NFC records
 * ([{recordType, id, data}], as NDEFReader's reading event gives them).
 */
export function recordPayloadFromWebNfc(records) {
  if (!records || records.length === 0) throw new NoRecordError("the tag holds no NDEF message");
  const ours = records
    .filter((r) => typeof r.recordType === "string" && asciiLower(r.recordType) === EXTERNAL_TYPE)
    .map((r) => ({ id: r.id ? [...String(r.id)] : [], chunked: false, payload: bytesOf(r.data) }));
  return theOne(ours);
}

function asciiLower(text) {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * Web NFC's view of a raw NDEF message (what NDEFReader would hand the page): for each logical
 * record its recordType ("empty", "text"/"url"/... for well-known, "mime", "absolute-url",
 * "unknown", or the external type name), mediaType, id and data. For tests and the page's
 * stand-in reader; chunked records arrive joined, as Android delivers them.
 */
export function webNfcRecordsOf(message) {
  const wellKnown = { T: "text", U: "url", Sp: "smart-poster" };
  const latin1 = (bytes) => String.fromCharCode(...bytes);
  return decodeMessage(message).map((r) => {
    const type = latin1(r.type);
    let recordType;
    let mediaType;
    if (r.tnf === 0) recordType = "empty";
    else if (r.tnf === 1) recordType = wellKnown[type] || `:${type}`;
    else if (r.tnf === 2) [recordType, mediaType] = ["mime", type];
    else if (r.tnf === 3) recordType = "absolute-url";
    else if (r.tnf === 4) recordType = type;
    else recordType = "unknown";
    const data = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
    return { recordType, mediaType, id: r.id.length ? latin1(r.id) : "", data };
  });
}
