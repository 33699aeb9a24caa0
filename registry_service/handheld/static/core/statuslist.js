// The signed status list, mirroring tag_tools/status_list.py's parse_status_list (and the
// envelope of tag_tools/signed_document.py): a COSE_Sign1 by a list signer the trust list names
// (trust.statusSigners(now)) over CWT claims whose status_list claim is
// {"bits": 2, "lst": zlib(packed statuses)}. Signature first, inflate last: unauthenticated bytes
// are never inflated. Every refusal is a VerifierError; `kind` says why ('not_authentic',
// 'malformed', 'stale', 'rollback').

import { CborMap, big, decode, intKey, isInt, pyEqualsInt, textKey } from "./cbor.js";
import { parseSign1 } from "./cose.js";
import { FormatError, SignatureError, VerifierError } from "./errors.js";
import { InflateError, inflateExact } from "./inflate.js";
import { toHex } from "./bytes.js";
import { LATEST_SECOND } from "./claims.js";

export const BITS = 2;
export const PER_BYTE = 4;
export const MAX_LIST_ID = 0xffff;
export const MAX_INDEXES = 2 ** 27;
export const MAX_SEQUENCE = 2n ** 63n - 1n;
export const MAX_TOKEN_SIZE = 16 * 1024 * 1024;
export const SUBJECT_PREFIX = "tag:gcyl.org,2026:status-list:";
export const STATUS = Object.freeze({ VALID: 0, SUPERSEDED: 1, REVOKED_STOLEN: 2, REVOKED_SCRAPPED: 3 });
export const STATUS_NAMES = ["valid", "superseded", "revoked_stolen", "revoked_scrapped"];
const SUBJECT = /^tag:gcyl\.org,2026:status-list:(0|[1-9][0-9]{0,4})$/;
const CLAIM = { SUB: 2, EXP: 4, IAT: 6, STATUS_LIST: 65533, TTL: 65534, SEQUENCE: -65537, COUNT: -65538 };
const CLAIM_KEYS = Object.values(CLAIM).map(intKey);

/** One held status list; status(index) is the entry's value, or null outside the list. */
export class StatusList {
  constructor({ listId, sequence, issuedAt, expiresAt, ttlSeconds, count, packed }) {
    this.listId = listId;
    this.sequence = sequence; // BigInt beyond 2^53
    this.issuedAt = issuedAt; // Date
    this.expiresAt = expiresAt; // Date
    this.ttlSeconds = ttlSeconds;
    this.count = count;
    this.packed = packed;
  }

  /** 0..3 (STATUS), or null when `index` is outside the list (a record newer than the list). */
  status(index) {
    if (!(index >= 0 && index < this.count)) return null;
    return (this.packed[index >> 2] >> ((index & 3) * BITS)) & 3;
  }
}

function refused(message, kind = "malformed") {
  const reason = kind === "stale" || kind === "rollback" ? "trust_list_stale" : "trust_list_not_authentic";
  return new VerifierError(reason, message, kind);
}

/**
 * Verify and unpack a Status List Token as a station does (station_agent/status_lists.py):
 * signed by one of trust.statusSigners(now), list `listId` when given, unexpired at `now`,
 * issued within its signer's validity and not after now + clock skew, sequence >= minSequence.
 */
export async function parseStatusList(bytes, trust, now, { listId = null, minSequence = 0, clockSkewSeconds = 600 } = {}) {
  const nowMs = now.getTime();
  const signers = trust ? trust.statusSigners(now) : [];
  if (bytes.length > MAX_TOKEN_SIZE) throw refused(`status list is ${bytes.length} bytes, more than the ${MAX_TOKEN_SIZE} allowed`);
  let envelope;
  try {
    envelope = parseSign1(bytes, MAX_TOKEN_SIZE);
  } catch (error) {
    if (error instanceof FormatError) throw refused(`status list is not a COSE_Sign1: ${error.message}`);
    throw error;
  }
  const kid = toHex(envelope.kid);
  const signer = signers.find((s) => s.kidHex === kid);
  if (!signer) throw refused(`status list signed by ${kid}, which is not a trusted status signer`, "not_authentic");
  try {
    await envelope.verify(await signer.verifier());
  } catch (error) {
    if (error instanceof SignatureError) throw refused(`status list is not authentic: ${error.message}`, "not_authentic");
    throw error;
  }
  let claims;
  try {
    claims = decode(envelope.payload, "status list claims", MAX_TOKEN_SIZE);
  } catch (error) {
    if (error instanceof FormatError) throw refused(`status list claims are not deterministic CBOR: ${error.message}`);
    throw error;
  }
  const header = headerFromClaims(claims);
  if (listId !== null && header.listId !== listId) throw refused(`expected status list ${listId}, got list ${header.listId}`);
  if (!(signer.notBefore <= header.issuedAt && header.issuedAt <= signer.notAfter)) {
    throw refused("status list issued outside its signer certificate's validity");
  }
  if (nowMs >= header.expiresAt) {
    throw refused(`status list ${header.listId} expired at ${new Date(header.expiresAt).toISOString()}`, "stale");
  }
  if (header.issuedAt > nowMs + clockSkewSeconds * 1000) {
    throw refused(`status list ${header.listId} is issued in the future: check the clock`, "stale");
  }
  if (big(header.sequence) < big(minSequence)) {
    throw refused(`status list ${header.listId} has sequence ${header.sequence}, older than the ${minSequence} held`, "rollback");
  }
  const size = Math.ceil(header.count / PER_BYTE);
  let packed;
  try {
    packed = inflateExact(header.lst, size);
  } catch (error) {
    if (error instanceof InflateError) throw refused(`status list is not a valid zlib stream: ${error.message}`);
    throw error;
  }
  const spare = header.count % PER_BYTE;
  if (spare && packed[packed.length - 1] >> (spare * BITS)) throw refused("the unused bits after the last index are not zero");
  return new StatusList({
    listId: header.listId,
    sequence: header.sequence,
    issuedAt: new Date(header.issuedAt),
    expiresAt: new Date(header.expiresAt),
    ttlSeconds: header.ttl,
    count: header.count,
    packed,
  });
}

function headerFromClaims(claims) {
  if (!(claims instanceof CborMap) || !claims.hasExactlyKeys(CLAIM_KEYS)) throw refused("status list claims have the wrong set of keys");
  const inner = claims.getInt(CLAIM.STATUS_LIST);
  if (!(inner instanceof CborMap) || !inner.hasExactlyKeys([textKey("bits"), textKey("lst")])) {
    throw refused('status_list claim must be a map of exactly "bits" and "lst"');
  }
  const bits = inner.getText("bits");
  if (!isInt(bits) || !pyEqualsInt(bits, BITS)) {
    throw refused(`status list has ${String(bits)} bits per entry; this profile uses ${BITS}`);
  }
  const subject = claims.getInt(CLAIM.SUB);
  const lst = inner.getText("lst");
  const match = typeof subject === "string" ? SUBJECT.exec(subject) : null;
  if (!(lst instanceof Uint8Array) || match === null) {
    throw refused(`status list "lst" must be bytes and sub of the form ${SUBJECT_PREFIX}<list id>`);
  }
  const numbers = [CLAIM.EXP, CLAIM.IAT, CLAIM.TTL, CLAIM.SEQUENCE, CLAIM.COUNT];
  const [expires, issued, ttl, sequence, count] = numbers.map((k) => claims.getInt(k));
  if (![expires, issued, ttl].every((n) => isInt(n) && big(n) >= 0n && big(n) <= big(LATEST_SECOND))) {
    throw refused(`status list times and ttl must be integers in 0..${LATEST_SECOND}`);
  }
  if (!isInt(sequence) || !isInt(count) || big(count) < 0n || big(count) > big(MAX_INDEXES)) {
    throw refused(`status list sequence must be an integer and count one in 0..${MAX_INDEXES}`);
  }
  const header = {
    listId: Number(match[1]),
    sequence,
    issuedAt: Number(issued) * 1000,
    expiresAt: Number(expires) * 1000,
    ttl: Number(ttl),
    count: Number(count),
    lst,
  };
  if (header.listId > MAX_LIST_ID) throw refused(`list id must be in 0..${MAX_LIST_ID}`);
  if (big(sequence) < 0n || big(sequence) > MAX_SEQUENCE) throw refused(`sequence must be in 0..${MAX_SEQUENCE}`);
  if (header.expiresAt <= header.issuedAt) throw refused("a status list must expire after it is issued");
  if (header.ttl < 1) throw refused("ttl must be a whole, positive number of seconds");
  return header;
}
