// The date rules of tag_tools/rules.py, the ones stations and the registry share: dates on a
// record are the centre's local calendar days (next_due and end_of_life name the last valid day),
// and "today" is the calendar day of `now` in a named zone (Asia/Shanghai on the phone, like a
// Chinese station). Days are integers counted from 1970-01-01, as the record stores them.

const MS_PER_DAY = 86_400_000;
const formatters = new Map();

function formatter(timeZone) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "numeric", day: "numeric", hourCycle: "h23" });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The day number of instant `ms` in `timeZone` (an IANA name, 'UTC', or a fixed offset in
 * minutes as a number, like rules.LATEST_ZONE's +14:00). */
export function localDay(ms, timeZone) {
  if (typeof timeZone === "number") return Math.floor((ms + timeZone * 60_000) / MS_PER_DAY);
  if (timeZone === "UTC") return Math.floor(ms / MS_PER_DAY);
  const parts = formatter(timeZone).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return Math.floor(Date.UTC(get("year"), get("month") - 1, get("day")) / MS_PER_DAY);
}

/** Throws RangeError for a zone name the platform does not know. */
export function checkTimeZone(timeZone) {
  if (typeof timeZone !== "number" && timeZone !== "UTC") formatter(timeZone);
}

// No place on earth is ahead of UTC+14: a record whose inspection day is later than its issue
// time's day there was issued before the inspection in every zone, whoever reads it.
export const LATEST_ZONE = 14 * 60;

export function isOverdue(today, nextDue) {
  return today > nextDue;
}

export function isPastServiceLife(today, endOfLife) {
  return today > endOfLife;
}

/** A warning, only for a cylinder that is not refused: a deadline within `warningDays` days. */
export function isDueSoon(today, nextDue, endOfLife, warningDays, refused) {
  return !refused && Math.min(nextDue, endOfLife) <= today + warningDays;
}

/** True when the record was issued on a local day (in `timeZone`) before its inspection day. */
export function issuedBeforeInspection(issuedAtMs, inspected, timeZone) {
  return localDay(issuedAtMs, timeZone) < inspected;
}

/** 'YYYY-MM-DD' of a day number. */
export function isoDay(day) {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}
