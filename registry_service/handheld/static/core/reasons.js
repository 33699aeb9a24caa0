// The verifier's reason codes (tag_tools/reason_codes.py) and which of them only warn. The
// catalogue (tag_tools/locale/reasons.json) owns severities; the shared vectors carry its warning
// set and the tests check this copy against it, so the two cannot drift apart silently.

export const REASONS = Object.freeze({
  NO_RECORD: "no_record",
  MALFORMED: "malformed",
  UNSUPPORTED_VERSION: "unsupported_version",
  UNKNOWN_SIGNER: "unknown_signer",
  BAD_SIGNATURE: "bad_signature",
  SIGNER_REVOKED: "signer_revoked",
  SIGNER_NOT_VALID_AT_ISSUE: "signer_not_valid_at_issue",
  TRUST_LIST_STALE: "trust_list_stale",
  TRUST_LIST_NOT_AUTHENTIC: "trust_list_not_authentic",
  ISSUED_IN_FUTURE: "issued_in_future",
  UID_MISMATCH: "uid_mismatch",
  INSPECTION_OVERDUE: "inspection_overdue",
  INSPECTION_FAILED: "inspection_failed",
  PAST_SERVICE_LIFE: "past_service_life",
  CYLINDER_REVOKED: "cylinder_revoked",
  RECORD_SUPERSEDED: "record_superseded",
  CHIP_NOT_GENUINE: "chip_not_genuine",
  DUE_SOON: "due_soon",
  CHIP_NOT_GENUINE_WARNING: "chip_not_genuine_warning",
});

/** Reasons that only warn (severity "warning", origin "verifier" in the catalogue). */
export const WARNING_REASONS = Object.freeze(new Set([REASONS.DUE_SOON, REASONS.CHIP_NOT_GENUINE_WARNING]));
