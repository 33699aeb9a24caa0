// The handheld verifier's entry point, mirroring tag_tools/verify.py's verify_tag for a phone: no
// chip evidence (Web NFC reads neither the originality signature nor the counter) and no
// per-cylinder revocation feed (the phone holds the signed status lists instead). The order of the
// checks, and so the one reason an unauthentic record is refused with, is the station's; for an
// authentic record every reason that applies is listed, most serious first, as the station does.
//
// Plain ES module: no DOM, no Web NFC, no fetch. The page (or a WeChat mini-program) reads the tag
// and fetches the signed lists; this module only decides.

import { decode } from "./cbor.js";
import { parseSign1 } from "./cose.js";
import { FormatError, NoRecordError, SignatureError, UnsupportedVersionError, VerifierError } from "./errors.js";
import { recordPayload, recordPayloadFromWebNfc, webNfcRecordsOf } from "./ndef.js";
import { recordFromClaims } from "./claims.js";
import { REASONS, WARNING_REASONS } from "./reasons.js";
import { checkTimeZone, isDueSoon, isOverdue, isPastServiceLife, issuedBeforeInspection, localDay } from "./rules.js";
import { STATUS, StatusList, parseStatusList } from "./statuslist.js";
import { TrustState, parseTrustList } from "./trustlist.js";
import { bytesEqual, toHex } from "./bytes.js";

export { VerifierError, parseTrustList, parseStatusList, TrustState, StatusList, REASONS, WARNING_REASONS, webNfcRecordsOf };

/** Like tag_tools.verify.DEFAULT_POLICY, but a phone in China judges days in China's zone. */
export const DEFAULT_POLICY = Object.freeze({ warningDays: 30, clockSkewSeconds: 600, timeZone: "Asia/Shanghai" });

class Rejected extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
    this.detail = detail;
  }
}

/** The tag's serial number as Web NFC gives it ("04:a1:b2:...") as bytes. */
export function uidFromSerialNumber(serialNumber) {
  if (typeof serialNumber !== "string" || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(serialNumber)) {
    throw new TypeError(`not a Web NFC serial number: ${String(serialNumber)}`);
  }
  return Uint8Array.from(serialNumber.split(":"), (pair) => parseInt(pair, 16));
}

function heldList(statusLists, listId) {
  if (!statusLists) return undefined;
  if (statusLists instanceof Map) return statusLists.get(listId);
  if (Array.isArray(statusLists)) return statusLists.find((l) => l.listId === listId);
  return statusLists[listId];
}

/**
 * The verdict on one tag: { decision, reasons, detail, record, signerCentreId, statusChecked }.
 * `ndefMessage` (raw bytes) or `records` (Web NFC records) hold what the tag holds; `uid` its
 * serial number; `trust` a TrustState (null when none could be loaded); `statusLists` the held
 * StatusLists by list id; `now` a Date.
 */
export async function verifyTag({ uid, records, ndefMessage, trust, statusLists, now, policy } = {}) {
  // Programming errors, not bad tag content: thrown, as tag_tools raises for a naive `now`.
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError("`now` must be a valid Date");
  if (uid !== null && !(uid instanceof Uint8Array)) throw new TypeError("`uid` must be a Uint8Array (or null to skip the binding)");
  const settings = { ...DEFAULT_POLICY, ...(policy || {}) };
  checkTimeZone(settings.timeZone);
  let authenticated;
  try {
    authenticated = await authenticate(uid, records, ndefMessage, trust, now, settings);
  } catch (error) {
    if (error instanceof Rejected) return verdict("refuse", [error.reason], error.detail);
    return verdict("refuse", [REASONS.MALFORMED], `internal error: ${error && error.name}`);
  }
  return judge(authenticated, now, settings, statusLists);
}

function verdict(decision, reasons, detail, record = null, signerCentreId = null, statusChecked = false) {
  return { decision, reasons, detail, record, signerCentreId, statusChecked };
}

async function authenticate(uid, records, ndefMessage, trust, now, policy) {
  if (!trust) throw new Rejected(REASONS.TRUST_LIST_NOT_AUTHENTIC, "no authentic trust list is held");
  const freshness = trust.freshnessProblem(now);
  if (freshness !== null) throw new Rejected(...freshness);
  const envelope = envelopeOf(records, ndefMessage);
  const kid = toHex(envelope.kid);
  const revoked = trust.revoked.get(kid);
  if (revoked !== undefined) {
    const when = new Date(revoked.revokedAt).toISOString();
    throw new Rejected(REASONS.SIGNER_REVOKED, `signer ${kid} revoked at ${when} (${revoked.reason})`);
  }
  const signer = trust.signers.get(kid);
  if (signer === undefined) throw new Rejected(REASONS.UNKNOWN_SIGNER, `no trusted centre certificate has kid ${kid}`);
  try {
    await envelope.verify(await signer.verifier());
  } catch (error) {
    if (error instanceof SignatureError) throw new Rejected(REASONS.BAD_SIGNATURE, error.message);
    throw error;
  }
  const record = claimsOf(envelope.payload);
  if (!(signer.notBefore <= record.issuedAt && record.issuedAt <= signer.notAfter)) {
    throw new Rejected(REASONS.SIGNER_NOT_VALID_AT_ISSUE, `record issued ${record.issuedAtIso} outside the signer's validity`);
  }
  if (record.centreId !== signer.centreId) {
    throw new Rejected(REASONS.MALFORMED, `record names centre ${record.centreId} but was signed by ${signer.centreId}`);
  }
  if (record.issuedAt > now.getTime() + policy.clockSkewSeconds * 1000) {
    throw new Rejected(REASONS.ISSUED_IN_FUTURE, `record issued at ${record.issuedAtIso}, after now`);
  }
  if (uid !== null && !bytesEqual(record.tagUidBytes, uid)) {
    throw new Rejected(
      REASONS.UID_MISMATCH,
      `record belongs to tag ${record.tagUid}, read from tag ${toHex(uid).toUpperCase()}: moved or cloned`,
    );
  }
  return { record, signer };
}

function envelopeOf(records, ndefMessage) {
  try {
    const payload = ndefMessage !== undefined && ndefMessage !== null ? recordPayload(ndefMessage) : recordPayloadFromWebNfc(records);
    return parseSign1(payload);
  } catch (error) {
    if (error instanceof NoRecordError) throw new Rejected(REASONS.NO_RECORD, error.message);
    if (error instanceof FormatError) throw new Rejected(REASONS.MALFORMED, error.message);
    throw error;
  }
}

function claimsOf(payload) {
  try {
    return recordFromClaims(decode(payload, "claims"));
  } catch (error) {
    if (error instanceof UnsupportedVersionError) throw new Rejected(REASONS.UNSUPPORTED_VERSION, error.message);
    if (error instanceof FormatError) throw new Rejected(REASONS.MALFORMED, error.message);
    throw error;
  }
}

/** What the record's entry in its held status list says, and whether it was read. */
function statusFindings(record, statusLists, now) {
  const reference = record.statusRef;
  const held = reference ? heldList(statusLists, reference.listId) : undefined;
  if (!held) return { findings: [], checked: false };
  if (now.getTime() >= held.expiresAt.getTime()) {
    const expired = `status list ${held.listId} expired ${held.expiresAt.toISOString()}`;
    return { findings: [[REASONS.TRUST_LIST_STALE, expired]], checked: false };
  }
  const value = held.status(reference.index);
  const where = `status list ${held.listId} entry ${reference.index}`;
  if (value === null) return { findings: [], checked: false }; // a record newer than the list
  if (value === STATUS.SUPERSEDED) {
    return { findings: [[REASONS.RECORD_SUPERSEDED, `${where}: superseded by a newer inspection`]], checked: true };
  }
  if (value === STATUS.REVOKED_STOLEN || value === STATUS.REVOKED_SCRAPPED) {
    const why = value === STATUS.REVOKED_STOLEN ? "revoked_stolen" : "revoked_scrapped";
    return { findings: [[REASONS.CYLINDER_REVOKED, `${where}: ${why}`]], checked: true };
  }
  return { findings: [], checked: true };
}

/** The filling rules on an authentic record: every reason that applies (tag_tools.verify._judge). */
function judge({ record, signer }, now, policy, statusLists) {
  const today = localDay(now.getTime(), policy.timeZone);
  const reasons = [];
  const details = [];
  const { findings, checked } = statusFindings(record, statusLists, now);
  for (const [reason, detail] of findings) {
    reasons.push(reason);
    details.push(detail);
  }
  if (record.result === "failed") {
    reasons.push(REASONS.INSPECTION_FAILED);
    details.push(`failed inspection on ${record.inspected}`);
  }
  if (issuedBeforeInspection(record.issuedAt, record.inspectedDay, policy.timeZone)) {
    reasons.push(REASONS.MALFORMED);
    details.push(`record issued ${record.issuedAtIso}, before its inspection on ${record.inspected}`);
  }
  if (isPastServiceLife(today, record.endOfLifeDay)) {
    reasons.push(REASONS.PAST_SERVICE_LIFE);
    details.push(`design service life ended ${record.endOfLife}`);
  }
  if (isOverdue(today, record.nextDueDay)) {
    reasons.push(REASONS.INSPECTION_OVERDUE);
    details.push(`inspection was due ${record.nextDue}`);
  }
  const refused = reasons.some((r) => !WARNING_REASONS.has(r));
  if (isDueSoon(today, record.nextDueDay, record.endOfLifeDay, policy.warningDays, refused)) {
    reasons.push(REASONS.DUE_SOON);
    details.push(`next inspection ${record.nextDue}, end of life ${record.endOfLife}`);
  }
  const decision = refused ? "refuse" : reasons.length ? "allow_with_warning" : "allow";
  return verdict(decision, reasons, details.join("; "), record, signer.centreId, checked);
}
