// The claims of a cylinder record, mirroring tag_tools/claims.py (CylinderRecord.from_cbor_map and
// check_consistency): a CBOR map with small integer keys, every type, length and range checked,
// and any violation a FormatError (the verdict's `malformed`); a format version other than 1 is
// UnsupportedVersionError. Text lengths count code points and "printable" is Python's
// str.isprintable(), so the same claims pass and fail here as at a station.

import { CborMap, big, intKey, isInt } from "./cbor.js";
import { FormatError, UnsupportedVersionError } from "./errors.js";
import { LATEST_ZONE, isoDay, issuedBeforeInspection } from "./rules.js";
import { toHex } from "./bytes.js";
import { codePoints, isPrintable } from "./text.js";

export const FORMAT_VERSION = 1;
export const LATEST_DAY = 84_005; // (2199-12-31 - 1970-01-01).days
export const LATEST_SECOND = 7_258_032_000; // 2199-12-31T00:00:00Z
const VIN_PATTERN = /^[A-HJ-NPR-Z0-9]{17}$/;
const KINDS = { 1: "CNG-1", 2: "CNG-2", 3: "CNG-3", 4: "CNG-4", 5: "LNG", 6: "LPG" };
const RESULTS = { 0: "passed", 1: "failed" };

const NAMES = {
  1: "version", 2: "serial", 3: "cylinder_id", 4: "manufacturer", 5: "kind", 6: "working_pressure",
  7: "water_capacity", 8: "manufactured", 9: "inspected", 10: "result", 11: "next_due", 12: "end_of_life",
  13: "plate", 14: "vin", 15: "vehicle_cylinders", 16: "centre", 17: "report", 18: "sequence",
  19: "issued_at", 20: "tag_uid", 21: "status",
};
const ALLOWED = Object.keys(NAMES).map(Number);
const REQUIRED = ALLOWED.filter((k) => k !== 21);

function bad(key, what) {
  return new FormatError(`claim ${key} (${NAMES[key]}) ${what}`);
}

function uint(claims, key, low, high) {
  const value = claims.getInt(key);
  if (!isInt(value) || big(value) < big(low) || big(value) > big(high)) throw bad(key, `must be an integer in ${low}..${high}`);
  return Number(value);
}

function text(claims, key, shortest, longest) {
  const value = claims.getInt(key);
  if (typeof value !== "string") throw bad(key, `must be printable text of ${shortest}..${longest} characters`);
  const length = codePoints(value);
  if (length < shortest || length > longest || !isPrintable(value)) {
    throw bad(key, `must be printable text of ${shortest}..${longest} characters`);
  }
  return value;
}

function bytes(claims, key, shortest, longest) {
  const value = claims.getInt(key);
  if (!(value instanceof Uint8Array) || value.length < shortest || value.length > longest) {
    throw bad(key, `must be ${shortest}..${longest} bytes`);
  }
  return value;
}

function day(claims, key) {
  return uint(claims, key, 0, LATEST_DAY);
}

function enumeration(claims, key, names) {
  const value = uint(claims, key, 0, 255);
  if (!(value in names)) throw bad(key, `has unknown value ${value}`);
  return value;
}

function cylinderId(value) {
  if (!Array.isArray(value) || value.length !== 3 || !value.every(isInt)) {
    throw new FormatError("claim 3 (cylinder id) must be [country, issuer, number] integers");
  }
  const [country, issuer, number] = value.map(big);
  if (!(country >= 1n && country <= 999n && issuer >= 0n && issuer <= 2n ** 32n - 1n && number >= 0n && number <= 2n ** 48n - 1n)) {
    throw new FormatError("claim 3 (cylinder id) is out of range (country 1..999, issuer < 2^32, number < 2^48)");
  }
  return `${String(country).padStart(3, "0")}-${issuer}-${number}`;
}

function statusReference(value) {
  if (!Array.isArray(value) || value.length !== 2 || !value.every(isInt)) {
    throw new FormatError("claim 21 (status) must be [list id, index] integers");
  }
  const [listId, index] = value.map(big);
  if (!(listId >= 0n && listId <= 0xffffn && index >= 0n && index <= 2n ** 32n - 1n)) {
    throw new FormatError("claim 21 (status) is out of range (list id 0..65535, index 0..4294967295)");
  }
  return { listId: Number(listId), index: Number(index) };
}

/**
 * The record in a decoded claims map. Dates are day numbers (inspected, nextDueDay...) with ISO
 * strings beside them for display; issuedAt is milliseconds since the epoch.
 */
export function recordFromClaims(claims) {
  if (!(claims instanceof CborMap)) throw new FormatError("claims are not a CBOR map");
  const version = claims.getInt(1);
  if (!isInt(version)) throw new FormatError("claim 1 (format version) is missing or not an integer");
  if (big(version) !== big(FORMAT_VERSION)) {
    throw new UnsupportedVersionError(`record format version ${version} is not supported (only ${FORMAT_VERSION})`);
  }
  const keys = new Set(claims.index.keys());
  const allowed = new Set(ALLOWED.map(intKey));
  if (!REQUIRED.every((k) => keys.has(intKey(k))) || ![...keys].every((k) => allowed.has(k))) {
    throw new FormatError("claims map has missing keys or unknown keys");
  }
  const record = {
    version: FORMAT_VERSION,
    serial: text(claims, 2, 1, 32),
    cylinderId: cylinderId(claims.getInt(3)),
    manufacturer: text(claims, 4, 1, 32),
    kindCode: enumeration(claims, 5, KINDS),
    workingPressureDmpa: uint(claims, 6, 1, 1000),
    waterCapacityDl: uint(claims, 7, 1, 100_000),
    manufacturedDay: day(claims, 8),
    inspectedDay: day(claims, 9),
    resultCode: enumeration(claims, 10, RESULTS),
    nextDueDay: day(claims, 11),
    endOfLifeDay: day(claims, 12),
    plate: text(claims, 13, 1, 16),
    vin: text(claims, 14, 17, 17),
    vehicleCylinders: uint(claims, 15, 1, 16),
    centreId: text(claims, 16, 1, 32),
    reportNumber: text(claims, 17, 1, 32),
    sequence: uint(claims, 18, 0, 2 ** 32 - 1),
    issuedAt: uint(claims, 19, 0, LATEST_SECOND) * 1000,
    tagUidBytes: bytes(claims, 20, 4, 10),
    statusRef: claims.hasInt(21) ? statusReference(claims.getInt(21)) : null,
  };
  checkConsistency(record);
  return withDisplayFields(record);
}

function checkConsistency(r) {
  if (!VIN_PATTERN.test(r.vin)) throw new FormatError(`VIN ${r.vin} is not 17 characters of A-Z (no I, O, Q) and 0-9`);
  if (!(r.manufacturedDay <= r.inspectedDay && r.inspectedDay <= r.nextDueDay)) {
    throw new FormatError("dates must satisfy manufactured <= inspected <= next due");
  }
  if (r.endOfLifeDay <= r.manufacturedDay) throw new FormatError("end of service life must be after the manufacture date");
  if (issuedBeforeInspection(r.issuedAt, r.inspectedDay, LATEST_ZONE)) {
    throw new FormatError("a record cannot be issued before its inspection");
  }
}

/** What the page shows, in the names of the contract (docs: issue 18 contract). */
function withDisplayFields(r) {
  return {
    ...r,
    kind: KINDS[r.kindCode],
    result: RESULTS[r.resultCode],
    manufactured: isoDay(r.manufacturedDay),
    inspected: isoDay(r.inspectedDay),
    nextDue: isoDay(r.nextDueDay),
    endOfLife: isoDay(r.endOfLifeDay),
    issuedAtIso: new Date(r.issuedAt).toISOString().replace(".000Z", "Z"),
    tagUid: toHex(r.tagUidBytes).toUpperCase(),
  };
}
