// The one module that touches WebCrypto (crypto.subtle), mirroring tag_tools/crypto.py: Ed25519
// (COSE -8) and ECDSA P-256 with SHA-256 (COSE -7, signatures as r || s, which is what WebCrypto
// takes), and SHA-256 for key ids. The algorithm follows from the key type, as in Python: a record
// that names the other algorithm than its signer's key is refused, never verified "as best we can".

import { SignatureError } from "./errors.js";

export const ALG_EDDSA = -8;
export const ALG_ES256 = -7;
export const SIGNATURE_SIZE = 64; // both algorithms

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) throw new Error("WebCrypto (crypto.subtle) is not available: a secure context is needed");
  return s;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

/** COSE kid: the first 8 bytes of SHA-256 over a certificate's DER (tag_tools.pki.kid_of). */
export async function kidOf(certificateDer) {
  return (await sha256(certificateDer)).subarray(0, 8);
}

/**
 * A verifying key from a certificate's subjectPublicKeyInfo as x509.js reads it:
 * { type: 'ed25519' | 'p256', raw, spki }. Resolves to { alg, key } (key a CryptoKey).
 */
export async function importPublicKey(publicKey) {
  if (publicKey.type === "ed25519") {
    const key = await subtle().importKey("raw", publicKey.raw, { name: "Ed25519" }, false, ["verify"]);
    return { alg: ALG_EDDSA, key };
  }
  if (publicKey.type === "p256") {
    const key = await subtle().importKey("spki", publicKey.spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    return { alg: ALG_ES256, key };
  }
  throw new SignatureError(`unsupported key type ${publicKey.type}: only Ed25519 and ECDSA P-256`);
}

/** Throw SignatureError unless `signature` is valid for `data` under `verifier` with `algorithm`. */
export async function verify(verifier, algorithm, signature, data) {
  if (algorithm !== verifier.alg) {
    throw new SignatureError(`record says algorithm ${algorithm}, but the signer's key is for ${verifier.alg}`);
  }
  if (signature.length !== SIGNATURE_SIZE) {
    throw new SignatureError(`signature is ${signature.length} bytes, expected ${SIGNATURE_SIZE}`);
  }
  const params = verifier.alg === ALG_EDDSA ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
  let ok;
  try {
    ok = await subtle().verify(params, verifier.key, signature, data);
  } catch (error) {
    throw new SignatureError(`signature does not verify: ${error && error.message}`);
  }
  if (!ok) throw new SignatureError("signature does not verify");
}
