// Python's text predicates where the verifier's decisions depend on them: str.isprintable() (claims
// and centre IDs), str.strip() (list signer names) and len() (code points, not UTF-16 units).
// Python 3.11 knows Unicode 14; JavaScript engines know newer versions, so a character assigned
// after Unicode 14 is printable here and not in Python (no real record or certificate holds one).

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's str.isprintable(): no "Other" or "Separator" character except the ASCII space. */
export function isPrintable(text) {
  for (const ch of text) {
    if (ch !== " " && NOT_PRINTABLE.test(ch)) return false;
  }
  return true;
}

/** Python's len(str): code points. */
export function codePoints(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

// Python's str.isspace() set: bidi classes WS, B, S and category Zs.
const SPACE = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;

/** Python's str.strip() without arguments. */
export function pyStrip(text) {
  const chars = [...text];
  let start = 0;
  let end = chars.length;
  while (start < end && SPACE.test(chars[start])) start++;
  while (end > start && SPACE.test(chars[end - 1])) end--;
  return chars.slice(start, end).join("");
}
