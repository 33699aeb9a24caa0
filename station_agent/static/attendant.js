"use strict";
// The booth page's script (a file of its own: the page's CSP runs no inline script). Every change
// is a same-origin JSON POST carrying the page's token (station_agent.booth_guard); the state and
// the event stream are read with the page's cookie, which the browser sends by itself.
const TOKEN = document.querySelector('meta[name="booth-token"]').content;
const WORDS = {
  zh: {pump: "加气枪", cylinder: "气瓶", due: "下次检验", decision: "结论", why: "原因", fillDone: "加气完成",
       newVehicle: "下一辆车", override: "主管授权", submit: "授权", attendant: "加气员工号", supervisor: "主管工号",
       password: "主管密码", reason: "授权原因（必填）", online: "平台在线", offline: "离线核验", pumpOn: "加气机已开启",
       pumpOff: "加气机已锁定", onShift: "当班加气员", set: "确定", enforce: "拦截模式", monitor: "监测模式", of: "已读", lang: "English",
       undelivered: "条记录无法上传，已报告监管平台"},
  en: {pump: "Pump", cylinder: "Cylinder", due: "Next inspection", decision: "Decision", why: "Why", fillDone: "Fill finished",
       newVehicle: "Next vehicle", override: "Supervisor override", submit: "Override", attendant: "Attendant ID",
       supervisor: "Supervisor ID", password: "Supervisor password", reason: "Reason (required)", online: "Registry online",
       offline: "Offline checks", pumpOn: "Pump enabled", pumpOff: "Pump locked", onShift: "Attendant", set: "Set", enforce: "Enforcing", monitor: "Monitor only",
       of: "read", lang: "中文", undelivered: "scan record(s) could not be delivered; reported to the bureau"}
};
let lang = new URLSearchParams(location.search).get("lang") || null;
let last = null;
const $ = (id) => document.getElementById(id);
function text(node, value) { node.textContent = value == null ? "" : String(value); }
// A reason's words in the page's language (the agent sends every installed one), else English, else its code.
function reasonText(r) { return r[lang] ?? r.en ?? r.code; }

function render(state) {
  last = state;
  lang = lang || state.language || "zh";
  const w = WORDS[lang] || WORDS.en;  // a language with reason catalogues only: page words in English
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((n) => text(n, w[n.dataset.t]));
  document.querySelectorAll("[data-p]").forEach((n) => { n.placeholder = w[n.dataset.p]; });
  text($("lang"), w.lang);
  if (document.activeElement !== $("shift")) $("shift").value = state.attendant || "";
  text($("station"), state.station); text($("pump"), state.pump); text($("mode"), w[state.mode]);
  text($("online"), state.registry_online === false ? w.offline : state.registry_online ? w.online : "");
  text($("pump-state"), state.pump_enabled ? w.pumpOn : w.pumpOff);
  $("pump-state").className = state.pump_enabled ? "" : "status-off";
  $("panel").className = state.colour;
  $("panel").dataset.state = state.state;
  const s = state.session;
  let headline = state.headline[lang];
  if (s && s.state === "collecting" && s.expected) headline += ` (${w.of} ${s.read}/${s.expected})`;
  text($("headline"), headline);
  text($("plate"), s ? s.plate || "" : "");
  const reasons = $("reasons"); reasons.replaceChildren();
  const problems = (state.faults || []).map((f) => f.detail);
  if (state.undelivered) problems.push(`${state.undelivered} ${w.undelivered}`);
  for (const problem of problems) {
    const li = document.createElement("li"); li.className = "problem"; text(li, problem); reasons.append(li);
  }
  for (const r of (s ? s.reasons : [])) {
    const li = document.createElement("li"); li.dataset.code = r.code; text(li, reasonText(r)); reasons.append(li);
  }
  const body = $("cylinders"); body.replaceChildren();
  for (const c of (s ? s.cylinders : [])) {
    const tr = document.createElement("tr"); tr.className = c.decision;
    for (const v of [c.cylinder_id || c.tag_uid, c.next_due || "-", c.decision_text[lang],
                     c.reasons.map(reasonText).join("；") + (c.online ? "" : ` (${w.offline})`)]) {
      const td = document.createElement("td"); text(td, v); tr.append(td);
    }
    body.append(tr);
  }
  text($("recent"), (state.recent || []).join("\n"));
}

async function post(path, body) {
  const response = await fetch(path, {method: "POST", credentials: "same-origin",
                                       headers: {"Content-Type": "application/json", "X-Booth-Token": TOKEN},
                                       body: JSON.stringify(body || {})});
  const answer = await response.json();
  if (response.ok) render(answer);
  else staleToken(answer);
  return [response.ok, answer];
}

// The agent was restarted since this page was loaded (a new token): load the page again.
function staleToken(answer) {
  if (answer && answer.rule === "token") setTimeout(() => location.reload(), 1000);
}

function state() {
  return fetch("/api/state", {credentials: "same-origin"}).then((r) => r.json().then((answer) => {
    if (!r.ok) { staleToken(answer); throw new Error(answer.error); }
    return answer;
  }));
}

$("lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; if (last) render(last); };
$("fill-done").onclick = () => post("/api/fill-done");
$("shift-set").onclick = () => post("/api/attendant", {attendant: $("shift").value});
$("new-vehicle").onclick = () => post("/api/new-vehicle");
$("ov-submit").onclick = async () => {
  const [ok, answer] = await post("/api/override", {attendant: $("ov-attendant").value, supervisor: $("ov-supervisor").value,
                                                     password: $("ov-password").value, reason: $("ov-reason").value});
  $("ov-password").value = "";
  text($("ov-result"), ok ? "OK" : answer.error);
};

function poll() {
  state().then(render).catch(() => {}).finally(() => setTimeout(poll, 1000));
}
function follow() {
  if (!window.EventSource) { poll(); return; }
  const source = new EventSource("/api/stream");
  source.onmessage = (event) => render(JSON.parse(event.data));
  source.onerror = () => { source.close(); state().then(render).catch(() => {}).finally(() => setTimeout(follow, 1000)); };
}
state().then(render).catch(() => {}).finally(follow);
