// The bureau's certificate profile, mirroring tag_tools/cert_profile.py (and the identity reading
// of tag_tools/pki.py): what a station checks of the pinned root, of a centre's record-signing
// certificate and of a list signer's certificate before it trusts them. Every refusal is a
// ProfileError naming its clause, as in Python; the trust list turns any of them into
// `trust_list_not_authentic`. Time is a parameter (milliseconds since the epoch, or null).
//
// The root must be Ed25519 (checkRoot), so the certificates it issues are Ed25519-signed; the
// ECDSA branch of verifyIssuedBy (DER signature to r || s) serves issuers the profile may allow
// later, and the shared vectors exercise it.

import {
  BIT_STRING,
  BOOLEAN,
  INTEGER,
  OCTET_STRING,
  OID,
  SEQUENCE,
  bitStringOf,
  booleanOf,
  oidText,
  readOne,
  smallIntegerOf,
} from "./der.js";
import { SignatureError, TrustError } from "./errors.js";
import { bytesEqual, utf8Decode } from "./bytes.js";
import { ALG_EDDSA, ALG_ES256, importPublicKey, verify } from "./webcrypto.js";
import { OID_COMMON_NAME, OID_ECDSA_SHA256, OID_ED25519, OID_ORGANIZATION, OID_SERIAL_NUMBER } from "./x509.js";
import { codePoints, isPrintable, pyStrip } from "./text.js";

export const OID_TAG_RECORD_SIGNING = "2.25.232526215414562755355315046480766802085";
export const OID_CENTRE_REGION = "2.25.240176512253767636955317448520047140784";
export const OID_LIST_SIGNING = "2.25.163624140434208582366137369726421194811";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_EXTENDED_KEY_USAGE = "2.5.29.37";
const OID_SUBJECT_KEY_IDENTIFIER = "2.5.29.14";
const OID_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35";

export const MAX_CENTRE_ID = 32;
const LIST_SIGNER_SUFFIX = " list signer";

export class ProfileError extends TrustError {
  constructor(clause, detail) {
    super(`${detail} [${clause}]`);
    this.name = "ProfileError";
    this.clause = clause;
  }
}

// Extensions each kind may carry, with the criticality the profile requires; any other extension
// is refused when critical and ignored when not (RFC 5280 4.2).
const ROOT_EXTENSIONS = new Map([
  [OID_BASIC_CONSTRAINTS, true],
  [OID_KEY_USAGE, true],
  [OID_SUBJECT_KEY_IDENTIFIER, false],
  [OID_AUTHORITY_KEY_IDENTIFIER, false],
]);
const LEAF_EXTENSIONS = new Map([
  [OID_BASIC_CONSTRAINTS, true],
  [OID_KEY_USAGE, true],
  [OID_EXTENDED_KEY_USAGE, true],
  [OID_SUBJECT_KEY_IDENTIFIER, false],
  [OID_AUTHORITY_KEY_IDENTIFIER, false],
]);
const CENTRE_EXTENSIONS = new Map([...LEAF_EXTENSIONS, [OID_CENTRE_REGION, false]]);
const EXTENSION_CLAUSES = new Map([
  [OID_BASIC_CONSTRAINTS, ["basic_constraints", "basicConstraints"]],
  [OID_KEY_USAGE, ["key_usage", "keyUsage"]],
  [OID_EXTENDED_KEY_USAGE, ["extended_key_usage", "extendedKeyUsage"]],
  [OID_SUBJECT_KEY_IDENTIFIER, ["key_identifiers", "subjectKeyIdentifier"]],
  [OID_AUTHORITY_KEY_IDENTIFIER, ["key_identifiers", "authorityKeyIdentifier"]],
  [OID_CENTRE_REGION, ["centre_region", "centre region"]],
]);
const KEY_USAGE_BITS = [
  "digital_signature",
  "content_commitment",
  "key_encipherment",
  "data_encipherment",
  "key_agreement",
  "key_cert_sign",
  "crl_sign",
];

/** The certificate's public key ready for WebCrypto ({alg, key}), imported once. */
export function verifierOf(certificate) {
  if (!certificate.verifierPromise) certificate.verifierPromise = importPublicKey(certificate.publicKey);
  return certificate.verifierPromise;
}

/** `cryptography`'s verify_directly_issued_by: issuer name and signature; ProfileError(issuer). */
export async function verifyIssuedBy(certificate, issuer) {
  if (!certificate.issuer.equals(issuer.subject)) {
    throw new ProfileError("issuer", "certificate was not issued by the bureau root: issuer name differs");
  }
  const oid = certificate.signatureAlgorithm.oid;
  try {
    const key = await verifierOf(issuer);
    if (oid === OID_ED25519 && key.alg === ALG_EDDSA) {
      await verify(key, ALG_EDDSA, certificate.signature, certificate.tbs);
    } else if (oid === OID_ECDSA_SHA256 && key.alg === ALG_ES256) {
      await verify(key, ALG_ES256, rawEcdsaSignature(certificate.signature), certificate.tbs);
    } else {
      throw new SignatureError("signature algorithm does not match the issuer's key");
    }
  } catch (error) {
    throw new ProfileError("issuer", `certificate was not issued by the bureau root: ${error.message}`);
  }
}

/** An X.509 ECDSA signature (DER SEQUENCE of two INTEGERs) as COSE/WebCrypto's r || s. */
export function rawEcdsaSignature(der) {
  const parts = readOne(der).expect(SEQUENCE, "ECDSA-Sig-Value").children();
  if (parts.length !== 2) throw new SignatureError("ECDSA signature is not two integers");
  const out = new Uint8Array(64);
  parts.forEach((part, i) => {
    let value = part.expect(INTEGER, "ECDSA integer").content;
    if (value.length === 0 || value[0] & 0x80 || (value.length > 1 && value[0] === 0 && !(value[1] & 0x80))) {
      throw new SignatureError("ECDSA signature integer is negative or not minimal");
    }
    if (value[0] === 0 && value.length > 1) value = value.subarray(1); // the sign byte
    if (value.length > 32) throw new SignatureError("ECDSA signature integer out of range");
    out.set(value, i * 32 + 32 - value.length);
  });
  return out;
}

/** The pinned root: v3, self-signed Ed25519 CA, path length 0, keyUsage exactly keyCertSign and
 * cRLSign, no EKU, a subject key identifier, valid at `now` when given. */
export async function checkRoot(root, now = null) {
  checkVersion(root, "root");
  if (!root.issuer.equals(root.subject)) {
    throw new ProfileError("issuer", "root certificate is not self-issued (issuer differs from subject)");
  }
  if (root.publicKey.type !== "ed25519") throw new ProfileError("key_type", "root key is not Ed25519: the profile requires it");
  if (root.signatureAlgorithm.oid !== OID_ED25519) {
    throw new ProfileError("signature_algorithm", "root certificate is not signed with Ed25519");
  }
  await verifyIssuedBy(root, root);
  const extensions = checkedExtensions(root, "root", ROOT_EXTENSIONS);
  const constraints = basicConstraints(required(extensions, OID_BASIC_CONSTRAINTS, "root", "basic_constraints"));
  if (!constraints.ca || constraints.pathLength !== 0) {
    throw new ProfileError("basic_constraints", "root certificate must be a CA with path length 0");
  }
  checkKeyUsage(required(extensions, OID_KEY_USAGE, "root", "key_usage"), ["key_cert_sign", "crl_sign"], "root");
  if (extensions.has(OID_EXTENDED_KEY_USAGE)) {
    throw new ProfileError("extended_key_usage", "root certificate must not carry an extended key usage");
  }
  const subjectKeyId = octets(required(extensions, OID_SUBJECT_KEY_IDENTIFIER, "root", "key_identifiers"));
  if (extensions.has(OID_AUTHORITY_KEY_IDENTIFIER)) {
    const authority = authorityKeyId(extensions.get(OID_AUTHORITY_KEY_IDENTIFIER).value);
    if (authority === null || !bytesEqual(authority, subjectKeyId)) {
      throw new ProfileError("key_identifiers", "root certificate's authority key identifier is not its own");
    }
  }
  if (now !== null) checkValidAt(root, now, "root");
}

/** A centre's record-signing certificate; returns its identity {centreId, region, name}. */
export async function checkCentreCertificate(certificate, root, now = null) {
  const extensions = await checkLeaf(certificate, root, now, "centre", CENTRE_EXTENSIONS, OID_TAG_RECORD_SIGNING);
  const ids = certificate.subject.attributes(OID_SERIAL_NUMBER);
  if (ids.length !== 1) {
    throw new ProfileError("subject", "centre certificate must name exactly one centre ID (subject serialNumber)");
  }
  const centreId = ids[0];
  const length = codePoints(centreId);
  if (length < 1 || length > MAX_CENTRE_ID || !isPrintable(centreId)) {
    throw new ProfileError("subject", `centre ID must be 1..${MAX_CENTRE_ID} printable characters`);
  }
  const names = certificate.subject.attributes(OID_ORGANIZATION);
  if (names.length !== 1) {
    throw new ProfileError("subject", "centre certificate must name the centre (exactly one subject organisationName)");
  }
  const regionExtension = extensions.get(OID_CENTRE_REGION);
  if (!regionExtension) throw new ProfileError("centre_region", "centre certificate has no centre region extension");
  const region = regionFromDer(regionExtension.value);
  if (!region) throw new ProfileError("centre_region", "centre region is empty");
  return { centreId, region, name: names[0] };
}

/** A list signer's certificate: the leaf clauses for list signing and a "<name> list signer" CN. */
export async function checkListSigner(certificate, root, now = null) {
  await checkLeaf(certificate, root, now, "list signer", LEAF_EXTENSIONS, OID_LIST_SIGNING);
  const names = certificate.subject.attributes(OID_COMMON_NAME);
  if (
    names.length !== 1 ||
    !names[0].endsWith(LIST_SIGNER_SUFFIX) ||
    !pyStrip(names[0].slice(0, -LIST_SIGNER_SUFFIX.length))
  ) {
    throw new ProfileError("subject", `list signer certificate must have one commonName "<name>${LIST_SIGNER_SUFFIX}"`);
  }
}

/** The region code from the region extension's value: a DER UTF8String (short-form length). */
export function regionFromDer(der) {
  if (der.length < 2 || der[0] !== 0x0c || der[1] !== der.length - 2 || der[1] > 127) {
    throw new ProfileError("centre_region", "centre region extension is not a DER UTF8String");
  }
  try {
    return utf8Decode(der.subarray(2));
  } catch {
    throw new ProfileError("centre_region", "centre region extension is not valid UTF-8");
  }
}

/** The certificate's own validity period includes `now` (ms). */
export function checkValidAt(certificate, now, what) {
  if (!(certificate.notBefore <= now && now <= certificate.notAfter)) {
    throw new ProfileError(
      "validity",
      `${what} certificate is valid ${new Date(certificate.notBefore).toISOString()} to ` +
        `${new Date(certificate.notAfter).toISOString()}, not at ${new Date(now).toISOString()}`,
    );
  }
}

async function checkLeaf(certificate, root, now, what, allowed, purpose) {
  checkVersion(certificate, what);
  if (!certificate.issuer.equals(root.subject)) {
    throw new ProfileError("issuer", `${what} certificate was not issued by the bureau root (issuer name)`);
  }
  const expected = root.publicKey.type === "ed25519" ? OID_ED25519 : OID_ECDSA_SHA256;
  if (certificate.signatureAlgorithm.oid !== expected) {
    throw new ProfileError("signature_algorithm", `${what} certificate is not signed with the root's algorithm`);
  }
  await verifyIssuedBy(certificate, root);
  const type = certificate.publicKey.type;
  if (type !== "ed25519" && type !== "p256") {
    throw new ProfileError("key_type", `unsupported key type ${type}: only Ed25519 and ECDSA P-256`);
  }
  if (
    !(
      root.notBefore <= certificate.notBefore &&
      certificate.notBefore <= certificate.notAfter &&
      certificate.notAfter <= root.notAfter
    )
  ) {
    throw new ProfileError("validity", `${what} certificate's validity does not lie within the root's`);
  }
  if (now !== null) {
    checkValidAt(root, now, "root");
    checkValidAt(certificate, now, what);
  }
  const extensions = checkedExtensions(certificate, what, allowed);
  const constraints = basicConstraints(required(extensions, OID_BASIC_CONSTRAINTS, what, "basic_constraints"));
  if (constraints.ca || constraints.pathLength !== null) {
    throw new ProfileError("basic_constraints", `${what} certificate must not be a CA`);
  }
  checkKeyUsage(required(extensions, OID_KEY_USAGE, what, "key_usage"), ["digital_signature"], what);
  const usage = extendedKeyUsage(required(extensions, OID_EXTENDED_KEY_USAGE, what, "extended_key_usage"));
  if (usage.length !== 1 || usage[0] !== purpose) {
    const shown = usage.join(", ");
    throw new ProfileError("extended_key_usage", `${what} certificate's extended key usage is [${shown}], not exactly [${purpose}]`);
  }
  octets(required(extensions, OID_SUBJECT_KEY_IDENTIFIER, what, "key_identifiers"));
  const authority = authorityKeyId(required(extensions, OID_AUTHORITY_KEY_IDENTIFIER, what, "key_identifiers"));
  const rootKeyId = root.extension(OID_SUBJECT_KEY_IDENTIFIER);
  if (rootKeyId === undefined || authority === null || !bytesEqual(authority, octets(rootKeyId.value))) {
    throw new ProfileError("key_identifiers", `${what} certificate's authority key identifier does not name the root`);
  }
  return extensions;
}

function checkVersion(certificate, what) {
  if (certificate.version !== 2) throw new ProfileError("version", `${what} certificate is not X.509 v3`);
}

/** The extensions by OID, each profile extension with its required criticality and no other
 * critical extension. */
function checkedExtensions(certificate, what, allowed) {
  const byOid = new Map();
  for (const extension of certificate.extensions) {
    const critical = allowed.get(extension.oid);
    if (critical === undefined) {
      if (extension.critical) {
        throw new ProfileError("critical_extension", `${what} certificate carries an unknown critical extension ${extension.oid}`);
      }
    } else if (extension.critical !== critical) {
      const [clause, name] = EXTENSION_CLAUSES.get(extension.oid);
      throw new ProfileError(clause, `${what} certificate's ${name} extension must be ${critical ? "critical" : "non-critical"}`);
    }
    byOid.set(extension.oid, extension);
  }
  return byOid;
}

function required(extensions, oid, what, clause) {
  const extension = extensions.get(oid);
  if (extension === undefined) throw new ProfileError(clause, `${what} certificate lacks the ${oid} extension`);
  return extension.value;
}

function extensionError(why) {
  return new ProfileError("extensions", `certificate's extensions cannot be read: ${why}`);
}

function parsed(value, reader) {
  try {
    return reader(readOne(value));
  } catch (error) {
    if (error instanceof ProfileError) throw error;
    throw extensionError(error.message);
  }
}

function basicConstraints(value) {
  return parsed(value, (element) => {
    const parts = element.expect(SEQUENCE, "BasicConstraints").children();
    let ca = false;
    let pathLength = null;
    let i = 0;
    if (parts[i] && parts[i].tag === BOOLEAN) {
      ca = booleanOf(parts[i++]);
      if (!ca) throw extensionError("DER leaves cA FALSE out");
    }
    if (parts[i] && parts[i].tag === INTEGER) pathLength = smallIntegerOf(parts[i++]);
    if (i !== parts.length) throw extensionError("bad BasicConstraints");
    return { ca, pathLength };
  });
}

function checkKeyUsage(value, wanted, what) {
  const { bytes } = parsed(value, (element) => bitStringOf(element.expect(BIT_STRING, "KeyUsage")));
  const bit = (i) => (i >> 3 < bytes.length ? (bytes[i >> 3] >> (7 - (i & 7))) & 1 : 0);
  if ((bit(7) || bit(8)) && !bit(4)) throw extensionError("encipherOnly or decipherOnly without keyAgreement");
  const asserted = KEY_USAGE_BITS.filter((_, i) => bit(i));
  if (asserted.length !== wanted.length || !wanted.every((w) => asserted.includes(w))) {
    throw new ProfileError("key_usage", `${what} certificate's key usage is [${asserted}], not exactly [${wanted}]`);
  }
}

function extendedKeyUsage(value) {
  return parsed(value, (element) => {
    const oids = element.expect(SEQUENCE, "ExtendedKeyUsage").children();
    if (oids.length === 0) throw extensionError("empty ExtendedKeyUsage");
    return oids.map((oid) => oidText(oid.expect(OID, "KeyPurposeId").content));
  });
}

function octets(value) {
  return parsed(value, (element) => element.expect(OCTET_STRING, "KeyIdentifier").content);
}

/** The keyIdentifier of an AuthorityKeyIdentifier, or null when it has none. */
function authorityKeyId(value) {
  return parsed(value, (element) => {
    const parts = element.expect(SEQUENCE, "AuthorityKeyIdentifier").children();
    const key = parts.find((p) => p.tag === 0x80);
    return key ? key.content : null;
  });
}
