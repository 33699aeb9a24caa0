// The bureau's signed trust list as a station holds it, mirroring tag_tools/trustlist.py
// (parse_trust_list with `now`, then TrustStore.load): the pinned root's profile and validity,
// the signature (the root's for version 1 or a root-signed version 2, else a list signer's whose
// certificate rides in the protected x5chain and meets the list-signer profile at `now`), every
// centre and list-signer certificate against the profile, the root-signed signer revocations, and
// the list signer's coverage. Any failure is VerifierError('trust_list_not_authentic'); staleness
// is left to verifyTag (freshnessProblem), as tag_tools.verify does.

import { CborMap, big, decode, intKey, isInt, pyEqualsInt } from "./cbor.js";
import { KID_SIZE, parseSign1 } from "./cose.js";
import { FormatError, SignatureError, TrustError, VerifierError } from "./errors.js";
import { bytesEqual, toHex } from "./bytes.js";
import { checkCentreCertificate, checkListSigner, checkRoot, checkValidAt, verifierOf } from "./certprofile.js";
import { loadCertificate, parseCertificate } from "./x509.js";
import { kidOf } from "./webcrypto.js";

export const MAX_TRUST_LIST_SIZE = 4 * 1024 * 1024;
export const DEFAULT_MAX_AGE_SECONDS = 7 * 86_400; // TrustStore.load's default, a station's too
const FUTURE_TOLERANCE_MS = 10 * 60_000;
const LATEST_TIME = 253_402_300_799; // 9999-12-31T23:59:59Z: Python's datetime ends there
const EARLIEST_TIME = -62_135_596_800; // 0001-01-01T00:00:00Z
const V1_KEYS = [1, 2, 3, 4, 5, 6].map(intKey);
const V2_KEYS = [1, 2, 3, 4, 5, 6, 7].map(intKey);
const REVOCATION_KEYS = [1, 2, 3, 4].map(intKey);
const REVOCATION_REASONS = { 1: "key_compromise", 2: "misconduct", 3: "superseded", 4: "ceased_operation" };

/** A certificate with its kid (hex) computed. */
async function withKid(certificate) {
  certificate.kidHex = toHex(await kidOf(certificate.der));
  return certificate;
}

function time(seconds) {
  if (!isInt(seconds) || big(seconds) > big(LATEST_TIME) || big(seconds) < big(EARLIEST_TIME)) {
    throw new TrustError(`time ${String(seconds)} is out of range`);
  }
  return Number(seconds) * 1000;
}

function revokedFrom(entry) {
  if (!Array.isArray(entry) || entry.length !== 3) throw new TrustError("revoked entry must be [kid, revoked_at, reason]");
  const [kid, when, reason] = entry;
  if (!(kid instanceof Uint8Array) || kid.length !== KID_SIZE || !isInt(when) || !isInt(reason)) {
    throw new TrustError("revoked entry has wrong types");
  }
  if (!(Number(reason) in REVOCATION_REASONS) || typeof reason !== "number") throw new TrustError("revoked entry is out of range");
  return { kidHex: toHex(kid), revokedAt: time(when), reason: REVOCATION_REASONS[reason] };
}

function revokedListFrom(entries) {
  return entries.map(revokedFrom);
}

/** The root's signed list of revoked list signers (tag_tools.trustlist.parse_signer_revocations). */
async function parseSignerRevocations(blob, root) {
  let body;
  try {
    const envelope = parseSign1(blob, MAX_TRUST_LIST_SIZE);
    if (toHex(envelope.kid) !== root.kidHex) throw new TrustError("signer revocations were not signed by the pinned bureau root");
    await envelope.verify(await verifierOf(root));
    body = decode(envelope.payload, "signer revocations", MAX_TRUST_LIST_SIZE);
  } catch (error) {
    if (error instanceof FormatError || error instanceof SignatureError) {
      throw new TrustError(`signer revocations are not authentic: ${error.message}`);
    }
    throw error;
  }
  if (!(body instanceof CborMap) || !body.hasExactlyKeys(REVOCATION_KEYS)) {
    throw new TrustError("signer revocations have the wrong set of keys");
  }
  if (!pyEqualsInt(body.getInt(1), 1)) throw new TrustError("signer revocations version is not supported");
  const [sequence, issued, revoked] = [2, 3, 4].map((k) => body.getInt(k));
  if (!isInt(sequence) || !isInt(issued) || big(sequence) < 0n || big(issued) < 0n || !Array.isArray(revoked)) {
    throw new TrustError("signer revocations sequence and time must be unsigned integers, revoked an array");
  }
  return { sequence, issuedAt: time(issued), revoked: revokedListFrom(revoked) };
}

/** The list signer from x5chain, checked against the root at `now`; null for a root-signed list. */
async function listSignerOf(envelope, root, now) {
  if (envelope.x5chain.length === 0) {
    if (toHex(envelope.kid) !== root.kidHex) throw new TrustError("trust list was not signed by the pinned bureau root");
    return null;
  }
  const signer = await withKid(loadCertificate(envelope.x5chain[0]));
  const rest = envelope.x5chain.slice(1);
  if (!(rest.length === 0 || (rest.length === 1 && bytesEqual(rest[0], root.der)))) {
    throw new TrustError("trust list x5chain must end at the pinned bureau root");
  }
  if (toHex(envelope.kid) !== signer.kidHex) throw new TrustError("trust list kid does not name the certificate in its x5chain");
  await checkListSigner(signer, root, now);
  return signer;
}

async function certificates(entries, what, check) {
  if (!Array.isArray(entries)) throw new TrustError(`trust list ${what} entries must be an array`);
  const out = [];
  for (const der of entries) {
    if (!(der instanceof Uint8Array)) throw new TrustError(`trust list ${what} entry is not a DER certificate`);
    const certificate = await withKid(loadCertificate(der));
    certificate.identity = await check(certificate);
    out.push(certificate);
  }
  return out;
}

async function trustListFrom(body, root, signer) {
  if (!(body instanceof CborMap)) throw new TrustError("trust list body is not a map");
  const version = body.getInt(1);
  // Key 8 (signer revocations) may be absent or null: Python's body.get(8) cannot tell them apart.
  const keysWithout8 = [...body.index.keys()].filter((k) => k !== intKey(8));
  if (pyEqualsInt(version, 1) && signer === null) {
    if (!body.hasExactlyKeys(V1_KEYS)) throw new TrustError("trust list body has the wrong set of keys");
  } else if (pyEqualsInt(version, 2)) {
    if (keysWithout8.length !== V2_KEYS.length || !V2_KEYS.every((k) => keysWithout8.includes(k))) {
      throw new TrustError("trust list body has the wrong set of keys");
    }
  } else {
    throw new TrustError(`trust list version is not supported${signer ? " for a list signer" : ""}`);
  }
  const [sequence, issued, expires] = [2, 3, 4].map((k) => body.getInt(k));
  if (![sequence, issued, expires].every((v) => isInt(v) && big(v) >= 0n)) {
    throw new TrustError("trust list sequence and times must be unsigned integers");
  }
  const revoked = body.getInt(6);
  if (!Array.isArray(revoked)) throw new TrustError("trust list revoked entries must be an array");
  const revocations = body.getInt(8);
  const hasRevocations = revocations !== undefined && revocations !== null;
  if (hasRevocations && !(revocations instanceof Uint8Array)) {
    throw new TrustError("trust list signer revocations must be a root-signed COSE_Sign1 (bytes)");
  }
  return {
    sequence,
    issuedAt: time(issued),
    expiresAt: time(expires),
    centres: await certificates(body.getInt(5), "centre", (c) => checkCentreCertificate(c, root)),
    revoked: revokedListFrom(revoked),
    signers: await certificates(body.hasInt(7) ? body.getInt(7) : [], "signer", (c) => checkListSigner(c, root)),
    signerRevocations: hasRevocations ? await parseSignerRevocations(revocations, root) : null,
    signedBy: signer,
  };
}

/** Kids of list signers revoked on the root's authority (TrustList.revoked_list_signers). */
function revokedListSigners(list) {
  const kids = new Set(list.signerRevocations ? list.signerRevocations.revoked.map((r) => r.kidHex) : []);
  if (list.signedBy === null) for (const r of list.revoked) kids.add(r.kidHex);
  return kids;
}

function checkSignerCovers(list) {
  const signer = list.signedBy;
  const revoked = revokedListSigners(list);
  for (const r of list.revoked) revoked.add(r.kidHex);
  if (revoked.has(signer.kidHex)) throw new TrustError(`trust list signed by list signer ${signer.kidHex}, which is revoked`);
  if (!(signer.notBefore <= list.issuedAt && list.issuedAt <= signer.notAfter)) {
    throw new TrustError("trust list issued outside its list signer certificate's validity");
  }
  if (list.expiresAt > signer.notAfter) {
    throw new TrustError("trust list would outlive its list signer certificate: rotate the signer first");
  }
}

/** What verifyTag and parseStatusList need of a checked trust list (tag_tools' TrustStore). */
export class TrustState {
  constructor(root, list, maxAgeSeconds) {
    this.root = root;
    this.list = list;
    this.maxAgeMs = maxAgeSeconds * 1000;
    this.sequence = list.sequence;
    this.issuedAt = new Date(list.issuedAt);
    this.expiresAt = new Date(list.expiresAt);
    this.signedBy = list.signedBy ? list.signedBy.kidHex : null;
    this.centreCount = list.centres.length;
    // kid (hex) -> the centre certificate compiled for verification
    this.signers = new Map(
      list.centres.map((c) => [
        c.kidHex,
        {
          centreId: c.identity.centreId,
          region: c.identity.region,
          name: c.identity.name,
          notBefore: c.notBefore,
          notAfter: c.notAfter,
          verifier: () => verifierOf(c),
        },
      ]),
    );
    this.revoked = new Map(list.revoked.map((r) => [r.kidHex, r]));
  }

  /** [reason, detail] when decisions cannot rely on this list at `now`, else null. */
  freshnessProblem(now) {
    const ms = now.getTime();
    try {
      checkValidAt(this.root, ms, "pinned root");
    } catch (error) {
      return ["trust_list_not_authentic", error.message];
    }
    if (ms >= this.list.expiresAt) return ["trust_list_stale", `trust list expired at ${this.expiresAt.toISOString()}`];
    if (ms - this.list.issuedAt > this.maxAgeMs) {
      return ["trust_list_stale", `trust list issued ${this.issuedAt.toISOString()} is older than ${this.maxAgeMs / 1000} s`];
    }
    if (this.list.issuedAt - ms > FUTURE_TOLERANCE_MS) return ["trust_list_stale", "trust list is issued in the future: check the clock"];
    return null;
  }

  /** The list signers whose status lists are accepted at `now` (TrustList.status_signers). */
  statusSigners(now) {
    const ms = now.getTime();
    const revoked = revokedListSigners(this.list);
    for (const r of this.list.revoked) revoked.add(r.kidHex);
    const candidates = [...this.list.signers, ...(this.list.signedBy ? [this.list.signedBy] : [])];
    const chosen = new Map();
    for (const c of candidates) {
      if (!revoked.has(c.kidHex) && c.notBefore <= ms && ms <= c.notAfter && !chosen.has(c.kidHex)) {
        chosen.set(c.kidHex, { kidHex: c.kidHex, notBefore: c.notBefore, notAfter: c.notAfter, verifier: () => verifierOf(c) });
      }
    }
    return [...chosen.values()];
  }
}

/**
 * The trust list `bytes` checked against the pinned root certificate `rootDer` at `now`;
 * VerifierError('trust_list_not_authentic') when it does not verify.
 */
export async function parseTrustList(bytes, rootDer, now, { maxAgeSeconds = DEFAULT_MAX_AGE_SECONDS } = {}) {
  try {
    if (bytes.length > MAX_TRUST_LIST_SIZE) throw new TrustError("trust list is larger than any real one");
    const root = await withKid(parseCertificate(rootDer));
    const ms = now.getTime();
    await checkRoot(root, ms);
    const envelope = parseSign1(bytes, MAX_TRUST_LIST_SIZE, true);
    const signer = await listSignerOf(envelope, root, ms);
    await envelope.verify(await verifierOf(signer || root));
    const body = decode(envelope.payload, "trust list", MAX_TRUST_LIST_SIZE);
    const list = await trustListFrom(body, root, signer);
    if (signer !== null) checkSignerCovers(list);
    // Import every centre key now, not at the first tap; a key WebCrypto refuses is not trusted.
    await Promise.all(
      list.centres.map((c) =>
        verifierOf(c).catch((error) => {
          throw new TrustError(`centre ${c.identity.centreId} key cannot be imported: ${error.message}`);
        }),
      ),
    );
    return new TrustState(root, list, maxAgeSeconds);
  } catch (error) {
    if (error instanceof TrustError || error instanceof FormatError || error instanceof SignatureError) {
      throw new VerifierError("trust_list_not_authentic", `trust list is not authentic: ${error.message}`);
    }
    throw error;
  }
}
