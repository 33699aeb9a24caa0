// The page's words, in the language the registry rendered it in (the JSON block in index.html,
// from the "handheld" gettext catalogue), and the locale's formats for dates and ages.

const block = JSON.parse(document.getElementById("handheld-words").textContent);

export const language = block.language; // BCP 47, e.g. "zh-CN"
export const locale = block.locale; // the catalogue's name, e.g. "zh_CN"

/** The word for `key` with its {placeholders} filled from `values`. */
export function t(key, values = {}) {
  const text = block.words[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** A calendar date "YYYY-MM-DD" (a record's dates are local calendar dates) in the locale's words. */
export function formatDay(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso ?? ""));
  if (!match) return String(iso ?? "–");
  const day = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return new Intl.DateTimeFormat(language, { dateStyle: "long", timeZone: "UTC" }).format(day);
}

/** An instant with its date and time, in the phone's zone. */
export function formatTime(date) {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** How long ago `date` was, in the largest unit that fits ("3 hours ago"), in the page's language. */
export function formatAge(date, now = new Date()) {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const format = new Intl.RelativeTimeFormat(language, { numeric: "auto" });
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.trunc(seconds / size), unit);
  }
  return format.format(0, "minute");
}
