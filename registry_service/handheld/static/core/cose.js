// COSE_Sign1 envelopes (RFC 9052), mirroring tag_tools/cose.py: tag 18; protected header exactly
// {1: alg, 4: kid} (lists may add x5chain, 33: the signer's DER certificate, optionally followed
// by the root's); unprotected header empty; payload embedded; external_aad empty; 64-byte
// signature. Anything else is a FormatError (the verdict's `malformed`).

import { CborMap, CborTag, decode, encodeArrayOfStrings, intKey, isInt, MAX_ENCODED_SIZE, pyEqualsInt } from "./cbor.js";
import { FormatError } from "./errors.js";
import { ALG_EDDSA, ALG_ES256, SIGNATURE_SIZE, verify } from "./webcrypto.js";

export const COSE_SIGN1_TAG = 18;
export const HEADER_ALG = 1;
export const HEADER_KID = 4;
export const HEADER_X5CHAIN = 33;
export const KID_SIZE = 8;
export const MAX_CHAIN = 2;

const PLAIN_HEADER = [intKey(HEADER_ALG), intKey(HEADER_KID)];
const CHAIN_HEADER = [intKey(HEADER_ALG), intKey(HEADER_KID), intKey(HEADER_X5CHAIN)];

export class Sign1 {
  constructor(protectedBytes, algorithm, kid, payload, signature, x5chain) {
    this.protected = protectedBytes; // the serialized protected header, exactly as signed
    this.algorithm = algorithm;
    this.kid = kid;
    this.payload = payload;
    this.signature = signature;
    this.x5chain = x5chain; // DER certificates, the signer's first; only when allowed
  }

  toBeSigned() {
    return encodeArrayOfStrings(["Signature1", this.protected, new Uint8Array(0), this.payload]);
  }

  /** Throw SignatureError unless the signature is valid under `verifier` ({alg, key}). */
  async verify(verifier) {
    await verify(verifier, this.algorithm, this.signature, this.toBeSigned());
  }
}

/** Parse a COSE_Sign1 of our profile; FormatError for anything else. */
export function parseSign1(data, maxSize = MAX_ENCODED_SIZE, allowX5chain = false) {
  const item = decode(data, "COSE_Sign1", maxSize);
  if (!(item instanceof CborTag) || !pyEqualsInt(item.tag, COSE_SIGN1_TAG)) {
    throw new FormatError("record is not a tagged COSE_Sign1 (CBOR tag 18)");
  }
  const body = item.value;
  if (!Array.isArray(body) || body.length !== 4) throw new FormatError("COSE_Sign1 must be an array of 4 items");
  const [protectedBytes, unprotected, payload, signature] = body;
  if (!(protectedBytes instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new FormatError("COSE_Sign1 protected header, payload and signature must be byte strings");
  }
  if (!(unprotected instanceof CborMap) || unprotected.size !== 0) {
    throw new FormatError("COSE_Sign1 unprotected header must be empty");
  }
  if (signature.length !== SIGNATURE_SIZE) {
    throw new FormatError(`signature is ${signature.length} bytes, expected ${SIGNATURE_SIZE}`);
  }
  const header = decode(protectedBytes, "protected header", maxSize);
  const shapeOk =
    header instanceof CborMap && (header.hasExactlyKeys(PLAIN_HEADER) || (allowX5chain && header.hasExactlyKeys(CHAIN_HEADER)));
  if (!shapeOk) {
    throw new FormatError(
      "protected header must hold exactly alg (1) and kid (4)" + (allowX5chain ? ", and may hold x5chain (33)" : ""),
    );
  }
  const algorithm = header.getInt(HEADER_ALG);
  const kid = header.getInt(HEADER_KID);
  if (!isInt(algorithm) || (algorithm !== ALG_EDDSA && algorithm !== ALG_ES256)) {
    throw new FormatError(`unsupported signature algorithm ${String(algorithm)} (EdDSA -8 or ES256 -7)`);
  }
  if (!(kid instanceof Uint8Array) || kid.length !== KID_SIZE) throw new FormatError(`kid must be ${KID_SIZE} bytes`);
  const chain = header.hasInt(HEADER_X5CHAIN) ? x5chainFrom(header.getInt(HEADER_X5CHAIN)) : [];
  return new Sign1(protectedBytes, algorithm, kid, payload, signature, chain);
}

function x5chainFrom(value) {
  const chain = value instanceof Uint8Array ? [value] : value;
  if (
    !Array.isArray(chain) ||
    chain.length < 1 ||
    chain.length > MAX_CHAIN ||
    chain.some((c) => !(c instanceof Uint8Array) || c.length === 0)
  ) {
    throw new FormatError(`x5chain must be one DER certificate or an array of 1..${MAX_CHAIN}`);
  }
  return chain;
}
