"use strict";
// The booth page's script (a file of its own: the page's CSP runs no inline script). Every change
// is a same-origin JSON POST carrying the page's token (station_agent.booth_guard); the words, the
// state and the event stream are read with the page's cookie, which the browser sends by itself.
// The page keeps no words: GET /api/words gives those it lays out, in every installed language, and
// the state carries those the agent composes (headline, decisions, reasons, problems) the same way.
//
// It never shows a state the agent is not in: the event stream carries a beat every 0.4 s between
// snapshots (station_agent/web.py), and after SILENCE_MS without either, or as soon as the agent
// cannot be reached, the whole screen says "not connected, do not fill".
const TOKEN = document.querySelector('meta[name="booth-token"]').content;
const SILENCE_MS = 1200;  // three beats missed: within 1.4 s of the agent's last word, with the check below
const RETRY_MS = 3000;  // while not connected, a new event stream is tried this often
let words = null;  // {language: default, languages: [{code, name}], words: {key: {language: text}}}
let lang = null;
let last = null;  // the agent's last state
let connected = false;
let heard = 0;  // performance.now() of the last snapshot or beat
let opened = 0;  // performance.now() of the last event stream opened
let source = null;
let formSession = null;  // the vehicle session the override form is open for
let sounded = null;  // the refusal last sounded (state and session): each sounds once
let audio = null;
const $ = (id) => document.getElementById(id);
function text(node, value) { node.textContent = value == null ? "" : String(value); }
// A text in the page's language, else English, else `fallback` (the agent already fills a missing
// translation with English; this covers a language the agent does not have at all).
function inLang(texts, fallback) { return texts ? texts[lang] ?? texts.en ?? fallback : fallback; }
function t(key) { return inLang(words.words[key], key); }
function texts(key) { return words.words[key]; }  // a page word in every language, to keep (say)
function reasonText(r) { return inLang(r, r.code); }
// A message shown after an action ({language: text}), kept so that it follows the language button.
function say(node, texts) { node.texts = texts; text(node, texts ? inLang(texts, "") : ""); }

function chooseLanguage() {
  const codes = words.languages.map((l) => l.code);
  const asked = new URLSearchParams(location.search).get("lang");
  lang = codes.includes(asked) ? asked : codes.includes(words.language) ? words.language : codes[0] || "en";
}
// The language button names, in its own words, the language a click switches to: it cycles through all.
function nextLanguage() {
  const all = words.languages;
  return all.length ? all[(all.findIndex((l) => l.code === lang) + 1) % all.length] : null;
}

function layOut() {
  document.documentElement.lang = lang;
  document.title = t("page.title");
  document.querySelectorAll("[data-t]").forEach((n) => text(n, t(n.dataset.t)));
  const next = nextLanguage();
  $("lang").hidden = !next || next.code === lang;
  text($("lang"), next ? next.name : "");
  $("lang").lang = next ? next.code : "";
  for (const id of ["shift-result", "ov-result"]) say($(id), $(id).texts);
}

// The whole screen in one state: its colour, its shape and its name (data-state, for tests and tools).
function look(colour, shape, name) {
  document.body.className = colour;
  document.body.dataset.state = name;
  $("shape").className = "shape " + shape;
}

function draw() {
  if (!words) return;
  layOut();
  if (connected && last) drawState(last); else drawDisconnected();
}

function drawState(state) {
  const s = state.session;
  look(state.colour, state.shape, state.state);
  text($("count"), state.shape === "count" && s ? `${s.read}/${s.expected || "?"}` : "");
  text($("headline"), inLang(state.headline, state.state));
  text($("pump-state"), state.pump_enabled ? t("page.pump_on") : t("page.pump_off"));
  text($("station"), state.station); text($("pump"), state.pump);
  text($("mode"), state.mode === "monitor" ? t("page.monitor") : t("page.enforce"));
  text($("online"), state.registry_online === false ? t("page.offline") : state.registry_online ? t("page.online") : "");
  if (document.activeElement !== $("shift")) $("shift").value = state.attendant || "";
  text($("plate"), s ? s.plate || "" : "");
  const problems = (state.faults || []).map((f) => inLang(f.text, f.code));
  if (state.undelivered_text) problems.push(inLang(state.undelivered_text, String(state.undelivered)));
  listReasons(problems, s ? s.reasons : []);
  drawCylinders(s ? s.cylinders : []);
  drawOverride(state);
  $("actions").hidden = false;
  sound(state.colour, `${state.state}/${s ? s.id : ""}`, state.refusal_sound);
}

function drawDisconnected() {
  look("red", "cross", "disconnected");
  text($("count"), "");
  text($("headline"), t("page.disconnected"));
  text($("pump-state"), t("page.pump_unknown"));
  text($("online"), "");
  text($("plate"), "");
  listReasons([t("page.disconnected_hint")], []);
  drawCylinders([]);
  drawOverride(null);
  $("actions").hidden = true;  // the agent cannot take them
  sound("red", "disconnected", last ? last.refusal_sound : true);
}

function listReasons(problems, reasons) {
  const list = $("reasons"); list.replaceChildren();
  for (const problem of problems) {
    const li = document.createElement("li"); li.className = "problem"; text(li, problem); list.append(li);
  }
  for (const r of reasons) {
    const li = document.createElement("li"); li.dataset.code = r.code; text(li, reasonText(r)); list.append(li);
  }
}

function drawCylinders(cylinders) {
  const body = $("cylinders"); body.replaceChildren();
  body.parentElement.hidden = !cylinders.length;
  const labels = ["page.cylinder", "page.due", "page.decision", "page.why"].map(t);
  for (const c of cylinders) {
    const tr = document.createElement("tr"); tr.className = c.decision;
    const why = c.reasons.map(reasonText).join(t("page.list_separator")) + (c.online ? "" : ` (${t("page.offline")})`);
    const badge = document.createElement("span"); badge.className = "badge " + c.decision;
    text(badge, inLang(c.decision_text, c.decision));
    [c.cylinder_id || c.tag_uid, c.next_due || "-", badge, why].forEach((value, i) => {
      const td = document.createElement("td"); td.dataset.label = labels[i];
      if (value instanceof Node) td.append(value); else text(td, value);
      tr.append(td);
    });
    body.append(tr);
  }
}

// The override form: offered only while the policy lets a supervisor release this vehicle; after a
// release it says so until the next vehicle. Emptied whenever it is offered for another vehicle.
function drawOverride(state) {
  const s = state ? state.session : null;
  const allowed = Boolean(state && state.override_allowed && s);
  const released = Boolean(s && s.id === formSession && state.state === "overridden");
  const session = allowed || released ? s.id : null;
  if (session !== formSession) {
    formSession = session;
    for (const id of ["ov-supervisor", "ov-password", "ov-reason"]) $(id).value = "";
    $("ov-attendant").value = allowed ? state.attendant || "" : "";
    say($("ov-result"), null);
  }
  if (released) say($("ov-result"), texts("page.override_done"));
  $("ov-fields").hidden = !allowed;
  $("override").hidden = !session;
}

// A refusal sounds once when it appears (a new state or a new vehicle), if [attendant]
// refusal_sound is on. The tone is made here (Web Audio), not fetched. A kiosk browser lets it
// play without a tap only with --autoplay-policy=no-user-gesture-required (docs/station.md);
// otherwise the first tap anywhere on the page wakes the sound for the refusals after it.
function sound(colour, key, enabled) {
  if (colour !== "red") { sounded = null; return; }
  if (key === sounded) return;
  sounded = key;
  if (enabled !== false) refusalTone();
}
function wakeAudio() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch (error) { audio = null; }  // no audio here: the screen still says it
  return audio;
}
function refusalTone() {
  const context = wakeAudio();
  if (!context) return;
  const start = context.currentTime + 0.05;
  [[0, 880], [0.3, 440], [0.6, 880], [0.9, 440]].forEach(([at, hertz]) => {
    const tone = context.createOscillator(), gain = context.createGain();
    tone.type = "square"; tone.frequency.value = hertz; gain.gain.value = 0.25;
    tone.connect(gain); gain.connect(context.destination);
    tone.start(start + at); tone.stop(start + at + 0.25);
  });
}
document.addEventListener("pointerdown", wakeAudio);
document.addEventListener("keydown", wakeAudio);

// The agent answered: show what it says, unless it is older than what is shown (an action's answer
// overtaken by the stream: the agent's version only grows).
function show(state) {
  heard = performance.now();
  if (connected && last && state.version < last.version) return;
  connected = true;
  last = state;
  draw();
}
// The agent cannot be reached or has fallen silent: the screen says so, and do not fill.
function disconnected() {
  connected = false;
  draw();
}

async function post(path, body) {
  let response, answer;
  try {
    response = await fetch(path, {method: "POST", credentials: "same-origin",
                                  headers: {"Content-Type": "application/json", "X-Booth-Token": TOKEN},
                                  body: JSON.stringify(body || {})});
    answer = await response.json();
  } catch (error) {
    disconnected();
    return [false, null];
  }
  if (response.ok) show(answer);
  else staleToken(answer);
  return [response.ok, answer];
}
// Why an action was refused, in the attendant's words (the agent sends them in every language).
function refusal(answer) { return answer && answer.text ? answer.text : texts("page.failed"); }

// The agent was restarted since this page was loaded (a new token): load the page again.
function staleToken(answer) {
  if (answer && answer.rule === "token") setTimeout(() => location.reload(), 1000);
}

function getJson(path) {
  return fetch(path, {credentials: "same-origin"}).then((r) => r.json().then((answer) => {
    if (!r.ok) { staleToken(answer); throw new Error(answer.error); }
    return answer;
  }));
}
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const refresh = () => getJson("/api/state").then(show).catch(disconnected);

$("lang").onclick = () => { const next = nextLanguage(); if (next) lang = next.code; draw(); };
$("fill-done").onclick = () => post("/api/fill-done");
$("new-vehicle").onclick = () => post("/api/new-vehicle");
$("shift-form").onsubmit = async (event) => {
  event.preventDefault();
  const [ok, answer] = await post("/api/attendant", {attendant: $("shift").value});
  $("shift").setAttribute("aria-invalid", ok ? "false" : "true");
  say($("shift-result"), ok ? texts("page.shift_saved") : refusal(answer));
  if (ok) setTimeout(() => { if ($("shift-result").texts === texts("page.shift_saved")) say($("shift-result"), null); }, 4000);
};
// What was said about a code stays until the code is typed again.
$("shift").oninput = () => { $("shift").removeAttribute("aria-invalid"); say($("shift-result"), null); };
$("ov-form").onsubmit = async (event) => {
  event.preventDefault();
  const [ok, answer] = await post("/api/override", {attendant: $("ov-attendant").value, supervisor: $("ov-supervisor").value,
                                                     password: $("ov-password").value, reason: $("ov-reason").value});
  $("ov-password").value = "";
  if (!ok) say($("ov-result"), refusal(answer));
};

function poll() {
  refresh().finally(() => setTimeout(poll, 1000));
}
function follow() {
  if (source) source.close();
  opened = performance.now();
  if (!window.EventSource) { source = null; poll(); return; }
  const stream = new EventSource("/api/stream");
  source = stream;
  stream.onmessage = (event) => show(JSON.parse(event.data));
  // A beat: the agent is there. One that names a version this page has not shown means a missed snapshot.
  stream.addEventListener("beat", (event) => {
    heard = performance.now();
    if (!connected || !last || Number(event.data) !== last.version) refresh();
  });
  stream.onerror = () => {
    stream.close();
    if (source === stream) source = null;
    refresh().finally(() => setTimeout(() => { if (!source) follow(); }, 1000));
  };
}
function watch() {
  const now = performance.now();
  if (connected && now - heard > SILENCE_MS) {
    disconnected();
    follow();  // the old stream may be dead without knowing it (a cable pulled): open another
  } else if (!connected && window.EventSource && now - opened > RETRY_MS) {
    follow();
  }
}
// The words first (once: a new catalogue comes with a restart, which reloads the page), then the state.
async function start() {
  while (!words) {
    try { words = await getJson("/api/words"); } catch (error) { await pause(1000); }
  }
  chooseLanguage();
  layOut();
  await refresh();
  follow();
  setInterval(watch, 200);
}
start();
