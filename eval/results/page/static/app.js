// VGMED leaderboard and sample viewer. Plain JavaScript, no build step, no network beyond this server.
"use strict";

const state = { runs: [], facets: {}, sort: { col: "accuracy", dir: -1 }, selectedRun: null };
const $ = (selector) => document.querySelector(selector);
const NUMERIC = new Set(["n", "accuracy", "delta_accuracy", "ar", "delta_ar", "kl", "js", "best_layer"]);

function fmt(value, digits = 3) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function signed(value) {
  if (value === null || value === undefined) return "–";
  return (value > 0 ? "+" : "") + Number(value).toFixed(3);
}

function shortName(path) {
  const parts = String(path).split("/").filter(Boolean);
  return parts.length > 2 && path.startsWith("/") ? parts[parts.length - 1] : String(path);
}

function option(select, value, label) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = label ?? value;
  select.appendChild(node);
}

function sliceOf(run, modality, questionType) {
  return run.breakdown.find((s) => s.modality === modality && s.question_type === questionType) || null;
}

// One displayed row per run row that has the filtered slice; deltas against the same run's baseline slice.
function tableRows() {
  const modality = $("#filter-modality").value;
  const questionType = $("#filter-question-type").value;
  const method = $("#filter-method").value;
  const protocol = $("#filter-protocol").value;
  const rows = [];
  for (const run of state.runs) {
    if (method !== "all" && run.method !== method) continue;
    if (protocol !== "all" && (run.protocol || "default") !== protocol) continue;
    const slice = sliceOf(run, modality, questionType);
    if (!slice) continue;
    let base = null;
    if (run.method !== "baseline") {
      const baseline = state.runs.find((r) => r.run_id === run.run_id && r.method === "baseline");
      base = baseline ? sliceOf(baseline, modality, questionType) : null;
    }
    const delta = (key) => (base && slice[key] !== null && base[key] !== null ? slice[key] - base[key] : null);
    rows.push({
      run, row_id: run.row_id, run_id: run.run_id, model: run.model, dataset: run.dataset, method: run.method,
      n: slice.n, accuracy: slice.accuracy, delta_accuracy: delta("accuracy"), ar: slice.ar, delta_ar: delta("ar"),
      kl: slice.kl, js: slice.js, best_layer: run.best_layer, date: run.date,
    });
  }
  const { col, dir } = state.sort;
  rows.sort((a, b) => {
    const x = a[col], y = b[col];
    if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1;  // empty cells last
    if (y === null || y === undefined) return -1;
    return (NUMERIC.has(col) ? x - y : String(x).localeCompare(String(y))) * dir;
  });
  return rows;
}

function cell(tr, col, text, value, className) {
  const td = document.createElement("td");
  td.dataset.col = col;
  if (value !== undefined) td.dataset.value = value === null ? "" : String(value);
  td.textContent = text;
  if (className) td.className = className;
  tr.appendChild(td);
  return td;
}

function renderTable() {
  const body = $("#leaderboard tbody");
  body.textContent = "";
  const rows = tableRows();
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.className = "run-row" + (row.run_id === state.selectedRun ? " selected" : "");
    tr.dataset.rowId = row.row_id;
    tr.dataset.runId = row.run_id;
    tr.dataset.method = row.method;
    const model = cell(tr, "model", shortName(row.model), row.model);
    model.title = `${row.model} @ ${row.run.model_revision || "?"} (${row.run.model_family})`;
    if (row.run.random_weights) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "random weights";
      model.appendChild(tag);
    }
    const dataset = cell(tr, "dataset", `${shortName(row.dataset)} · ${row.run.config}/${row.run.split}`, row.dataset);
    dataset.title = `${row.dataset} @ ${row.run.dataset_revision || "?"}`;
    const method = cell(tr, "method", row.method, row.method);
    if (row.run.method_params && row.run.method_params !== "{}") method.title = row.run.method_params;
    cell(tr, "n", String(row.n), row.n, "num");
    const accuracy = cell(tr, "accuracy", fmt(row.accuracy), row.accuracy, "num");
    const deltaAccuracy = cell(tr, "delta_accuracy", signed(row.delta_accuracy), row.delta_accuracy,
         "num " + (row.delta_accuracy > 0 ? "pos" : row.delta_accuracy < 0 ? "neg" : ""));
    const boot = `paired bootstrap over the ${row.run.n_compared} samples every method answered, ` +
      `${row.run.bootstrap_resamples} resamples, seed ${row.run.bootstrap_seed}`;
    if (row.run.accuracy_ci95) {  // runs with several methods (results format 3)
      accuracy.title = `all samples: 95% CI [${row.run.accuracy_ci95.join(", ")}] % (${boot})`;
    }
    if (row.run.difference_ci95) {
      deltaAccuracy.title = `all samples: ${signed(row.run.difference_vs_baseline)} points vs baseline, 95% CI ` +
        `[${row.run.difference_ci95.join(", ")}]; ${row.run.answers_changed} answers changed (${boot})`;
    }
    cell(tr, "ar", fmt(row.ar), row.ar, "num");
    cell(tr, "delta_ar", signed(row.delta_ar), row.delta_ar,
         "num " + (row.delta_ar > 0 ? "pos" : row.delta_ar < 0 ? "neg" : ""));
    cell(tr, "kl", fmt(row.kl), row.kl, "num");
    cell(tr, "js", fmt(row.js), row.js, "num");
    cell(tr, "best_layer", row.best_layer === null ? "–" : String(row.best_layer), row.best_layer, "num");
    const date = cell(tr, "date", String(row.date || "").slice(0, 10), row.date);
    date.title = `${row.run.command}\n${row.run.hardware} · vgmed-data ${row.run.toolkit_version}`;
    tr.addEventListener("click", () => selectRun(row.run_id));
    body.appendChild(tr);
  }
  $("#row-count").textContent = `${rows.length} row${rows.length === 1 ? "" : "s"}`;
  for (const th of document.querySelectorAll("#leaderboard th")) {
    th.setAttribute("aria-sort", th.dataset.col === state.sort.col
      ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
}

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

async function selectRun(runId) {
  state.selectedRun = runId;
  $("#viewer-run").value = runId;
  renderTable();
  const samples = await getJSON(`api/samples?run_id=${encodeURIComponent(runId)}`);
  const select = $("#viewer-sample");
  select.textContent = "";
  for (const s of samples) {
    const mark = s.baseline_correct === null ? "" : s.baseline_correct ? " ✓" : " ✗";
    option(select, s.id, `${s.index}. ${s.modality} · ${s.question_type} · ${s.id}${mark}`);
  }
  $("#viewer-empty").hidden = samples.length > 0;
  if (samples.length) await showSample(runId, samples[0].id);
  else $("#sample").hidden = true;
}

// Model answers are shown as-is but readable: tiny random models (and real ones, cut mid-character) emit bytes
// that are not valid UTF-8 (decoded as U+FFFD) and control characters; those are shown as escapes.
function readable(text) {
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/gu, (c) => c === "\ufffd" ? "\\ufffd"
    : "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0"));
}

function verdict(span, prediction, correct) {
  span.textContent = "";
  if (prediction === null || prediction === undefined) {
    span.textContent = "not run";
    return;
  }
  const text = document.createElement("q");
  text.textContent = readable(prediction);
  const mark = document.createElement("span");
  mark.className = correct ? "ok" : "bad";
  mark.textContent = correct ? " correct" : " wrong";
  span.append(text, mark);
}

async function showSample(runId, sampleId) {
  const query = `run_id=${encodeURIComponent(runId)}&id=${encodeURIComponent(sampleId)}`;
  const s = await getJSON(`api/sample?${query}`);
  $("#viewer-sample").value = sampleId;
  $("#sample").hidden = false;
  $("#sample").dataset.sampleId = sampleId;
  $("#question").textContent = s.question;
  $("#answer").textContent = s.answer + (s.options.length ? `  (options: ${s.options.join(" | ")})` : "");
  $("#sample-tags").textContent = `${s.modality} · ${s.question_type} · best layer ${s.best_layer ?? "–"}`;
  verdict($("#pred-baseline"), s.baseline_prediction, s.baseline_correct);
  verdict($("#pred-vgrefine"), s.vgrefine_prediction, s.vgrefine_correct);
  $("#img-baseline").src = `api/overlay.png?${query}&method=baseline`;
  $("#img-vgrefine").src = `api/overlay.png?${query}&method=vgrefine`;
  $("#blocked").textContent = s.blocked_tokens.length
    ? `${s.blocked_tokens.length} of ${s.grid[0] * s.grid[1]}: ${s.blocked_tokens.join(", ")}` : "none";
  const metrics = $("#sample-metrics tbody");
  metrics.textContent = "";
  const lines = [["Attention Ratio (best layer)", fmt(s.ar)], ["KL (best layer)", fmt(s.kl)],
                 ["JS (best layer)", fmt(s.js)],
                 ["AR per layer", (s.ar_per_layer || []).map((v) => fmt(v, 2)).join("  ")],
                 ["Token grid", `${s.grid[0]} × ${s.grid[1]}`], ["Status", s.status]];
  for (const [name, value] of lines) {
    const tr = document.createElement("tr");
    cell(tr, "name", name);
    cell(tr, "value", value);
    metrics.appendChild(tr);
  }
}

async function init() {
  const data = await getJSON("api/runs");
  state.runs = data.runs;
  state.facets = data.facets;
  $("#source").textContent = data.source;
  for (const m of data.facets.modality) option($("#filter-modality"), m);
  for (const q of data.facets.question_type) option($("#filter-question-type"), q);
  for (const m of data.facets.method) option($("#filter-method"), m);
  for (const p of data.facets.protocol) option($("#filter-protocol"), p);
  for (const id of ["#filter-modality", "#filter-question-type", "#filter-method", "#filter-protocol"]) {
    $(id).addEventListener("change", renderTable);
  }
  for (const th of document.querySelectorAll("#leaderboard th")) {
    th.addEventListener("click", () => {
      const col = th.dataset.col;
      state.sort = { col, dir: state.sort.col === col ? -state.sort.dir : (th.dataset.type === "num" ? -1 : 1) };
      renderTable();
    });
  }
  const seen = new Set();
  for (const run of state.runs) {
    if (seen.has(run.run_id)) continue;
    seen.add(run.run_id);
    option($("#viewer-run"), run.run_id, `${shortName(run.model)} · ${shortName(run.dataset)} · ${run.run_id.slice(0, 8)}`);
  }
  $("#viewer-run").addEventListener("change", (e) => selectRun(e.target.value));
  $("#viewer-sample").addEventListener("change", (e) => showSample($("#viewer-run").value, e.target.value));
  renderTable();
  document.body.dataset.ready = "true";
  if (data.has_samples && state.runs.length) await selectRun(state.runs[0].run_id);
  else $("#viewer-empty").hidden = false;
  document.body.dataset.viewerReady = "true";
}

init().catch((error) => {
  document.body.dataset.error = String(error);
  const p = document.createElement("p");
  p.className = "bad";
  p.textContent = `Could not load the results: ${error}`;
  document.body.prepend(p);
});
