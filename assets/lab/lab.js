// nnopt lab's page: it computes nothing. Each control becomes the flags of an `nnopt` command;
// the server runs that command's code and sends back its numbers, its sentences and its
// picture (SVG drawn by the same figure code as `--plot`), which this page puts on screen.
"use strict";
const $ = (id) => document.getElementById(id);

// The token: after the `#` of the address `nnopt lab` printed (never sent anywhere by the
// browser), kept in this tab's session storage for reloads, and taken out of the address bar.
const TOKEN = (() => {
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (given) {
    sessionStorage.setItem("nnopt-lab-token", given);
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("nnopt-lab-token") || "";
})();

// Input-to-picture times of the descent view, in ms (read by the browser test, which reports them).
window.labLatencies = [];

async function call(method, path, body) {
  const init = { method, headers: { "X-Nnopt-Token": TOKEN } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function text(id, value) { $(id).textContent = value === undefined || value === null ? "" : value; }
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
  return tr;
}
function fmt(v) { return v === null || v === undefined ? "" : Array.isArray(v) ? "(" + v.map(fmt).join(", ") + ")" : Number(v).toPrecision(5).replace(/\.?0+$/, ""); }
// A value typed in a field, as a flag and its value; nothing where it is empty.
function flag(name, id) { const v = $(id).value.trim(); return v === "" ? [] : [name, v]; }

// ---- the four views ----
document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
function show(view) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("on", b.dataset.view === view));
  document.querySelectorAll("section.view").forEach((s) => { s.hidden = s.id !== view; });
}

// ---- descent ----
const OPTIMIZERS = ["gd", "momentum", "nesterov", "adam", "rmsprop"];
let descentFrames = null, descentSurface = null, pending = null, inFlight = false;

// A learning-rate slider is log-scaled: its value v means lr = 10^v, shown to 3 figures.
function lrOf(slider) { return Number(Math.pow(10, Number(slider.value)).toPrecision(3)); }

function addRow(name, lr, mu) {
  const tr = document.createElement("tr");
  tr.className = "opt";
  const select = document.createElement("select");
  select.className = "opt-name";
  for (const o of OPTIMIZERS) { const op = document.createElement("option"); op.textContent = o; select.appendChild(op); }
  select.value = name;
  const lrSlider = Object.assign(document.createElement("input"), { type: "range", min: -4, max: 1, step: 0.01, className: "opt-lr" });
  lrSlider.value = Math.log10(lr);
  const lrShown = Object.assign(document.createElement("span"), { className: "opt-lr-value" });
  const muSlider = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 0.99, step: 0.01, className: "opt-mu" });
  muSlider.value = mu;
  const muShown = Object.assign(document.createElement("span"), { className: "opt-mu-value" });
  const remove = Object.assign(document.createElement("button"), { textContent: "remove" });
  const refresh = () => {
    lrShown.textContent = " " + lrOf(lrSlider);
    muShown.textContent = " " + Number(muSlider.value).toFixed(2);
    muSlider.disabled = !["momentum", "nesterov"].includes(select.value);
  };
  for (const [control, event] of [[select, "change"], [lrSlider, "input"], [muSlider, "input"]]) {
    control.addEventListener(event, () => { refresh(); descend(performance.now()); });
  }
  remove.addEventListener("click", () => { tr.remove(); descend(performance.now()); });
  const cells = [[select], [lrSlider, lrShown], [muSlider, muShown], [remove]];
  for (const parts of cells) { const td = document.createElement("td"); parts.forEach((p) => td.appendChild(p)); tr.appendChild(td); }
  $("d-rows").appendChild(tr);
  refresh();
}

function descentArgs() {
  const args = ["--surface", $("d-surface").value, ...flag("--start", "d-start"), ...flag("--steps", "d-steps")];
  const rows = [...document.querySelectorAll("#d-rows tr.opt")];
  if (rows.length) {
    args.push("--optimizers", rows.map((r) => r.querySelector(".opt-name").value).join(","));
    args.push("--lr", rows.map((r) => lrOf(r.querySelector(".opt-lr"))).join(","));
    args.push("--momentum", rows.map((r) => Number(r.querySelector(".opt-mu").value)).join(","));
  }
  return args;
}

// One request at a time: while one is out, only the latest input waits (a slider dragged fast
// sends what it ends on, not every value it passed).
async function descend(startedAt, args) {
  pending = { startedAt, args: args || descentArgs() };
  if (inFlight) return;
  inFlight = true;
  document.body.dataset.descent = "busy";
  while (pending) {
    const job = pending;
    pending = null;
    try {
      const r = await call("POST", "/api/descent", { args: job.args });
      text("d-error", "");
      drawDescent(r);
      await new Promise((done) => requestAnimationFrame(() => done()));
      if (job.startedAt !== null) window.labLatencies.push(performance.now() - job.startedAt);
    } catch (e) {
      text("d-error", e.message);
    }
  }
  inFlight = false;
  document.body.dataset.descent = "drawn";
}

function drawDescent(r) {
  text("d-command", r.command);
  $("d-figure").innerHTML = r.svg;
  descentFrames = r.frames;
  descentSurface = r.surface;
  const body = $("d-runs");
  body.replaceChildren(...r.runs.map((run) => {
    const tr = row([run.label, run.rule, fmt(run.end), fmt(run.loss), run.steps, run.outcome]);
    tr.children[2].className = "end";
    tr.children[5].className = "outcome";
    return tr;
  }));
  text("d-summary", r.summary);
  if (!document.querySelector("#d-rows tr.opt")) {
    // The command's own choice with no flags, as rows to change.
    for (const run of r.runs) if (OPTIMIZERS.includes(run.optimizer)) addRow(run.optimizer, run.lr, run.momentum ?? 0.9);
  }
}

// A click on the surface's panel sets the start there.
$("d-figure").addEventListener("click", (event) => {
  const svg = $("d-figure").querySelector("svg");
  const frame = descentFrames && descentFrames[0];
  if (!svg || !frame) return;
  const box = svg.getBoundingClientRect();
  const scale = Number(svg.getAttribute("width")) / box.width;
  const px = (event.clientX - box.left) * scale, py = (event.clientY - box.top) * scale;
  const [x0, x1] = frame.pixels_x, [y0, y1] = frame.pixels_y;
  if (px < x0 || px > x1 || py < y0 || py > y1) return;
  const along = (t, [lo, hi], log) => log ? Math.pow(10, Math.log10(lo) + t * (Math.log10(hi) - Math.log10(lo))) : lo + t * (hi - lo);
  const x = along((px - x0) / (x1 - x0), frame.x, frame.log_x);
  const y = along((y1 - py) / (y1 - y0), frame.y, frame.log_y);
  const start = descentSurface.dimensions === 1 ? [x] : [x, y];
  $("d-start").value = start.map((v) => Number(v.toPrecision(4))).join(",");
  descend(performance.now());
});

for (const id of ["d-start", "d-steps"]) $(id).addEventListener("change", () => descend(performance.now()));
$("d-surface").addEventListener("change", () => {
  // A new surface starts from its own defaults: its start, its lr, the command's optimizers.
  $("d-rows").replaceChildren();
  $("d-start").value = "";
  descend(performance.now(), ["--surface", $("d-surface").value, ...flag("--steps", "d-steps")]);
});
$("d-add").addEventListener("click", () => { addRow("gd", 0.1, 0.9); descend(performance.now()); });
$("d-distill").addEventListener("click", () => {
  // Distill's demonstration: on an ill-conditioned quadratic, plain gd at a step size that
  // suits the steep direction crawls along the shallow one; momentum with the same step
  // gets there. Drag either slider to see the trade-off.
  $("d-surface").value = "ill-conditioned";
  $("d-start").value = "";
  $("d-rows").replaceChildren();
  addRow("gd", 0.45, 0.9);
  addRow("momentum", 0.45, 0.9);
  descend(performance.now());
});

// ---- perceptron ----
let perceptronTimer = null, perceptronRunId = null, perceptronAsked = 0;
async function perceptronRun() {
  const args = [...flag("--seed", "p-seed"), ...flag("--lr", "p-lr"), ...flag("--epochs", "p-epochs")];
  try {
    const r = await call("POST", "/api/perceptron", { args });
    perceptronRunId = r.run;
    text("p-error", "");
    text("p-command", r.command);
    text("p-text", r.text);
    const slider = $("p-epoch");
    slider.max = r.epochs;
    slider.disabled = false;
    $("p-play").disabled = false;
    slider.value = r.epochs;
    await perceptronEpoch();
  } catch (e) { text("p-error", e.message); }
}
// Epochs asked for in quick succession may come back out of order: only the latest is shown.
async function perceptronEpoch() {
  const k = $("p-epoch").value;
  const asked = ++perceptronAsked;
  try {
    const r = await call("GET", `/api/perceptron/epoch?run=${perceptronRunId}&k=${k}`);
    if (asked !== perceptronAsked) return;
    const v = r.view;
    text("p-epoch-value", `${v.epoch} of ${v.epochs}`);
    text("p-state", `after epoch ${v.epoch}: w = ${fmt(v.w)}, b = ${fmt(v.b)}, training loss ${fmt(v.loss)}`);
    $("p-figure").innerHTML = r.svg;
  } catch (e) { text("p-error", e.message); }
}
$("p-run").addEventListener("click", perceptronRun);
$("p-epoch").addEventListener("input", perceptronEpoch);
$("p-play").addEventListener("click", () => {
  if (perceptronTimer) { clearInterval(perceptronTimer); perceptronTimer = null; $("p-play").textContent = "play"; return; }
  const slider = $("p-epoch");
  if (Number(slider.value) >= Number(slider.max)) slider.value = 0;
  $("p-play").textContent = "pause";
  perceptronTimer = setInterval(() => {
    if (Number(slider.value) >= Number(slider.max)) { $("p-play").click(); return; }
    slider.value = Number(slider.value) + 1;
    perceptronEpoch();
  }, 300);
});

// ---- training and sweeps: one job at a time, run by the server ----
const over = (job) => !["running", "stopping"].includes(job.state);
// The job's server-sent events, read through fetch (an EventSource cannot send the token).
let events = null;
async function follow() {
  if (events) events.abort();
  const mine = new AbortController();
  events = mine;
  try {
    const response = await fetch("/api/job/events", { headers: { "X-Nnopt-Token": TOKEN }, signal: mine.signal });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = message.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (!data) continue;
        const job = JSON.parse(data);
        showJob(job);
        if (!job || over(job)) { mine.abort(); return; }
      }
    }
  } catch (e) {
    if (mine.signal.aborted) return;
  }
  if (events === mine) { events = null; setTimeout(reattach, 1000); }
}
async function reattach() {
  try {
    const job = await call("GET", "/api/job");
    showJob(job);
    if (job && !over(job)) {
      // A page opened while a run goes on shows that run.
      show(job.kind === "train" ? "training" : "sweep");
      follow();
    }
  } catch (e) { /* the lab stopped: nothing to follow */ }
}

function showJob(job) {
  if (!job) return;
  const p = job.kind === "train" ? "t" : "s";
  const said = (job.stderr || "").trim().split("\n").pop();
  const state = over(job) ? job.ended
    : (job.state === "stopping" ? "stopping: finishing its batch, keeping what was done" : "running") + (said ? ` (${said})` : "");
  text(`${p}-status`, `${job.command} — ${state}`);
  document.body.dataset.job = job.state;
  if (job.kind === "train") {
    $("t-epochs-table").replaceChildren(...job.epochs.map((e) =>
      row([e.epoch + (e.complete ? "" : " (cut short)"), fmt(e.lr), fmt(e.train_loss), fmt(e.test_loss), (100 * e.test_accuracy).toFixed(2) + " %", e.batches])));
    $("t-live").innerHTML = job.plot_svg || job.live_svg || "";
    $("t-confusion").innerHTML = job.confusion_svg || "";
    text("t-output", [job.stdout, over(job) && job.exit_code !== 0 ? job.stderr : ""].join("\n").trim());
  } else {
    if (job.table) showTable(job.table);
    $("s-figure").innerHTML = job.plot_svg || job.live_svg || "";
    text("s-output", [job.stdout, over(job) && job.exit_code !== 0 ? job.stderr : ""].join("\n").trim());
  }
}

function showTable(table) {
  const head = document.createElement("tr");
  for (const c of table.columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
  $("s-head").replaceChildren(head);
  $("s-table").replaceChildren(...table.rows.map(row));
}

async function startJob(kind, args, prefix) {
  try {
    text(`${prefix}-error`, "");
    const job = await call("POST", `/api/${kind}`, { args });
    showJob(job);
    follow();
  } catch (e) { text(`${prefix}-error`, e.message); }
}
async function stopJob(prefix) {
  try { showJob(await call("POST", "/api/job/stop")); } catch (e) { text(`${prefix}-error`, e.message); }
}

$("t-start").addEventListener("click", () => startJob("train", [
  ...flag("--data", "t-data"), ...flag("--hidden", "t-hidden"), ...flag("--optimizer", "t-optimizer"),
  ...flag("--lr", "t-lr"), ...flag("--schedule", "t-schedule"), ...flag("--epochs", "t-epochs"), ...flag("--save", "t-save"),
  ...(window.labExtra || []),
], "t"));
$("t-stop").addEventListener("click", () => stopJob("t"));
$("s-start").addEventListener("click", () => startJob("sweep", [
  ...flag("--strategy", "s-strategy"), ...flag("--trials", "s-trials"), ...flag("--epochs", "s-epochs"),
  ...flag("--lr", "s-lr"), ...flag("--hidden", "s-hidden"), ...flag("--data", "s-data"), ...flag("--csv", "s-csv"),
], "s"));
$("s-stop").addEventListener("click", () => stopJob("s"));
$("s-open").addEventListener("click", async () => {
  try {
    const path = $("s-open-path").value.trim();
    const r = await call("GET", `/api/journal?path=${encodeURIComponent(path)}`);
    text("s-error", "");
    text("s-status", `${r.path}: ${r.table.rows.length} trial(s) — ${r.table.identity}`);
    showTable(r.table);
    $("s-figure").innerHTML = r.svg || "";
    text("s-output", "");
    document.body.dataset.journal = "open";
  } catch (e) { text("s-error", e.message); }
});

// First picture (not an input: its time is not counted): the command with no flags (the
// notebook's cosine surface), and any run the server is already running, followed again.
descend(null, []);
reattach();
