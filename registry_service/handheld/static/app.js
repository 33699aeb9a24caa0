// The handheld page: read a tag (Web NFC), verify it with the core against the saved lists, show the
// verdict; or look a cylinder ID up online; and, for a signed-in officer, record the check (queued
// on the phone until the registry has it) and open a case from it. docs/handheld.md.

import { uidFromSerialNumber, verifyTag } from "./core/verifier.js";
import { loadLists, loadReasonTexts } from "./lists.js";
import { nfcAvailable, startScan } from "./nfc.js";
import { CheckQueue, Outcome } from "./queue.js";
import { showLists, showQueue, showVerdict } from "./view.js";
import { locale, t } from "./words.js";

const $ = (id) => document.getElementById(id);
const ME_KEY = "handheld.me.v1";
const LANG_KEY = "handheld.lang";
const REFRESH_LISTS_MS = 15 * 60 * 1000;
const RETRY_UPLOADS_MS = 20 * 1000;
const ME_URL = "/dashboard/handheld/me";
const CHECKS_URL = "/dashboard/handheld/checks";

const state = {
  lists: null,
  reasonTexts: {},
  me: storedMe(), // {username, role, mayRecord} or null: the last known, so the page works offline
  csrf: null,
  signedOut: false,
  current: null, // the verdict on screen, with the id its check gets if recorded
  scanning: null,
  installPrompt: null,
};

function storedMe() {
  try {
    return JSON.parse(localStorage.getItem(ME_KEY) ?? "null");
  } catch {
    return null;
  }
}

const queue = new CheckQueue(localStorage, upload);

/** A start without ?lang= (the installed app's start URL) follows the language last chosen. */
function followLanguage() {
  if (new URLSearchParams(location.search).has("lang")) {
    localStorage.setItem(LANG_KEY, locale);
    return false;
  }
  const wanted = localStorage.getItem(LANG_KEY);
  if (wanted && wanted !== locale) {
    location.replace(`?lang=${encodeURIComponent(wanted)}`);
    return true;
  }
  return false;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

// --- who is signed in ---------------------------------------------------------------------------

async function refreshMe() {
  try {
    const response = await fetch(ME_URL, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    const me = await response.json();
    state.csrf = me.csrf_token;
    state.me = me.signed_in ? { username: me.username, role: me.role, mayRecord: Boolean(me.may_record) } : null;
    localStorage.setItem(ME_KEY, JSON.stringify(state.me));
  } catch {
    // offline: the last known officer stays, and what they record waits in the queue
  }
  showWho();
}

function officer() {
  return Boolean(state.me?.mayRecord);
}

function showWho() {
  $("who").textContent = state.me ? t("signed_in_as", { user: state.me.username }) : t("anonymous_note");
  $("sign-in").parentElement.hidden = Boolean(state.me);
  const signOut = $("sign-out");
  signOut.hidden = !state.me || !state.csrf;
  signOut.elements.csrf_token.value = state.csrf ?? "";
  document.body.dataset.officer = officer() ? "1" : "0";
  showRecordPanel();
  showQueue(state.me ? queue.waiting(state.me.username) : 0, state.signedOut);
}

// --- verdicts -----------------------------------------------------------------------------------

function show(result) {
  state.current = { ...result, checkId: crypto.randomUUID() };
  showVerdict(state.current, { officer: officer(), reasonTexts: state.reasonTexts });
  $("record-result").textContent = "";
  showRecordPanel();
}

function showRecordPanel() {
  const current = state.current;
  $("record").hidden = !(current && officer());
  $("record-case").hidden = !(current && current.decision === "refuse");
}

async function onTag({ serialNumber, records }) {
  const now = new Date();
  let uid;
  try {
    uid = uidFromSerialNumber(serialNumber);
  } catch {
    uid = new Uint8Array(0);
  }
  const lists = state.lists;
  let verdict;
  if (lists?.trust) {
    try {
      verdict = await verifyTag({ uid, records, trust: lists.trust, statusLists: lists.statusLists, now });
    } catch {
      verdict = { decision: "refuse", reasons: ["malformed"], record: null, statusChecked: false };
    }
  } else if (lists?.trustError) {
    verdict = { decision: "refuse", reasons: [lists.trustError], record: null, statusChecked: false };
  } else {
    $("scan-status").textContent = t("lists_missing");
    return;
  }
  const record = verdict.record ?? null;
  show({
    source: "tag",
    decision: verdict.decision,
    reasons: verdict.reasons,
    statusChecked: Boolean(verdict.statusChecked),
    record,
    nextDue: record?.nextDue ?? null,
    cylinderId: record?.cylinderId ?? null,
    tagUid: hex(uid) || null,
    statusRef: record?.statusRef ?? null,
    at: now,
  });
  $("scan-status").textContent = t("scanning");
}

async function scan() {
  if (state.scanning) return;
  try {
    state.scanning = await startScan(onTag, () => {
      $("scan-status").textContent = t("nfc_read_error");
    });
    $("scan-status").textContent = t("scanning");
    $("scan").disabled = true;
  } catch {
    $("scan-status").textContent = t("nfc_refused");
  }
}

async function lookup(event) {
  event.preventDefault();
  const status = $("lookup-status");
  const typed = $("lookup-id").value.trim();
  if (!typed) {
    status.textContent = t("lookup_invalid");
    return;
  }
  let response;
  try {
    response = await fetch("/verify/lookup", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ cylinder_id: typed }),
    });
  } catch {
    status.textContent = t("lookup_offline");
    return;
  }
  if (response.status === 429) {
    status.textContent = t("lookup_limited", { seconds: response.headers.get("Retry-After") ?? "60" });
    return;
  }
  if (response.status === 422) {
    status.textContent = t("lookup_invalid");
    return;
  }
  if (!response.ok) {
    status.textContent = t("lookup_failed");
    return;
  }
  const answer = await response.json();
  status.textContent = "";
  show({
    source: "lookup",
    decision: answer.decision,
    reasons: answer.reasons,
    statusChecked: true,
    record: null,
    nextDue: answer.next_due,
    cylinderId: answer.cylinder_id,
    tagUid: null,
    statusRef: null,
    at: new Date(),
  });
}

// --- the officer's checks -----------------------------------------------------------------------

/** One upload, as the queue asks for it. */
async function upload(body, retried = false) {
  if (!state.csrf) await refreshMe();
  const response = await fetch(CHECKS_URL, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf ?? "" },
    body: JSON.stringify(body),
  });
  if (response.ok) return { outcome: Outcome.DONE, answer: await response.json() };
  const problem = await response.json().catch(() => ({}));
  if (response.status === 400 && String(problem.type ?? "").endsWith("/csrf")) {
    if (retried) return { outcome: Outcome.KEEP };
    state.csrf = null; // a new session since the token was read: read it again, once
    return upload(body, true);
  }
  if (response.status === 401) {
    state.signedOut = true;
    return { outcome: Outcome.KEEP };
  }
  if ([403, 409, 415, 422].includes(response.status)) return { outcome: Outcome.DROP, answer: problem };
  return { outcome: Outcome.KEEP }; // 429, 5xx: later
}

function answered(body, outcome, answer) {
  if (state.current?.checkId !== body.id) return;
  const line = $("record-result");
  if (outcome === Outcome.DONE) line.textContent = answer?.case ? t("recorded_case", { case: answer.case }) : t("recorded");
  else line.textContent = t("record_refused", { detail: answer?.detail ?? "" });
  line.dataset.outcome = outcome;
}

async function flush() {
  if (!officer()) return;
  state.signedOut = false;
  await queue.flush(state.me.username, answered);
  showQueue(queue.waiting(state.me.username), state.signedOut);
}

function record(openCase) {
  const current = state.current;
  if (!current || !officer()) return;
  queue.put(state.me.username, {
    id: current.checkId,
    checked_at: current.at.toISOString(),
    source: current.source,
    cylinder_id: current.cylinderId,
    tag_uid: current.tagUid,
    decision: current.decision,
    reasons: current.reasons,
    status_checked: current.statusChecked,
    place: $("place").value.trim(),
    open_case: openCase,
  });
  const line = $("record-result");
  line.textContent = t("queued");
  line.dataset.outcome = "queued";
  showQueue(queue.waiting(state.me.username), state.signedOut);
  if (navigator.onLine) flush();
}

// --- lists and connectivity ---------------------------------------------------------------------

async function refreshLists() {
  const lists = await loadLists(new Date());
  if (lists.trust || !state.lists?.trust) state.lists = lists; // a failed refresh keeps what verified before
  showLists(state.lists);
  showOffline();
}

function showOffline() {
  $("offline").hidden = navigator.onLine && !state.lists?.fromCache;
}

async function backOnline() {
  showOffline();
  await refreshMe();
  await flush();
  await refreshLists();
}

// An install that failed (one of the shell's files did not arrive: a phone's network dropping out
// mid-install) leaves no offline copy, and the browser tries again only at the next visit. The page
// tries again itself, after 5, 10, 20, 40 and 80 s, while it stays open.
const WORKER_RETRY_MS = 5000;
const WORKER_RETRIES = 5;

function registerWorker(attempt = 0) {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker
    .register("/verify/sw.js", { scope: "/verify/" })
    .then((registration) => {
      const installing = registration.installing;
      if (!installing) return;
      installing.addEventListener("statechange", () => {
        const failed = installing.state === "redundant" && !registration.active && !registration.waiting && !registration.installing;
        if (failed && attempt < WORKER_RETRIES) setTimeout(() => registerWorker(attempt + 1), WORKER_RETRY_MS * 2 ** attempt);
      });
    })
    .catch(() => {
      // no offline copy on this browser; the page still works online
    });
}

async function start() {
  if (followLanguage()) return;
  registerWorker();
  if (!nfcAvailable()) {
    $("nfc-missing").hidden = false;
    $("scan").hidden = true;
    $("scan-status").hidden = true;
  }
  $("scan").addEventListener("click", scan);
  $("lookup").addEventListener("submit", lookup);
  $("record-check").addEventListener("click", () => record(false));
  $("record-case").addEventListener("click", () => record(true));
  $("install").addEventListener("click", () => {
    state.installPrompt?.prompt();
    state.installPrompt = null;
    $("install").hidden = true;
  });
  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();
    state.installPrompt = event;
    $("install").hidden = false;
  });
  window.addEventListener("online", backOnline);
  window.addEventListener("offline", showOffline);
  showWho();
  const [reasonTexts] = await Promise.all([loadReasonTexts(locale), refreshLists(), refreshMe()]);
  state.reasonTexts = reasonTexts;
  await flush();
  setInterval(() => navigator.onLine && refreshLists(), REFRESH_LISTS_MS);
  setInterval(() => navigator.onLine && flush(), RETRY_UPLOADS_MS);
  document.body.dataset.ready = "1"; // the lists are verified and the page takes tags
}

start();
