// Ampere Stream live dashboard: initial state from /api/state, then server-sent events from /api/events.
"use strict";
const streams = new Map();   // stream_id -> {at, wins: Map("start-end" -> window), segs: Map(segment_id -> segment)}
const WINDOWS_SHOWN = 6, STREAMS_SHOWN = 24, SEGMENTS_SHOWN = 12;  // the server's bounds
const EPOCH_MS_FROM = 1e11;  // times from here on are epoch milliseconds (after 1973), below: the stream's own clock
const $ = (id) => document.getElementById(id);
const fmtS = (v) => (v === null || v === undefined ? "–" : v.toFixed(2) + "s");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const pad = (n) => String(n).padStart(2, "0");

function clockTime(ms) {
  // a stream's own clock: m:ss (h:mm:ss past an hour)
  const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
}

function wallTime(ms, withDate) {
  const d = new Date(ms);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `;
  return (withDate ? day : "") + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fmtSpan(start, end) {
  if (start < EPOCH_MS_FROM) return clockTime(start) + "–" + clockTime(end);
  const today = new Date().toDateString() === new Date(start).toDateString();
  return wallTime(start, !today) + "–" + wallTime(end, false);
}

function streamOf(sid) {
  const st = streams.get(sid) || {at: 0, wins: new Map(), segs: new Map()};
  streams.set(sid, st);
  return st;
}

function putSegment(g) {
  const st = streamOf(g.stream_id), old = st.segs.get(g.segment_id);
  if (old && old.revision >= g.revision) return;
  st.segs.set(g.segment_id, g);
  if (st.segs.size > SEGMENTS_SHOWN) {
    const oldest = [...st.segs.values()].sort((a, b) => a.start_ms - b.start_ms)[0];
    st.segs.delete(oldest.segment_id);
  }
}

function timeline(st) {
  // the stream's product segments, left to right, widths by duration; a product is named only when claimed
  const segs = [...st.segs.values()].sort((a, b) => a.start_ms - b.start_ms);
  if (!segs.length) return "";
  const from = segs[0].start_ms, span = Math.max(1, segs[segs.length - 1].end_ms - from);
  return `<div class="timeline">${segs.map((g) => {
    const width = Math.max(4, 100 * (g.end_ms - g.start_ms) / span);
    const label = g.claimed ? esc(g.title || g.product_id) : "not identified";
    const why = g.claimed ? `${g.windows} windows` : esc(g.reason || "");
    return `<div class="segment ${g.claimed ? "claimed" : "unclaimed"}" data-segment="${esc(g.segment_id)}" style="flex-grow:${width.toFixed(1)}"
      title="${fmtSpan(g.start_ms, g.end_ms)} · ${why}">${g.thumb ? img(g.thumb, "pic") : ""}<span>${label}</span></div>`;
  }).join("")}</div>`;
}

function putWindow(w) {
  const st = streamOf(w.stream_id);
  if (streams.size > STREAMS_SHOWN) streams.delete([...streams.keys()].sort((a, b) => streams.get(a).at - streams.get(b).at)[0]);
  st.at = Math.max(st.at, w.stream_at || 0);
  const key = w.start_ms + "-" + w.end_ms;
  const old = st.wins.get(key) || {};
  st.wins.set(key, Object.assign(old, w, {thumb: w.thumb || old.thumb}));
  if (st.wins.size > WINDOWS_SHOWN) {
    const oldest = [...st.wins.entries()].sort((a, b) => a[1].start_ms - b[1].start_ms)[0][0];
    st.wins.delete(oldest);
  }
}

function img(src, cls) {
  return src ? `<img class="${cls}" src="${esc(src)}" loading="lazy" alt="">` : `<span class="${cls} none"></span>`;
}

function productRow(p, i, claimed) {
  return `<div class="tag-product ${i === 0 ? "top" : ""} ${claimed ? "claimed" : ""}" data-product-id="${esc(p.product_id)}">
    ${img(p.thumb, "pic")}<span class="title">${esc(p.title)}</span>
    <span class="score">${Number(p.score).toFixed(2)}</span></div>`;
}

function said(w) {
  // the summary sentence; a window whose summary found no product shows what was said
  if (w.sentence) return `<div class="sentence">${esc(w.sentence)}</div>`;
  if (w.text) return `<div class="sentence said" title="transcript">“${esc(w.text)}”</div>`;
  return `<div class="sentence said">${w.revision ? "no speech" : "…"}</div>`;
}

function windowCard(w) {
  const prods = (w.products || []).map((p, i) => productRow(p, i, w.claimed)).join("");
  const claim = w.claimed === false ? `<div class="unclaimed">no product above the threshold</div>` : "";
  const badge = w.summary_source ? `<span class="badge">${esc(w.summary_source)}${w.revision > 1 ? " ↻" : ""}</span>` : "";
  const video = w.domain === "video" ? `<span class="badge video">video</span>` : "";
  const fresh = w.queryable_s !== null && w.queryable_s !== undefined ? "queryable in " + fmtS(w.queryable_s) : "";
  return `<div class="window-card" data-stream="${esc(w.stream_id)}" data-window="${w.start_ms}-${w.end_ms}">
    ${w.thumb ? `<img class="kf" src="${esc(w.thumb)}" loading="lazy" alt="keyframe">` : `<div class="kf"></div>`}
    <div class="when"><span class="time">${fmtSpan(w.start_ms, w.end_ms)}</span></div>
    <div class="meta">${video}${badge}<span>${fresh}</span></div>
    ${said(w)}${claim}<div class="tags">${prods}</div></div>`;
}

function render() {
  const ids = [...streams.keys()].sort((a, b) => streams.get(b).at - streams.get(a).at);
  $("st-streams").textContent = ids.length;
  if (!ids.length) return;
  $("streams").innerHTML = ids.map((sid) => {
    const wins = [...streams.get(sid).wins.values()].sort((a, b) => b.start_ms - a.start_ms);
    return `<section class="stream" data-stream="${esc(sid)}"><h2>${esc(sid)}</h2>${timeline(streams.get(sid))}
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
  if (!d || !d.input) return;
  const last = (x) => x.last.length ? x.last[0].topic + ": " + x.last[0].reason : "";
  $("st-dlq").textContent = `${d.input.total} (${d.input.per_min.toFixed(1)})`;
  $("st-dlq-int").textContent = d.internal.total;
  $("dlq-last").textContent = d.input.last.length ? "last bad input: " + last(d.input) : "";
  $("dlq-internal").textContent = d.internal.last.length ? "last internal dead letter: " + last(d.internal) : "";
}

let pending = false;
function schedule() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); }); } }

async function load() {
  const s = await (await fetch("/api/state")).json();
  for (const st of s.streams) {
    for (const w of st.windows) putWindow(w);
    for (const g of st.segments || []) putSegment(g);
  }
  setFreshness(s.freshness); setDlq(s.dlq); render();
  const es = new EventSource("/api/events");
  es.onopen = () => { $("conn").className = "conn on"; };
  es.onerror = () => { $("conn").className = "conn off"; };
  es.onmessage = (ev) => {
    const u = JSON.parse(ev.data);
    if (u.type === "window") { putWindow(u.window); schedule(); }
    if (u.type === "segment") { putSegment(u.segment); schedule(); }
    if (u.freshness) setFreshness(u.freshness);
    if (u.type === "dlq") setDlq(u.dlq);
  };
}

function fileB64(file) {
  return new Promise((ok, bad) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = bad; r.readAsDataURL(file); });
}

function hit(src, label, score) {
  return `<div class="hit">${img(src, "pic")}<span class="label">${label}</span><span class="score">${Number(score).toFixed(2)}</span></div>`;
}

function showResults(res) {
  const moment = (m) => `<b>${esc(m.stream_id)}</b> ${fmtSpan(m.start_ms, m.end_ms)}: ` +
    (m.sentence ? esc(m.sentence) : m.text ? `<i>“${esc(m.text)}”</i>` : "");
  $("search-results").innerHTML = `<div class="col" id="res-products"><b>products</b>${res.products.map((p) => hit(p.thumb, esc(p.title), p.score)).join("")}</div>
    <div class="col" id="res-moments"><b>live moments</b>${res.moments.map((m) => hit(m.thumb, moment(m), m.score)).join("")}</div>`;
}

async function search(body) {
  // {error} when the server is gone or refused the query, else the results
  let r;
  try {
    r = await fetch("/api/search", { method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body) });
  } catch (e) {
    return {error: `search failed: the dashboard server is not reachable (${e.message})`};
  }
  const res = await r.json().catch(() => ({error: `search failed: HTTP ${r.status}`}));
  return r.ok || res.error ? res : {error: `search failed: HTTP ${r.status}`};
}

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("search-results"), button = ev.target.querySelector("button");
  const body = { text: $("q-text").value };
  const f = $("q-image").files[0];
  button.disabled = true;
  out.textContent = "searching …";
  try {
    if (f) body.image_b64 = await fileB64(f);
    const res = await search(body);
    if (res.error) out.innerHTML = `<p class="error">${esc(res.error)}</p>`; else showResults(res);
  } catch (e) {
    out.innerHTML = `<p class="error">search failed: ${esc(e.message)}</p>`;
  } finally {
    button.disabled = false;
  }
});

load();
