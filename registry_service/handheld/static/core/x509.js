// X.509 certificates as tag_tools reads them (pki.load_certificate: DER, or PEM), reduced to the
// fields the bureau's profile checks (cert_profile.js): version, issuer and subject names,
// validity, the subject public key (Ed25519 or P-256), the extensions and the signature.
// Names compare as `cryptography` compares them: RDN by RDN, each a set of (OID, text) pairs.

import {
  BIT_STRING,
  BOOLEAN,
  GENERALIZED_TIME,
  OCTET_STRING,
  OID,
  SEQUENCE,
  SET,
  UTC_TIME,
  bitStringOf,
  booleanOf,
  oidText,
  readOne,
  smallIntegerOf,
  stringOf,
  timeOf,
} from "./der.js";
import { TrustError } from "./errors.js";
import { fromBase64 } from "./bytes.js";

export const OID_ED25519 = "1.3.101.112";
export const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
export const OID_P256 = "1.2.840.10045.3.1.7";
export const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
export const OID_SERIAL_NUMBER = "2.5.4.5";
export const OID_ORGANIZATION = "2.5.4.10";
export const OID_COMMON_NAME = "2.5.4.3";

export class Name {
  constructor(rdns, der) {
    this.rdns = rdns; // [[[oid, text], ...], ...]
    this.der = der;
    const sets = rdns.map((rdn) => [...new Set(rdn.map((pair) => JSON.stringify(pair)))].sort());
    this.key = JSON.stringify(sets);
  }

  equals(other) {
    return this.key === other.key;
  }

  /** Every value of attribute `oid`, in order (cryptography's get_attributes_for_oid). */
  attributes(oid) {
    return this.rdns.flat().filter(([o]) => o === oid).map(([, text]) => text);
  }
}

export class Certificate {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** The extension with `oid`, or undefined. */
  extension(oid) {
    return this.extensions.find((e) => e.oid === oid);
  }
}

function fail(why) {
  return new TrustError(`not an X.509 certificate: ${why}`);
}

/** PEM or DER, as tag_tools.pki.load_certificate takes them; TrustError for anything else. */
export function loadCertificate(data) {
  let start = 0;
  while (start < data.length && [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d].includes(data[start])) start++;
  const pemMark = [..."-----BEGIN"].map((c) => c.charCodeAt(0));
  if (pemMark.every((c, i) => data[start + i] === c)) return parseCertificate(pemToDer(data.subarray(start)));
  return parseCertificate(data);
}

function pemToDer(data) {
  const text = String.fromCharCode(...data);
  const match = /^-----BEGIN (X509 )?CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (X509 )?CERTIFICATE-----/.exec(text);
  if (!match || (match[1] || "") !== (match[3] || "")) throw fail("no PEM certificate");
  try {
    return fromBase64(match[2].replace(/[\r\n]/g, ""));
  } catch {
    throw fail("bad PEM base64");
  }
}

function nameOf(element) {
  element.expect(SEQUENCE, "Name");
  const rdns = element.children().map((rdn) => {
    rdn.expect(SET, "RelativeDistinguishedName");
    const pairs = rdn.children().map((attribute) => {
      const [type, value, ...rest] = attribute.expect(SEQUENCE, "AttributeTypeAndValue").children();
      if (!type || !value || rest.length) throw fail("bad AttributeTypeAndValue");
      return [oidText(type.expect(OID, "attribute type").content), stringOf(value)];
    });
    if (pairs.length === 0) throw fail("empty RDN");
    return pairs;
  });
  return new Name(rdns, element.bytes);
}

function algorithmOf(element) {
  const [oid, ...params] = element.expect(SEQUENCE, "AlgorithmIdentifier").children();
  if (!oid || params.length > 1) throw fail("bad AlgorithmIdentifier");
  return { oid: oidText(oid.expect(OID, "algorithm").content), params: params[0] || null };
}

function publicKeyOf(element) {
  const [algorithm, bits, ...rest] = element.expect(SEQUENCE, "SubjectPublicKeyInfo").children();
  if (!algorithm || !bits || rest.length) throw fail("bad SubjectPublicKeyInfo");
  const { oid, params } = algorithmOf(algorithm);
  const key = bitStringOf(bits);
  if (key.unused) throw fail("public key bit string with unused bits");
  if (oid === OID_ED25519) {
    if (params || key.bytes.length !== 32) throw fail("bad Ed25519 public key");
    return { type: "ed25519", raw: key.bytes, spki: element.bytes };
  }
  if (oid === OID_EC_PUBLIC_KEY && params && params.tag === OID && oidText(params.content) === OID_P256) {
    return { type: "p256", raw: key.bytes, spki: element.bytes };
  }
  return { type: `other (${oid})`, raw: key.bytes, spki: element.bytes };
}

function extensionsOf(element) {
  const seen = new Set();
  return readOne(element.content)
    .expect(SEQUENCE, "Extensions")
    .children()
    .map((extension) => {
      const parts = extension.expect(SEQUENCE, "Extension").children();
      if (parts.length < 2 || parts.length > 3) throw fail("bad Extension");
      const oid = oidText(parts[0].expect(OID, "extnID").content);
      let critical = false;
      if (parts.length === 3) {
        critical = booleanOf(parts[1].expect(BOOLEAN, "critical"));
        if (!critical) throw fail("DER encodes critical FALSE by leaving it out");
      }
      const value = parts[parts.length - 1].expect(OCTET_STRING, "extnValue").content;
      if (seen.has(oid)) throw fail(`duplicate extension ${oid}`);
      seen.add(oid);
      return { oid, critical, value };
    });
}

/** A DER certificate; TrustError when it is not one. */
export function parseCertificate(der) {
  const [tbs, signatureAlgorithm, signature, ...rest] = readOne(der).expect(SEQUENCE, "Certificate").children();
  if (!tbs || !signatureAlgorithm || !signature || rest.length) throw fail("a certificate has three parts");
  const fields = tbs.expect(SEQUENCE, "TBSCertificate").children();
  let i = 0;
  let version = 0; // v1 when absent
  if (fields[i] && fields[i].tag === 0xa0) {
    version = smallIntegerOf(readOne(fields[i].content));
    i++;
  }
  const [serial, innerAlgorithm, issuer, validity, subject, spki] = fields.slice(i, i + 6);
  if (!spki) throw fail("TBSCertificate is missing fields");
  serial.expect(0x02, "serialNumber");
  i += 6;
  let extensions = [];
  for (const field of fields.slice(i)) {
    if (field.tag === 0xa3) extensions = extensionsOf(field);
    else if (field.tag !== 0x81 && field.tag !== 0x82) throw fail("unexpected TBSCertificate field"); // unique IDs
  }
  const times = validity.expect(SEQUENCE, "Validity").children();
  if (times.length !== 2 || !times.every((t) => t.tag === UTC_TIME || t.tag === GENERALIZED_TIME)) throw fail("bad Validity");
  const signatureBits = bitStringOf(signature.expect(BIT_STRING, "signature"));
  if (signatureBits.unused) throw fail("signature with unused bits");
  return new Certificate({
    der,
    tbs: tbs.bytes,
    version,
    innerSignatureAlgorithm: algorithmOf(innerAlgorithm),
    signatureAlgorithm: algorithmOf(signatureAlgorithm),
    issuer: nameOf(issuer),
    subject: nameOf(subject),
    notBefore: timeOf(times[0]),
    notAfter: timeOf(times[1]),
    publicKey: publicKeyOf(spki),
    extensions,
    signature: signatureBits.bytes,
  });
}
