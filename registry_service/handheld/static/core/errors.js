// The core's errors. Mirrors tag_tools/errors.py in spirit: one base error (VerifierError) whose
// `reason` is the verdict's reason code, so the page can show a refusal without knowing which
// module raised it. FormatError is what tag_tools raises as RecordFormatError (bytes that are not
// well formed); NoRecordError its subclass for "no cylinder record at all". Neither escapes
// verifyTag: it turns them into reason codes, like tag_tools.verify does.

export class VerifierError extends Error {
  /**
   * @param {string} reason a reason code (tag_tools/locale/reasons.json)
   * @param {string} message what went wrong, for logs and the detail line
   * @param {string} [kind] finer class for documents: 'not_authentic' | 'stale' | 'rollback' | 'malformed'
   */
  constructor(reason, message, kind = "not_authentic") {
    super(message);
    this.name = "VerifierError";
    this.reason = reason;
    this.kind = kind;
  }
}

/** Bytes that should be CBOR, COSE, NDEF or claims are not well formed (RecordFormatError). */
export class FormatError extends Error {
  constructor(message) {
    super(message);
    this.name = "FormatError";
  }
}

/** The tag holds no cylinder record (tag_tools.errors.NoRecordError). */
export class NoRecordError extends FormatError {
  constructor(message) {
    super(message);
    this.name = "NoRecordError";
  }
}

/** A well-formed record of a format version this code does not know (UnsupportedVersionError). */
export class UnsupportedVersionError extends FormatError {
  constructor(message) {
    super(message);
    this.name = "UnsupportedVersionError";
  }
}

/** A certificate or trust list is not acceptable (tag_tools.errors.TrustError). */
export class TrustError extends Error {
  constructor(message) {
    super(message);
    this.name = "TrustError";
  }
}

/** A signature did not verify (tag_tools.errors.SignatureError). */
export class SignatureError extends Error {
  constructor(message) {
    super(message);
    this.name = "SignatureError";
  }
}
