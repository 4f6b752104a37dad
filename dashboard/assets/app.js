// corral dashboard: a live process table over corral's /v1 API.
//
// Model: one record per process in `procs` (keyed by name). The event stream
// (GET /v1/events, newline-delimited JSON read with fetch) updates records in
// place; a "missed" marker or a reconnect re-reads the snapshot
// (GET /v1/processes). Rendering is virtual: only the rows in view exist in
// the DOM, updated cell by cell at most once per animation frame, however many
// events arrived in between.
//
// Every text from the daemon (names, errors, log bytes) goes into the DOM
// through textContent, never as HTML. URLs are relative to the page, which
// `corral dashboard` serves under a secret path.
"use strict";

const TOKEN = document.querySelector('meta[name="corral-token"]').content;
const STATES = ["RUNNING", "STARTING", "BACKOFF", "STOPPING", "STOPPED", "EXITED", "FATAL", "UNKNOWN"];
const ROW = 28; // px, as --row in app.css
const OVERSCAN = 8;
const MAX_LOG_CHARS = 2 << 20;

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// ---- model ----

const procs = new Map(); // name -> record
let view = [];           // names shown, filtered and sorted
let viewDirty = true;    // filter, sort or membership changed
let renderQueued = false;
const selected = new Set();
const filter = { text: "", group: "", state: "" };
const sort = { key: "name", dir: 1 };
// readyAt: ms from the start of the page's navigation to the first render
// of a snapshot.
const stats = { events: 0, renders: 0, snapshots: 0, readyAt: 0 };

function record(st) {
  return {
    name: st.name, group: st.group || "", program: st.program || "",
    state: st.state || "UNKNOWN", pid: st.pid || 0,
    started: st.pid && st.uptime_ns !== undefined ? Date.now() - st.uptime_ns / 1e6 : 0,
    restarts: st.restarts || 0, exit: st.last_exit || null, error: st.error || "",
  };
}

function replaceAll(list) {
  procs.clear();
  for (const st of list) procs.set(st.name, record(st));
  for (const n of selected) if (!procs.has(n)) selected.delete(n);
  stats.snapshots++;
  refreshGroups();
  changed(true);
}

// apply updates the model with one event of the stream.
function apply(e) {
  stats.events++;
  if (e.type === "missed") { resync("missed " + e.missed + " events"); return; }
  if (!e.name) return; // orphan reaped, lost without a name
  let p = procs.get(e.name);
  if (e.type === "removed") {
    if (p) { procs.delete(e.name); selected.delete(e.name); changed(true); }
    return;
  }
  if (!p) {
    p = record({ name: e.name, state: e.state });
    procs.set(e.name, p);
    needDetails.add(e.name); // group and counters come from the API
    changed(true);
  }
  const before = p.state;
  if (e.state) p.state = e.state;
  switch (e.type) {
    case "starting":
      p.pid = e.pid || 0; p.started = Date.now(); p.error = ""; break;
    case "running":
      if (e.pid) p.pid = e.pid; break;
    case "exited":
      p.pid = 0; p.started = 0; p.exit = e.exit || p.exit;
      needDetails.add(e.name); // the restart counter
      break;
    case "stopped":
      p.pid = 0; p.started = 0; break;
    case "fatal": case "backoff":
      if (e.error) p.error = e.error; break;
  }
  if (before !== p.state) {
    counts[before] = (counts[before] || 1) - 1;
    counts[p.state] = (counts[p.state] || 0) + 1;
    if (filter.state || sort.key === "state") viewDirty = true;
  }
  if (sort.key !== "name" && sort.key !== "group") viewDirty = true;
  queueRender();
}

// needDetails holds names whose group or counters only the API knows; they
// are re-read in batches, once a second at most.
const needDetails = new Set();
setInterval(async () => {
  if (!needDetails.size || connState !== "live") return;
  const names = [...needDetails];
  needDetails.clear();
  if (names.length > 300) { resync("many changes"); return; }
  const q = names.map((n) => "name=" + encodeURIComponent(n)).join("&");
  try {
    const r = await fetch("v1/processes?" + q);
    if (!r.ok) return;
    for (const st of await r.json()) {
      const p = procs.get(st.name);
      if (!p) continue;
      // Only what events do not carry: the state and pid of the events win.
      const g = p.group;
      p.group = st.group || ""; p.program = st.program || "";
      p.restarts = st.restarts || 0; if (st.last_exit) p.exit = st.last_exit;
      if (st.error) p.error = st.error;
      if (g !== p.group) { refreshGroups(); viewDirty = true; }
    }
    queueRender();
  } catch (_) { /* the stream's reconnect handles a gone daemon */ }
}, 1000);

let counts = {};
function recount() {
  counts = {};
  for (const p of procs.values()) counts[p.state] = (counts[p.state] || 0) + 1;
}

function changed(membership) {
  if (membership) { viewDirty = true; recount(); }
  queueRender();
}

// ---- the event stream ----

let connState = "connecting";
let streamAbort = null;
let resyncing = null;
let buffered = null; // events received while a snapshot is read

function setConn(state, text) {
  connState = state;
  const c = $("conn");
  c.dataset.state = state;
  c.textContent = text || state;
}

async function snapshot() {
  const r = await fetch("v1/processes");
  if (!r.ok) throw new Error("GET /v1/processes: " + r.status + " " + (await r.text()));
  return r.json();
}

// resync re-reads the snapshot while the stream keeps running: events that
// arrive meanwhile are kept and replayed on top of it, in order, so the
// last word for each process is the newest event.
let resyncAgain = false;
function resync(why) {
  if (resyncing) {
    // Missed while a snapshot is read: the lost events may be newer than
    // it, so read another one after it.
    resyncAgain = true;
    return resyncing;
  }
  setConn("resync", "resync (" + why + ")");
  buffered = [];
  resyncing = (async () => {
    try {
      const list = await snapshot();
      const replay = buffered;
      buffered = null;
      replaceAll(list);
      for (const e of replay) apply(e);
      setConn("live");
    } catch (err) {
      buffered = null;
      setConn("down", "resync failed: " + err.message);
    } finally {
      resyncing = null;
      if (resyncAgain) { resyncAgain = false; resync("again"); }
    }
  })();
  return resyncing;
}

async function connect() {
  let delay = 250;
  for (;;) {
    streamAbort = new AbortController();
    try {
      setConn("connecting");
      const r = await fetch("v1/events", { signal: streamAbort.signal, cache: "no-store" });
      if (!r.ok) throw new Error("GET /v1/events: " + r.status);
      // Subscribed: a snapshot read now misses nothing.
      const done = resync("connected");
      delay = 250;
      await readLines(r.body, (line) => {
        let e;
        try { e = JSON.parse(line); } catch (_) { return; }
        if (buffered) buffered.push(e); else apply(e);
      });
      await done;
      setConn("down", "stream ended; reconnecting");
    } catch (err) {
      setConn("down", "disconnected: " + err.message);
    }
    await new Promise((ok) => setTimeout(ok, delay));
    delay = Math.min(delay * 2, 5000);
    loadInfo();
  }
}

async function readLines(body, onLine) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    rest += dec.decode(value, { stream: true });
    let i;
    while ((i = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, i);
      rest = rest.slice(i + 1);
      if (line) onLine(line);
    }
  }
}

async function loadInfo() {
  try {
    const r = await fetch("v1/info");
    if (!r.ok) return;
    const i = await r.json();
    $("daemon").textContent = "v" + i.version + " · pid " + i.pid + " · up " + fmtDur(i.uptime_ns / 1e6);
  } catch (_) { /* shown by the stream state */ }
}

// ---- view: filter, sort, render ----

function matches(p) {
  if (filter.state && p.state !== filter.state) return false;
  if (filter.group && p.group !== filter.group) return false;
  if (filter.text && !p.name.toLowerCase().includes(filter.text)) return false;
  return true;
}

const sortKeys = {
  name: (p) => p.name,
  group: (p) => p.group,
  state: (p) => STATES.indexOf(p.state),
  pid: (p) => p.pid,
  uptime: (p) => (p.started ? -p.started : -Infinity),
  restarts: (p) => p.restarts,
  exit: (p) => (p.exit ? Date.parse(p.exit.ended) : 0),
};

function rebuildView() {
  const key = sortKeys[sort.key];
  const out = [];
  // Each key is computed once, not once per comparison.
  for (const p of procs.values()) if (matches(p)) out.push({ k: key(p), n: p.name });
  out.sort((a, b) => {
    if (a.k < b.k) return -sort.dir;
    if (a.k > b.k) return sort.dir;
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
  });
  view = out.map((x) => x.n);
  viewDirty = false;
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(render);
}

const pool = []; // row elements, reused as the window scrolls

function makeRow() {
  const r = el("div", "row");
  r.setAttribute("role", "row");
  const box = el("input");
  box.type = "checkbox";
  box.setAttribute("aria-label", "select");
  const cells = {};
  const c0 = el("span"); c0.appendChild(box);
  r.appendChild(c0);
  for (const k of ["name", "group", "state", "pid", "uptime", "restarts", "exit"]) {
    cells[k] = el("span", k === "pid" || k === "uptime" || k === "restarts" ? "num" : "");
    cells[k].setAttribute("role", "cell");
    cells[k].dataset.col = k;
    r.appendChild(cells[k]);
  }
  const acts = el("span", "acts");
  for (const [a, label] of [["start", "Start"], ["stop", "Stop"], ["restart", "Restart"], ["log", "Log"], ["remove", "✕"]]) {
    const b = el("button", "", label);
    b.type = "button";
    b.dataset.act = a;
    if (a === "remove") b.title = "remove the program";
    acts.appendChild(b);
  }
  r.appendChild(acts);
  r._box = box; r._cells = cells; r._acts = acts; r._last = {};
  return r;
}

function set(row, key, text, title) {
  if (row._last[key] === text) return;
  row._last[key] = text;
  row._cells[key].textContent = text;
  if (title !== undefined) row._cells[key].title = title;
}

function render() {
  renderQueued = false;
  stats.renders++;
  if (viewDirty) rebuildView();
  const sc = $("scroller");
  $("spacer").style.height = view.length * ROW + "px";
  $("empty").hidden = view.length > 0 || procs.size === 0;
  const first = Math.max(0, Math.floor(sc.scrollTop / ROW) - OVERSCAN);
  const last = Math.min(view.length, Math.ceil((sc.scrollTop + sc.clientHeight) / ROW) + OVERSCAN);
  const rows = $("rows");
  rows.style.top = first * ROW + "px";
  const n = last - first;
  while (pool.length < n) { const r = makeRow(); pool.push(r); rows.appendChild(r); }
  const now = Date.now();
  for (let i = 0; i < pool.length; i++) {
    const row = pool[i];
    if (i >= n) { if (!row.hidden) { row.hidden = true; row.dataset.name = ""; } continue; }
    row.hidden = false;
    const p = procs.get(view[first + i]);
    if (row.dataset.name !== p.name) { row.dataset.name = p.name; row._last = {}; }
    set(row, "name", p.name, p.name);
    set(row, "group", p.group === p.name ? "" : p.group);
    if (row._last.stateClass !== p.state) {
      row._cells.state.className = "state s-" + p.state;
      row._last.stateClass = p.state;
    }
    set(row, "state", p.state, p.error);
    row.dataset.state = p.state;
    set(row, "pid", p.pid ? String(p.pid) : "");
    set(row, "uptime", p.started && p.pid ? fmtDur(now - p.started) : "");
    set(row, "restarts", String(p.restarts));
    set(row, "exit", fmtExit(p.exit), p.exit ? exitTitle(p.exit) : "");
    const sel = selected.has(p.name);
    if (row._box.checked !== sel) row._box.checked = sel;
    row.classList.toggle("selected", sel);
  }
  renderCounts();
  $("selected-count").textContent = selected.size + " selected";
  for (const b of document.querySelectorAll("[data-bulk]")) b.disabled = selected.size === 0;
  const all = $("select-all");
  all.checked = view.length > 0 && selected.size >= view.length && view.every((n) => selected.has(n));
  if (!stats.readyAt && procs.size) stats.readyAt = performance.now();
  document.body.dataset.ready = "1";
}

let countsKey = "";
function renderCounts() {
  const key = procs.size + "|" + STATES.map((s) => counts[s] || 0).join(",") + "|" + filter.state;
  if (key === countsKey) return;
  countsKey = key;
  const nav = $("counts");
  nav.replaceChildren();
  const mk = (state, label, n) => {
    const b = el("button", state ? "s-" + state : "", label + " " + n);
    b.type = "button";
    b.dataset.state = state;
    b.setAttribute("aria-pressed", String(filter.state === state));
    nav.appendChild(b);
  };
  mk("", "all", procs.size);
  for (const s of STATES) if (counts[s]) mk(s, s, counts[s]);
}

function refreshGroups() {
  const groups = new Set();
  for (const p of procs.values()) if (p.group && p.group !== p.name) groups.add(p.group);
  const sel = $("group-filter");
  const have = new Set([...sel.options].map((o) => o.value));
  for (const g of [...groups].sort()) if (!have.has(g)) sel.appendChild(new Option(g, g));
}

function fmtDur(ms) {
  if (!(ms >= 0)) return "";
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + s + "s";
  return s + "s";
}

function fmtExit(x) {
  if (!x) return "";
  const sig = x.signal && !x.signal.startsWith("SIG") ? "SIG" + x.signal : x.signal;
  const how = sig ? sig + (x.core_dumped ? " (core)" : "") : "exit " + x.code;
  const ago = x.ended ? fmtDur(Date.now() - Date.parse(x.ended)) + " ago" : "";
  return how + (x.expected ? "" : " ✗") + (ago ? " · " + ago : "");
}

function exitTitle(x) {
  return "pid " + x.pid + ", " + (x.expected ? "expected" : "unexpected") +
    ", cpu " + ((x.user_cpu_ns + x.sys_cpu_ns) / 1e6).toFixed(0) + " ms, max rss " + Math.round(x.max_rss_bytes / 1024) + " KiB";
}

// ---- actions ----

async function post(path, body, method) {
  const r = await fetch(path, {
    method: method || "POST",
    headers: { "Content-Type": "application/json", "X-Corral-Token": TOKEN },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text.trim() }; }
  return { ok: r.ok, status: r.status, data };
}

function outcome(ok, text) {
  const box = $("outcomes");
  const p = el("p", ok ? "ok" : "fail", new Date().toLocaleTimeString() + "  " + text);
  box.prepend(p);
  while (box.childElementCount > 50) box.lastElementChild.remove();
  return p;
}

async function act(action, targets) {
  const what = action === "signal" ? "signal " + $("signal").value : action;
  const label = targets.length === 1 ? targets[0] : targets.length + " processes";
  try {
    let r;
    if (targets.length === 1) {
      const body = action === "signal" ? { signal: $("signal").value } : undefined;
      r = await post("v1/processes/" + encodeURIComponent(targets[0]) + "/" + action, body);
    } else {
      const req = { targets };
      if (action === "signal") req.signal = $("signal").value;
      r = await post("v1/actions/" + action, req);
    }
    const results = (r.data && r.data.results) || [];
    const failed = results.filter((x) => x.error);
    if (r.ok) {
      outcome(true, what + " " + label + ": ok");
    } else if (failed.length) {
      outcome(false, what + " " + label + ": " + failed.length + " failed\n" +
        failed.slice(0, 10).map((x) => x.name + ": " + x.error).join("\n") + (failed.length > 10 ? "\n…" : ""));
    } else {
      outcome(false, what + " " + label + ": " + r.status + " " + ((r.data && r.data.error) || ""));
    }
  } catch (err) {
    outcome(false, what + " " + label + ": " + err.message);
  }
}

async function removeProgram(name) {
  const p = procs.get(name);
  const program = (p && p.program) || name;
  if (!confirm("Remove program " + program + "? Its processes are stopped.")) return;
  try {
    const r = await post("v1/programs/" + encodeURIComponent(program), undefined, "DELETE");
    outcome(r.ok, "remove " + program + ": " + (r.ok ? "ok" : r.status + " " + ((r.data && r.data.error) || "")));
  } catch (err) {
    outcome(false, "remove " + program + ": " + err.message);
  }
}

// ---- logs ----

const log = { name: "", stream: "stdout", abort: null, follow: true, text: "", pending: "", queued: false };

function openLog(name) {
  log.name = name;
  $("log-search").value = ""; // a search of the last log would hide this one
  $("log-matches").textContent = "";
  $("log-name").textContent = name;
  $("logview").hidden = false;
  startLog();
  queueRender(); // the table got shorter
}

function closeLog() {
  if (log.abort) log.abort.abort();
  log.abort = null;
  $("logview").hidden = true;
  queueRender();
}

function logURL(download) {
  const q = "stream=" + log.stream + (download ? "" : "&tail=65536&follow=true");
  return "v1/processes/" + encodeURIComponent(log.name) + "/logs?" + q;
}

async function startLog() {
  if (log.abort) log.abort.abort();
  const ac = new AbortController();
  log.abort = ac;
  log.text = ""; log.pending = "";
  $("log-text").replaceChildren();
  $("log-download").href = logURL(true);
  $("log-download").download = log.name + "." + log.stream + ".log";
  $("log-status").textContent = "following";
  try {
    const r = await fetch(logURL(false), { signal: ac.signal, cache: "no-store" });
    if (!r.ok) { $("log-status").textContent = "error " + r.status + ": " + (await r.text()); return; }
    const reader = r.body.getReader();
    // Not UTF-8? Each bad byte becomes U+FFFD; control bytes are shown as
    // they are, through textContent, never parsed as markup.
    const dec = new TextDecoder("utf-8", { fatal: false });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      log.pending += dec.decode(value, { stream: true });
      queueLog();
    }
    if (log.abort === ac) $("log-status").textContent = "stream ended";
  } catch (err) {
    if (log.abort === ac) $("log-status").textContent = "disconnected: " + err.message;
  }
}

function queueLog() {
  if (log.queued || !log.follow) return;
  log.queued = true;
  requestAnimationFrame(flushLog);
}

function flushLog() {
  log.queued = false;
  if (!log.follow || !log.pending) return;
  log.text += log.pending;
  const add = log.pending;
  log.pending = "";
  const pre = $("log-text");
  if (log.text.length > MAX_LOG_CHARS || $("log-search").value) {
    log.text = log.text.slice(-MAX_LOG_CHARS);
    showLog();
  } else {
    pre.appendChild(document.createTextNode(add));
  }
  pre.scrollTop = pre.scrollHeight;
}

// showLog redraws the log; with a search term, only the matching lines,
// the term marked.
function showLog() {
  const pre = $("log-text");
  const term = $("log-search").value;
  if (!term) { pre.replaceChildren(document.createTextNode(log.text)); $("log-matches").textContent = ""; return; }
  const frag = document.createDocumentFragment();
  const lower = term.toLowerCase();
  let n = 0;
  for (const line of log.text.split("\n")) {
    const l = line.toLowerCase();
    let i = l.indexOf(lower);
    if (i < 0) continue;
    n++;
    let from = 0;
    while (i >= 0) {
      frag.appendChild(document.createTextNode(line.slice(from, i)));
      frag.appendChild(el("mark", "", line.slice(i, i + term.length)));
      from = i + term.length;
      i = l.indexOf(lower, from);
    }
    frag.appendChild(document.createTextNode(line.slice(from) + "\n"));
  }
  pre.replaceChildren(frag);
  $("log-matches").textContent = n + " matching lines";
}

// ---- wiring ----

function init() {
  const sf = $("state-filter");
  for (const s of STATES) sf.appendChild(new Option(s, s));

  $("search").addEventListener("input", (e) => { filter.text = e.target.value.trim().toLowerCase(); viewDirty = true; queueRender(); });
  $("group-filter").addEventListener("change", (e) => { filter.group = e.target.value; viewDirty = true; queueRender(); });
  sf.addEventListener("change", (e) => { filter.state = e.target.value; viewDirty = true; queueRender(); });
  $("counts").addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    filter.state = b.dataset.state; sf.value = filter.state; viewDirty = true; queueRender();
  });
  document.querySelector(".row.head").addEventListener("click", (e) => {
    const h = e.target.closest("[data-sort]");
    if (!h) return;
    const key = h.dataset.sort;
    sort.dir = sort.key === key ? -sort.dir : 1;
    sort.key = key;
    for (const x of document.querySelectorAll("[data-sort]")) x.removeAttribute("aria-sort");
    h.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    viewDirty = true; queueRender();
  });
  $("scroller").addEventListener("scroll", queueRender, { passive: true });
  window.addEventListener("resize", queueRender);
  $("rows").addEventListener("click", (e) => {
    const row = e.target.closest(".row");
    if (!row || !row.dataset.name) return;
    const name = row.dataset.name;
    if (e.target.type === "checkbox") {
      if (e.target.checked) selected.add(name); else selected.delete(name);
      queueRender();
      return;
    }
    const b = e.target.closest("button");
    if (!b) return;
    const a = b.dataset.act;
    if (a === "log") openLog(name);
    else if (a === "remove") removeProgram(name);
    else act(a, [name]);
  });
  $("select-all").addEventListener("change", (e) => {
    if (viewDirty) rebuildView();
    if (e.target.checked) for (const n of view) selected.add(n);
    else for (const n of view) selected.delete(n);
    queueRender();
  });
  for (const b of document.querySelectorAll("[data-bulk]")) {
    b.addEventListener("click", () => act(b.dataset.bulk, [...selected]));
  }
  $("log-close").addEventListener("click", closeLog);
  $("log-stream").addEventListener("change", (e) => { log.stream = e.target.value; startLog(); });
  $("log-follow").addEventListener("click", (e) => {
    log.follow = !log.follow;
    e.target.textContent = log.follow ? "Pause" : "Follow";
    e.target.setAttribute("aria-pressed", String(log.follow));
    $("log-status").textContent = log.follow ? "following" : "paused";
    if (log.follow) queueLog();
  });
  $("log-search").addEventListener("input", showLog);
  $("add-open").addEventListener("click", () => { $("add-error").textContent = ""; $("add-dialog").showModal(); });
  $("add-form").addEventListener("submit", async (e) => {
    if (e.submitter && e.submitter.value === "cancel") return;
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { name: f.get("name"), command: f.get("command"), autostart: f.get("autostart") === "on" };
    const r = await post("v1/programs", body).catch((err) => ({ ok: false, status: 0, data: { error: err.message } }));
    if (!r.ok) { $("add-error").textContent = (r.data && r.data.error) || "error " + r.status; return; }
    outcome(true, "add " + body.name + ": ok");
    $("add-dialog").close();
    e.target.reset();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement.tagName !== "INPUT") { e.preventDefault(); $("search").focus(); }
  });
  setInterval(queueRender, 1000); // uptimes
  loadInfo();
  connect();
}

// For tests and benchmarks: the model's size and counters, and a way to feed
// events through the same path the stream uses.
window.corral = {
  stats, procs, log, apply: (events) => { for (const e of events) apply(e); },
  rendered: () => document.querySelectorAll("#rows .row:not([hidden])").length,
  flush: () => render(),
  counts: () => counts,
};

init();
