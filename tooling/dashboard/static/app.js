// Ampere Stream live dashboard: initial state from /api/state, then server-sent events from /api/events.
"use strict";
const streams = new Map();   // stream_id -> Map("start-end" -> window)
let catalog = {};
const $ = (id) => document.getElementById(id);
const fmtS = (v) => (v === null || v === undefined ? "–" : v.toFixed(2) + "s");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

function putWindow(w) {
  if (!streams.has(w.stream_id)) streams.set(w.stream_id, new Map());
  const wins = streams.get(w.stream_id);
  const key = w.start_ms + "-" + w.end_ms;
  wins.set(key, Object.assign(wins.get(key) || {}, w));
  streams.delete(w.stream_id); streams.set(w.stream_id, wins);  // most recent stream last
}

function productRow(p, i, claimed) {
  const thumb = p.thumb || (catalog[p.product_id] || {}).thumb;
  return `<div class="tag-product ${i === 0 ? "top" : ""} ${claimed ? "claimed" : ""}" data-product-id="${esc(p.product_id)}">
    ${thumb ? `<img src="${thumb}" alt="">` : `<img alt="">`}<span class="title">${esc(p.title)}</span>
    <span class="score">${Number(p.score).toFixed(2)}</span></div>`;
}

function windowCard(w) {
  const prods = (w.products || []).map((p, i) => productRow(p, i, w.claimed)).join("");
  const claim = w.claimed === false ? `<div class="unclaimed">no product above the threshold</div>` : "";
  return `<div class="window-card" data-stream="${esc(w.stream_id)}" data-window="${w.start_ms}-${w.end_ms}">
    ${w.thumb ? `<img class="kf" src="${w.thumb}" alt="keyframe">` : `<div class="kf"></div>`}
    <div class="when"><span>${(w.start_ms / 1000).toFixed(0)}–${(w.end_ms / 1000).toFixed(0)}s</span>
      <span>${w.summary_source ? `<span class="badge">${esc(w.summary_source)}${w.revision > 1 ? " ↻" : ""}</span>` : ""}
      ${w.queryable_s !== null && w.queryable_s !== undefined ? "queryable in " + fmtS(w.queryable_s) : ""}</span></div>
    <div class="sentence">${esc(w.sentence || "…")}</div>${claim}<div class="tags">${prods}</div></div>`;
}

function render() {
  const ids = [...streams.keys()].reverse();
  $("st-streams").textContent = ids.length;
  if (!ids.length) return;
  $("streams").innerHTML = ids.map((sid) => {
    const wins = [...streams.get(sid).values()].sort((a, b) => b.start_ms - a.start_ms).slice(0, 6);
    return `<section class="stream" data-stream="${esc(sid)}"><h2>${esc(sid)}</h2>
      <div class="windows">${wins.map(windowCard).join("")}</div></section>`;
  }).join("");
}

function setFreshness(f) {
  if (!f) return;
  $("st-windows").textContent = f.windows; $("st-tags").textContent = f.tags;
  $("st-q").textContent = fmtS(f.queryable_p50_s) + " / " + fmtS(f.queryable_p95_s);
  $("st-t").textContent = fmtS(f.tagged_p50_s) + " / " + fmtS(f.tagged_p95_s);
  $("st-r").textContent = fmtS(f.refined_p50_s) + " / " + fmtS(f.refined_p95_s);
}

function setDlq(d) {
  if (!d) return;
  $("st-dlq").textContent = `${d.total} (${d.per_min.toFixed(1)})`;
  $("dlq-last").textContent = d.last.length ? "last dead letter: " + d.last[0].topic + ": " + d.last[0].reason : "";
}

let pending = false;
function schedule() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); }); } }

async function load() {
  const s = await (await fetch("/api/state")).json();
  catalog = s.catalog || {};
  for (const st of s.streams.slice().reverse()) for (const w of st.windows.slice().reverse()) putWindow(w);
  setFreshness(s.freshness); setDlq(s.dlq); render();
  const es = new EventSource("/api/events");
  es.onopen = () => { $("conn").className = "conn on"; };
  es.onerror = () => { $("conn").className = "conn off"; };
  es.onmessage = (ev) => {
    const u = JSON.parse(ev.data);
    if (u.type === "window") { putWindow(u.window); setFreshness(u.freshness); schedule(); }
    else if (u.type === "dlq") setDlq(u.dlq);
  };
}

function fileB64(file) {
  return new Promise((ok, bad) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = bad; r.readAsDataURL(file); });
}

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("search-results");
  const body = { text: $("q-text").value };
  const f = $("q-image").files[0];
  if (f) body.image_b64 = await fileB64(f);
  out.textContent = "searching …";
  const r = await fetch("/api/search", { method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body) });
  const res = await r.json();
  if (!r.ok) { out.textContent = res.error; return; }
  const hit = (img, label, score) => `<div class="hit">${img ? `<img src="${img}" alt="">` : `<img alt="">`}<span>${label}</span><span class="score">${Number(score).toFixed(2)}</span></div>`;
  out.innerHTML = `<div class="col" id="res-products"><b>products</b>${res.products.map((p) => hit(p.thumb, esc(p.title), p.score)).join("")}</div>
    <div class="col" id="res-moments"><b>live moments</b>${res.moments.map((m) => hit(m.thumb, esc(m.stream_id) + " " + (m.start_ms / 1000).toFixed(0) + "s: " + esc(m.sentence), m.score)).join("")}</div>`;
});

load();
