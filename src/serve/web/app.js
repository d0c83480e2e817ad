// The web dashboard: draws what the server folded (/api/state, /api/tasks) and redraws when
// /events says something happened. It decides nothing itself; every button is an API call.
"use strict";

const $ = (id) => document.getElementById(id);
let token = "";
let lastId = null;
let redraw = null;
let question = null;
let lastNotice = 0;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function note(text, error) {
  const n = $("note");
  n.textContent = text || "";
  n.className = error ? "error" : "";
}

// The token comes once in the address (#token=..., never sent to the server) or from the form.
function loadToken() {
  const m = location.hash.match(/token=([A-Za-z0-9]+)/);
  if (m) {
    localStorage.setItem("clk-token", m[1]);
    history.replaceState(null, "", location.pathname);
  }
  token = localStorage.getItem("clk-token") || "";
}

function askToken() {
  $("login").hidden = false;
  $("app").hidden = true;
  $("input").hidden = true;
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (r.status === 401) askToken();
  if (!r.ok) throw new Error((data && data.message) || r.status + " " + r.statusText);
  return data;
}

function schedule() {
  if (redraw) return;
  redraw = setTimeout(() => { redraw = null; refresh(); }, 120);
}

async function refresh() {
  try {
    const [live, tasks, told] = await Promise.all([
      api("GET", "/api/state"), api("GET", "/api/tasks"), api("GET", "/api/notices?after=" + lastNotice),
    ]);
    drawState(live);
    drawTasks(tasks);
    drawNotices(told.notices);
  } catch (e) {
    note(e.message, true);
  }
}

function drawState(live) {
  $("cost").textContent = live.cost + (live.state.totals.estimated ? " (estimated)" : "");
  const cards = $("cards");
  cards.replaceChildren();
  for (const [name, a] of Object.entries(live.state.agents)) {
    const c = el("div", { class: "card", "data-agent": name, "data-status": a.status });
    c.append(el("div", { class: "name" }, name));
    c.append(el("div", { class: "status" }, a.status + (a.dispatches ? " · " + a.dispatches + " call(s)" : "")));
    c.append(el("div", { class: "last" }, a.last_line || a.outcome || ""));
    cards.append(c);
  }
  const filter = $("filter").value.trim().toLowerCase();
  const log = $("log");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.replaceChildren();
  for (const line of live.log) {
    if (filter && !line.toLowerCase().includes(filter)) continue;
    log.append(el("li", {}, line));
  }
  if (stick) log.scrollTop = log.scrollHeight;
}

const ACTIONS = {
  approval: ["approve", "cancel"],
  queued: ["pause", "cancel"],
  held: ["pause", "cancel"],
  running: ["pause", "cancel"],
  paused: ["resume", "cancel"],
  failed: ["resume", "cancel"],
  interrupted: ["resume", "cancel"],
};

function drawTasks(tasks) {
  const body = $("tasks").tBodies[0];
  body.replaceChildren();
  $("no-tasks").hidden = tasks.length > 0;
  for (const t of tasks) {
    const row = el("tr", { "data-task": t.id, "data-state": t.state });
    row.append(el("td", {}, "#" + t.id));
    row.append(el("td", { class: "state" }, t.state));
    row.append(el("td", {}, t.prompt));
    const cell = el("td");
    for (const action of ACTIONS[t.state] || []) {
      const b = el("button", { type: "button", class: action }, action);
      b.addEventListener("click", () => steer(t.id, action));
      cell.append(b);
    }
    row.append(cell);
    body.append(row);
  }
}

async function steer(id, action) {
  try {
    await api("POST", "/api/tasks/" + id + "/" + action, {});
    note("task " + id + ": " + action);
    refresh();
  } catch (e) {
    note(e.message, true);
  }
}

// The server tells each thing once; the page shows it and raises a desktop notification.
function drawNotices(notices) {
  const list = $("notices");
  for (const n of notices) {
    if (n.seq <= lastNotice) continue;
    lastNotice = n.seq;
    list.prepend(el("li", { "data-kind": n.kind, "data-key": n.key }, n.text));
    while (list.children.length > 5) list.lastChild.remove();
    if (window.Notification && Notification.permission === "granted") new Notification("clk", { body: n.text, tag: n.key });
  }
}

function onEvent(ev) {
  if (ev.event === "confirm_requested") {
    question = ev.id;
    $("question-text").textContent = ev.question;
    $("question").hidden = false;
  } else if (ev.event === "confirm_answered" && ev.id === question) {
    question = null;
    $("question").hidden = true;
  }
  schedule();
}

async function answer(approve) {
  if (question === null) return;
  const id = question;
  question = null;
  $("question").hidden = true;
  try { await api("POST", "/api/confirm", { id, approve }); } catch (e) { note(e.message, true); }
}

// /events over fetch (EventSource cannot send the token header), resumed with Last-Event-ID.
async function listen() {
  for (;;) {
    try {
      const headers = { Authorization: "Bearer " + token };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      const r = await fetch("/events", { headers });
      if (r.status === 401) { askToken(); return; }
      if (!r.ok || !r.body) throw new Error("events: " + r.status);
      $("link").textContent = "live";
      $("link").className = "";
      schedule();
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id:")) lastId = line.slice(3).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (data) { try { onEvent(JSON.parse(data)); } catch (_) { /* not ours */ } }
        }
      }
    } catch (_) { /* reconnect below */ }
    $("link").textContent = "reconnecting…";
    $("link").className = "off";
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

async function send(text) {
  if (text.startsWith("/filter")) {
    $("filter").value = text.slice(7).trim();
    schedule();
    return;
  }
  if (text === "/help" || text === "/?") {
    note("/run, /plan, /loop ralph N, /stop, /abort, /undo, /budget, /status, /task add|approve|pause ID, /filter WORD");
    return;
  }
  try {
    const r = await api("POST", "/api/input", { text });
    note("sent (task " + r.task_id + ")");
  } catch (e) {
    note(e.message, true);
  }
}

function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("input").hidden = false;
  api("GET", "/api/status").then((s) => {
    $("project").textContent = "clk · " + (s.project || "project");
  }).catch(() => {});
  refresh();
  listen();
  // A worker in another process moves tasks without an event here: look again now and then.
  setInterval(schedule, 3000);
  if (window.Notification && Notification.permission === "default") Notification.requestPermission().catch(() => {});
}

window.addEventListener("DOMContentLoaded", () => {
  $("input").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("line").value.trim();
    if (!text) return;
    $("line").value = "";
    send(text);
  });
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem("clk-token", $("token").value.trim());
    loadToken();
    start();
  });
  $("filter").addEventListener("input", schedule);
  $("yes").addEventListener("click", () => answer(true));
  $("no").addEventListener("click", () => answer(false));
  loadToken();
  if (token) start(); else askToken();
});
