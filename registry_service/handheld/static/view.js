// What the page shows: the verdict (big), the cylinder's dates and the reasons, how old the saved
// lists are, and the officer's queue. Words come from words.js; nothing here decides anything.

import { formatAge, formatDay, formatTime, t } from "./words.js";

const $ = (id) => document.getElementById(id);

/**
 * The headline's key and colour. A verdict that is not a refusal but whose status list entry was not
 * read is "status unknown — check online", never "valid": the cylinder may have been revoked since.
 */
export function headline(result) {
  if (result.source === "lookup" && result.reasons.includes("unregistered")) return ["verdict.not_found", "refuse"];
  if (result.decision === "refuse") return ["verdict.refuse", "refuse"];
  if (result.source === "tag" && !result.statusChecked) return ["verdict.status_unknown", "unknown"];
  if (result.decision === "allow_with_warning") return ["verdict.allow_with_warning", "warn"];
  return ["verdict.allow", "allow"];
}

function field(list, key, value) {
  if (value === null || value === undefined || value === "") return;
  const term = document.createElement("dt");
  term.textContent = t(key);
  const detail = document.createElement("dd");
  detail.textContent = value;
  list.append(term, detail);
}

/**
 * Show `result` ({source, decision, reasons, statusChecked, nextDue, cylinderId, tagUid, record, statusRef, at}).
 * An anonymous reader (a vehicle owner) sees the verdict, the reasons and the due date; a signed-in
 * officer also the cylinder's identity, its other dates and where the verdict's status came from.
 */
export function showVerdict(result, { officer, reasonTexts }) {
  const [key, tone] = headline(result);
  const panel = $("verdict");
  panel.className = `verdict ${tone}`;
  panel.dataset.decision = result.decision;
  panel.dataset.headline = key;
  panel.dataset.uid = result.tagUid ?? "";
  panel.dataset.cylinder = result.cylinderId ?? "";
  $("verdict-text").textContent = t(key);
  $("verdict-source").textContent = `${t(`source.${result.source}`)} · ${t("checked_at", { time: formatTime(result.at) })}`;

  const fields = $("verdict-fields");
  fields.replaceChildren();
  field(fields, "field.next_due", result.nextDue ? formatDay(result.nextDue) : null);
  if (officer) {
    const record = result.record;
    field(fields, "field.cylinder_id", result.cylinderId);
    field(fields, "field.tag_uid", result.tagUid);
    field(fields, "field.inspected", record?.inspected ? formatDay(record.inspected) : null);
    field(fields, "field.end_of_life", record?.endOfLife ? formatDay(record.endOfLife) : null);
    field(fields, "field.result", record?.result ? t(`result.${record.result}`) : null);
    field(fields, "field.centre", record?.centreId ?? null);
    if (result.source === "tag") {
      const status = result.statusChecked ? t("status.checked", { list: result.statusRef?.listId ?? "?" }) : t("status.unchecked");
      field(fields, "field.status", status);
    }
  }
  fields.hidden = fields.childElementCount === 0;

  const list = $("reason-list");
  list.replaceChildren();
  for (const code of result.reasons) {
    const item = document.createElement("li");
    item.textContent = reasonTexts[code] ?? code;
    item.dataset.code = code;
    list.append(item);
  }
  $("verdict-reasons").hidden = result.reasons.length === 0;
}

/** The saved lists and how old they are (the signed issue time, and when they were fetched). */
export function showLists(state, now = new Date()) {
  const items = [];
  const add = (text, tone = "") => {
    const item = document.createElement("li");
    item.textContent = text;
    if (tone) item.className = tone;
    items.push(item);
  };
  if (state.missing) add(t("lists_missing"), "problem");
  else if (state.trustError) add(t("trust_list_bad"), "problem");
  if (state.trust) {
    add(
      t("trust_list_age", {
        sequence: state.trust.sequence,
        age: formatAge(state.trust.issuedAt, now),
        until: formatTime(state.trust.expiresAt),
      }),
    );
    for (const list of [...state.statusLists.values()].sort((a, b) => a.listId - b.listId)) {
      add(
        t("status_list_age", {
          list: list.listId,
          sequence: list.sequence,
          age: formatAge(list.issuedAt, now),
          until: formatTime(list.expiresAt),
        }),
      );
    }
    for (const problem of state.statusErrors) add(t("status_list_bad", { list: problem.id }), "problem");
  }
  if (state.storedAt && !state.missing) add(t("lists_updated", { age: formatAge(state.storedAt, now) }));
  $("lists").replaceChildren(...items);
  $("lists").dataset.ready = state.trust ? "trusted" : "untrusted";
}

/** How many of the officer's checks wait to be uploaded. */
export function showQueue(count, signedOut) {
  const line = $("queue");
  line.hidden = count === 0;
  line.dataset.count = String(count);
  line.textContent = count === 0 ? "" : `${t("queue_waiting", { count })}${signedOut ? ` ${t("queue_sign_in")}` : ""}`;
}
