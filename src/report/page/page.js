"use strict";
// The report page: what broke first, then the timeline and the log, all drawn from the JSON in
// #data (see data.rs for its columns). Only what is visible is drawn, so a run of 10,000 tasks
// stays responsive. `serve`'s page has no data in it: it fetches page.json with the admin token.
(() => {
  const $ = (id) => document.getElementById(id);
  const LANE_H = 16, LABEL_W = 210, AXIS_H = 26;
  // Columns of the rows in the data.
  const L = { seq: 0, lane: 1, runner: 2, from: 3, to: 4, end: 5, label: 6, again: 7 };
  const W = { seq: 0, runner: 1, from: 2, to: 3, zombie: 4 };
  const C = { at: 0, runner: 1, op: 2, lease: 3, answer: 4, answered: 5 };
  const G = { at: 0, object: 1, what: 2, runner: 3, lease: 4, detail: 5, anomaly: 6 };

  let D = null;
  const S = { from: 0, to: 1, lanes: "task", lease: null, violation: null, filter: "", whole: true };
  const I = {};

  const stamp = (ms) => {
    const p = (n, w) => String(Math.floor(n)).padStart(w, "0");
    return `+${p(ms / 3600000, 2)}:${p((ms / 60000) % 60, 2)}:${p((ms / 1000) % 60, 2)}.${p(ms % 1000, 3)}`;
  };
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k);
    return e;
  };
  const colour = (i, n) => `hsl(${(Math.floor((i * 360) / Math.max(n, 1)) + (i % 2) * 17) % 360},62%,48%)`;
  const logText = (r) => `${stamp(r[G.at])}  ${r[G.object]}  ${r[G.what]}  ${r[G.runner]}  ${r[G.lease]}  ${r[G.detail]}`;

  function index() {
    I.lease = new Map(D.leases.map((l) => [l[L.seq], l]));
    I.work = new Map();
    for (const w of D.work) (I.work.get(w[W.seq]) || I.work.set(w[W.seq], []).get(w[W.seq])).push(w);
    I.deadlines = new Map();
    for (const d of D.deadlines) (I.deadlines.get(d[0]) || I.deadlines.set(d[0], []).get(d[0])).push(d);
    I.logAt = new Map();
    D.log.forEach((r, i) => {
      const key = r.slice(0, 6).join("\u0001");
      if (!I.logAt.has(key)) I.logAt.set(key, i);
    });
    I.colours = D.runners.map((_, i) => colour(i, D.runners.length));
    layout();
  }

  // Lanes for the current mode: each with its label, leases, calls and violation markers.
  function layout() {
    const byTask = S.lanes === "task";
    const labels = byTask ? D.lanes : D.runners;
    const lanes = labels.map((label) => ({ label, leases: [], calls: [], marks: [] }));
    const laneOfLease = (l) => (byTask ? l[L.lane] : l[L.runner]);
    for (const l of D.leases) lanes[laneOfLease(l)].leases.push(l);
    for (const c of D.calls) {
      const l = c[C.lease] != null ? I.lease.get(c[C.lease]) : null;
      const lane = byTask ? (l ? l[L.lane] : null) : c[C.runner];
      if (lane != null && lanes[lane]) lanes[lane].calls.push(c);
    }
    D.violations.forEach((v, i) => {
      const l = v.lease != null ? I.lease.get(v.lease) : null;
      if (l) lanes[laneOfLease(l)].marks.push(i);
    });
    I.lanes = lanes;
    $("lanes-spacer").style.height = `${lanes.length * LANE_H}px`;
  }

  function renderHeader() {
    document.title = D.title;
    $("title").textContent = D.title;
    const v = $("verdict");
    v.replaceChildren(
      el("span", { class: `badge ${D.passed ? "pass" : "fail"}`, text: D.passed ? "passed" : "failed" }),
      ` seed ${D.seed} \u00b7 ${D.served ? "served for" : "ran"} ${stamp(D.end)}`
    );
    $("summary").textContent = D.summary;
  }

  function renderGroups() {
    const box = $("groups");
    box.replaceChildren();
    if (D.groups.length === 0) {
      box.append(el("p", { class: "ok", text: "Nothing broke: every invariant held." }));
      return;
    }
    D.groups.forEach((g, n) => {
      const v = D.violations[g.first];
      const lease = v.lease != null ? I.lease.get(v.lease) : null;
      const card = el("div", { class: `group${v.expected ? " expected" : ""}`, id: `group-${n}`, "data-violation": g.first });
      const what = v.expected ? "expected" : "VIOLATED";
      card.append(el("h3", { text: `${what} ${g.invariant} \u00d7${g.count} on ${g.concerns} task(s) or runner(s), first at ${stamp(g.first_at)}` }));
      card.append(el("div", { class: "rule", text: g.rule }));
      const about = [v.task, v.runner, lease ? `lease t${lease[L.seq]}` : null].filter(Boolean).join(" \u00b7 ");
      card.append(el("p", { class: "mono", text: `${stamp(v.at)} ${about}: ${v.message}` }));
      const links = el("div", { class: "links" });
      const show = el("a", { href: `#v=${g.first}`, text: "show it on the timeline and in the log" });
      show.onclick = (e) => { e.preventDefault(); selectViolation(g.first, true); };
      links.append(show);
      if (lease) {
        const a = el("a", { href: `#lease=${lease[L.seq]}`, text: `lease t${lease[L.seq]} (${lease[L.label]})` });
        a.onclick = (e) => { e.preventDefault(); selectLease(lease[L.seq], true); };
        links.append(a);
      }
      card.append(links);
      if (v.trail.length) {
        const d = el("details", { open: "" }, el("summary", { text: "transitions that led to it" }));
        d.append(el("pre", { class: "trail", text: v.trail.map(logText).join("\n") }));
        card.append(d);
      }
      const before = lease ? D.marks.filter((m) => m[0] >= lease[L.from] && m[0] <= v.at) : [];
      if (before.length) {
        const d = el("details", { open: "" }, el("summary", { text: `faults and control events during the lease, before it (${before.length})` }));
        d.append(el("pre", { text: before.map((m) => `${stamp(m[0])}  ${m[1]}  ${m[2]}${m[3] ? `  (${m[3]})` : ""}`).join("\n") }));
        card.append(d);
      }
      box.append(card);
    });
  }

  function renderExpectations() {
    const box = $("expectations");
    box.replaceChildren();
    if (!D.expectations.length) {
      box.append(el("p", { text: "The scenario states none." }));
      return;
    }
    const sorted = [...D.expectations].sort((a, b) => Number(a.ok) - Number(b.ok));
    for (const x of sorted) {
      box.append(el("div", { class: x.ok ? "ok" : "bad", text: `${x.ok ? "ok" : "FAILED"}: ${x.expectation} (found: ${x.found})` }));
    }
  }

  function renderLegend() {
    const box = $("legend");
    box.replaceChildren();
    D.runners.slice(0, 40).forEach((r, i) => {
      const s = el("span", { text: r });
      s.style.setProperty("--c", I.colours[i]);
      box.append(s);
    });
    const extra = [["zombie work (hatched)", "#333"], ["fault", "#e67e22"], ["control event", "#2962ff"], ["message fault", "#8e44ad"], ["violation", "#d50000"]];
    for (const [t, c] of extra) {
      const s = el("span", { text: t });
      s.style.setProperty("--c", c);
      box.append(s);
    }
  }

  // ---- the timeline ----
  const scroll = () => $("lanes-scroll");
  function width() { return scroll().clientWidth; }
  function x(t) { return LABEL_W + ((t - S.from) / (S.to - S.from)) * (width() - LABEL_W - 8); }
  function tAt(px) { return S.from + ((px - LABEL_W) / (width() - LABEL_W - 8)) * (S.to - S.from); }
  function setView(from, to, fromUser) {
    const end = Math.max(D.end, 1);
    let span = Math.max(to - from, 50);
    if (span > end) span = end;
    from = Math.min(Math.max(from, 0), end - span);
    S.from = from;
    S.to = from + span;
    if (fromUser) S.whole = S.from === 0 && S.to === end;
    $("range").textContent = `${stamp(Math.round(S.from))} \u2013 ${stamp(Math.round(S.to))}`;
    draw();
  }
  function sized(canvas, w, h) {
    const r = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * r) || canvas.height !== Math.round(h * r)) {
      canvas.width = Math.round(w * r);
      canvas.height = Math.round(h * r);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return ctx;
  }
  function clipText(ctx, text, max) {
    if (ctx.measureText(text).width <= max) return text;
    let lo = 0, hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(`${text.slice(0, mid)}\u2026`).width <= max) lo = mid; else hi = mid - 1;
    }
    return `${text.slice(0, lo)}\u2026`;
  }
  function tickStep(span) {
    const steps = [1, 5, 10, 50, 100, 500, 1e3, 5e3, 1e4, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5, 432e5, 864e5];
    return steps.find((s) => span / s <= 10) || 1728e5;
  }
  function drawAxis() {
    const w = width();
    const ctx = sized($("axis"), w, AXIS_H);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#555";
    ctx.strokeStyle = "#bbb";
    const step = tickStep(S.to - S.from);
    for (let t = Math.ceil(S.from / step) * step; t <= S.to; t += step) {
      const px = x(t);
      ctx.beginPath(); ctx.moveTo(px, 16); ctx.lineTo(px, AXIS_H); ctx.stroke();
      const label = stamp(t);
      const lw = ctx.measureText(label).width;
      ctx.fillText(label, Math.min(Math.max(px - lw / 2, LABEL_W), w - lw - 2), 12);
    }
    for (const m of D.marks) {
      if (m[0] < S.from || m[0] > S.to) continue;
      ctx.fillStyle = m[1] === "control" ? "#2962ff" : m[1] === "message" ? "#8e44ad" : "#e67e22";
      const px = x(m[0]);
      ctx.beginPath(); ctx.moveTo(px - 4, 16); ctx.lineTo(px + 4, 16); ctx.lineTo(px, 24); ctx.fill();
    }
    if (I.brush) {
      ctx.fillStyle = "rgba(41,98,255,0.2)";
      ctx.fillRect(Math.min(I.brush[0], I.brush[1]), 0, Math.abs(I.brush[1] - I.brush[0]), AXIS_H);
    }
  }
  function hatch(ctx, x0, y, w, h) {
    ctx.save();
    ctx.beginPath(); ctx.rect(x0, y, w, h); ctx.clip();
    ctx.strokeStyle = "#333"; ctx.lineWidth = 1;
    for (let i = x0 - h; i < x0 + w; i += 5) { ctx.beginPath(); ctx.moveTo(i, y + h); ctx.lineTo(i + h, y); ctx.stroke(); }
    ctx.restore();
  }
  function draw() {
    if (!D) return;
    drawAxis();
    const box = scroll();
    const w = width(), h = box.clientHeight;
    const ctx = sized($("lanes"), w, h);
    const top = box.scrollTop;
    const first = Math.floor(top / LANE_H), last = Math.min(I.lanes.length, Math.ceil((top + h) / LANE_H));
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const end = D.end;
    for (let n = first; n < last; n++) {
      const lane = I.lanes[n];
      const y = n * LANE_H - top;
      if (n % 2) { ctx.fillStyle = "#fafbfc"; ctx.fillRect(0, y, w, LANE_H); }
      ctx.fillStyle = "#1d2330";
      ctx.fillText(clipText(ctx, lane.label, LABEL_W - 8), 4, y + LANE_H / 2);
      ctx.save();
      ctx.beginPath(); ctx.rect(LABEL_W, y, w - LABEL_W, LANE_H); ctx.clip();
      for (const l of lane.leases) {
        const to = l[L.to] == null ? end : l[L.to];
        if (to < S.from || l[L.from] > S.to) continue;
        const x0 = x(l[L.from]), x1 = Math.max(x(to), x0 + 2);
        ctx.fillStyle = I.colours[l[L.runner]] || "#607d8b";
        ctx.fillRect(x0, y + 3, x1 - x0, LANE_H - 6);
        for (const wk of I.work.get(l[L.seq]) || []) {
          if (wk[W.zombie] > 0 && l[L.to] != null) {
            const z0 = x(Math.max(wk[W.from], l[L.to])), z1 = x(wk[W.to]);
            ctx.fillStyle = "rgba(255,255,255,0.6)"; ctx.fillRect(z0, y + 3, Math.max(z1 - z0, 2), LANE_H - 6);
            hatch(ctx, z0, y + 3, Math.max(z1 - z0, 2), LANE_H - 6);
          }
        }
        for (const d of I.deadlines.get(l[L.seq]) || []) {
          if (l[L.to] != null && d[1] > l[L.to]) continue; // moot once the lease ended
          const dx = x(d[1]);
          ctx.fillStyle = "#000"; ctx.fillRect(dx, y + LANE_H - 4, 1, 4);
        }
        if (S.lease === l[L.seq]) { ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.strokeRect(x0 - 1, y + 2, x1 - x0 + 2, LANE_H - 4); }
      }
      for (const c of lane.calls) {
        if (c[C.at] < S.from || c[C.at] > S.to) continue;
        const a = c[C.answer];
        ctx.fillStyle = /canceled=true|Exception|Error|lost|never/.test(a) ? "#d50000" : a.startsWith("handed") ? "#00a152" : "#263238";
        ctx.fillRect(x(c[C.at]) - 0.5, y + 1, 1.5, 4);
      }
      for (const i of lane.marks) {
        const v = D.violations[i];
        if (v.at < S.from || v.at > S.to) continue;
        const vx = x(v.at), cy = y + LANE_H / 2;
        ctx.fillStyle = S.violation === i ? "#ffab00" : "#d50000";
        ctx.beginPath(); ctx.moveTo(vx, cy - 6); ctx.lineTo(vx + 5, cy); ctx.lineTo(vx, cy + 6); ctx.lineTo(vx - 5, cy); ctx.fill();
      }
      ctx.restore();
    }
    ctx.globalAlpha = 0.35;
    for (const m of D.marks) {
      if (m[0] < S.from || m[0] > S.to) continue;
      ctx.fillStyle = m[1] === "control" ? "#2962ff" : m[1] === "message" ? "#8e44ad" : "#e67e22";
      ctx.fillRect(x(m[0]), 0, 1, h);
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#e3e5ea"; ctx.fillRect(LABEL_W - 1, 0, 1, h);
  }

  // What is under the pointer: a violation marker, a call, or a lease.
  function hit(px, py) {
    const n = Math.floor((py + scroll().scrollTop) / LANE_H);
    const lane = I.lanes[n];
    if (!lane || px < LABEL_W) return lane ? { lane } : null;
    for (const i of lane.marks) if (Math.abs(x(D.violations[i].at) - px) <= 6) return { lane, violation: i };
    const inLane = (py + scroll().scrollTop) % LANE_H;
    if (inLane <= 6) for (const c of lane.calls) if (Math.abs(x(c[C.at]) - px) <= 3) return { lane, call: c };
    const t = tAt(px);
    for (const l of lane.leases) {
      const to = l[L.to] == null ? D.end : l[L.to];
      const slack = ((S.to - S.from) / width()) * 2;
      if (t >= l[L.from] - slack && t <= to + slack) return { lane, lease: l };
    }
    return { lane };
  }
  function describe(h) {
    if (h.violation != null) {
      const v = D.violations[h.violation];
      return `${v.invariant} at ${stamp(v.at)}\n${v.message}`;
    }
    if (h.call) {
      const c = h.call;
      const who = c[C.runner] != null ? D.runners[c[C.runner]] : "?";
      return `${c[C.op]} by ${who} at ${stamp(c[C.at])}${c[C.lease] != null ? ` on t${c[C.lease]}` : ""}\nanswer: ${c[C.answer]} (decided ${stamp(c[C.answered])})`;
    }
    if (h.lease) {
      const l = h.lease;
      const zombie = (I.work.get(l[L.seq]) || []).reduce((s, w) => s + w[W.zombie], 0);
      return `t${l[L.seq]} ${l[L.label]}${l[L.again] ? " (handed out again)" : ""}\nrunner: ${D.runners[l[L.runner]]}\nfrom ${stamp(l[L.from])} to ${l[L.to] == null ? "the end" : stamp(l[L.to])}\nended: ${l[L.end]}${zombie ? `\nzombie work: ${(zombie / 1000).toFixed(1)} s` : ""}`;
    }
    return h.lane ? h.lane.label : "";
  }

  function setupTimeline() {
    const lanes = $("lanes"), axis = $("axis"), tip = $("tip");
    let drag = null;
    const zoom = (factor, at) => {
      const span = (S.to - S.from) * factor;
      const t = at == null ? (S.from + S.to) / 2 : at;
      const r = (t - S.from) / (S.to - S.from);
      setView(t - span * r, t - span * r + span, true);
      writeHash();
    };
    $("zoom-in").onclick = () => zoom(0.5);
    $("zoom-out").onclick = () => zoom(2);
    $("zoom-all").onclick = () => { setView(0, D.end, true); writeHash(); };
    for (const r of document.querySelectorAll("input[name=lanes]")) r.onchange = () => { S.lanes = r.value; layout(); draw(); };
    const onWheel = (e, always) => {
      if (!always && !e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      const rect = e.currentTarget.getBoundingClientRect();
      zoom(e.deltaY < 0 ? 0.8 : 1.25, tAt(e.clientX - rect.left));
    };
    lanes.addEventListener("wheel", (e) => onWheel(e, false), { passive: false });
    axis.addEventListener("wheel", (e) => onWheel(e, true), { passive: false });
    scroll().addEventListener("scroll", draw);
    lanes.addEventListener("mousedown", (e) => { drag = { x: e.clientX, from: S.from, to: S.to, moved: false }; });
    window.addEventListener("mouseup", (e) => {
      if (drag && !drag.moved && e.target === lanes) {
        const rect = lanes.getBoundingClientRect();
        const h = hit(e.clientX - rect.left, e.clientY - rect.top);
        if (h && h.violation != null) selectViolation(h.violation, true);
        else if (h && h.lease) selectLease(h.lease[L.seq], true);
        else if (h && h.call && h.call[C.lease] != null) selectLease(h.call[C.lease], true);
      }
      if (I.brush) {
        const [a, b] = I.brush;
        I.brush = null;
        if (Math.abs(b - a) > 4) { setView(tAt(Math.min(a, b)), tAt(Math.max(a, b)), true); writeHash(); } else drawAxis();
      }
      drag = null;
    });
    window.addEventListener("mousemove", (e) => {
      if (drag) {
        const dx = e.clientX - drag.x;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (drag.moved) {
          const dt = (dx / (width() - LABEL_W - 8)) * (drag.to - drag.from);
          setView(drag.from - dt, drag.to - dt, true);
        }
      }
      if (I.brush) { I.brush[1] = e.clientX - axis.getBoundingClientRect().left; drawAxis(); }
    });
    lanes.addEventListener("mousemove", (e) => {
      const rect = lanes.getBoundingClientRect();
      const h = hit(e.clientX - rect.left, e.clientY - rect.top);
      const text = h ? describe(h) : "";
      tip.hidden = !text;
      tip.textContent = text;
      tip.style.left = `${Math.min(e.clientX + 12, window.innerWidth - 430)}px`;
      tip.style.top = `${e.clientY + 14}px`;
    });
    lanes.addEventListener("mouseleave", () => { tip.hidden = true; });
    axis.addEventListener("mousedown", (e) => { const px = e.clientX - axis.getBoundingClientRect().left; I.brush = [px, px]; });
    window.addEventListener("resize", draw);
  }

  // ---- the log ----
  const ROW_H = 18;
  function rows() {
    const f = S.filter.toLowerCase();
    const lease = S.lease != null ? `t${S.lease}` : null;
    const out = [];
    D.log.forEach((r, i) => {
      if (lease && r[G.lease] !== lease) return;
      if (f && !logText(r).toLowerCase().includes(f)) return;
      out.push(i);
    });
    return out;
  }
  function drawLog() {
    const box = $("log-scroll");
    const first = Math.floor(box.scrollTop / ROW_H), count = Math.ceil(box.clientHeight / ROW_H) + 1;
    const holder = $("log-rows");
    holder.style.top = `${first * ROW_H}px`;
    holder.replaceChildren(...I.rows.slice(first, first + count).map((i) => {
      const r = D.log[i];
      const row = el("div", { class: `row${r[G.anomaly] ? " anomaly" : ""}${i === I.hitLine ? " hit" : ""}`, id: `line-${i}`, title: logText(r), text: logText(r) });
      row.onclick = () => { const s = r[G.lease] && r[G.lease].slice(1); if (s) selectLease(Number(s), true); };
      return row;
    }));
  }
  function refreshLog(scrollTo) {
    I.rows = rows();
    $("log-spacer").style.height = `${I.rows.length * ROW_H}px`;
    $("count").textContent = `${I.rows.length} of ${D.log.length} lines`;
    const sel = $("selection");
    sel.replaceChildren();
    if (S.lease != null) {
      const l = I.lease.get(S.lease);
      const clear = el("button", { text: "show every lease" });
      clear.onclick = () => { S.lease = null; S.violation = null; I.hitLine = null; writeHash(); refreshLog(); draw(); markGroups(); };
      sel.append(`lease t${S.lease}${l ? ` (${l[L.label]}, ${D.runners[l[L.runner]]})` : ""}`, clear);
    }
    if (scrollTo != null) {
      const at = I.rows.indexOf(scrollTo);
      if (at >= 0) $("log-scroll").scrollTop = Math.max(0, at * ROW_H - 3 * ROW_H);
    }
    drawLog();
  }
  function setupLog() {
    $("log-scroll").addEventListener("scroll", drawLog);
    $("filter").addEventListener("input", (e) => { S.filter = e.target.value; refreshLog(); });
    refreshLog();
  }

  // ---- selection and the URL fragment ----
  function markGroups() {
    for (const g of document.querySelectorAll(".group")) g.classList.toggle("selected", Number(g.dataset.violation) === S.violation);
  }
  function focusTime(at) {
    const span = S.to - S.from;
    if (at < S.from || at > S.to) setView(at - span / 2, at + span / 2, true);
  }
  function selectLease(seq, write) {
    S.lease = seq;
    S.violation = null;
    I.hitLine = null;
    const l = I.lease.get(seq);
    if (l) { focusTime(l[L.from]); revealLane(l); }
    refreshLog();
    draw();
    markGroups();
    if (write) writeHash();
  }
  function revealLane(l) {
    const n = I.lanes.findIndex((lane) => lane.leases.includes(l));
    if (n < 0) return;
    const box = scroll();
    if (n * LANE_H < box.scrollTop || (n + 1) * LANE_H > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, n * LANE_H - box.clientHeight / 2);
  }
  function selectViolation(i, write) {
    const v = D.violations[i];
    if (!v) return;
    S.violation = i;
    S.lease = v.lease != null ? v.lease : null;
    const last = v.trail[v.trail.length - 1];
    I.hitLine = last ? I.logAt.get(last.slice(0, 6).join("\u0001")) : null;
    focusTime(v.at);
    const l = S.lease != null ? I.lease.get(S.lease) : null;
    if (l) revealLane(l);
    refreshLog(I.hitLine);
    draw();
    markGroups();
    if (write) writeHash();
  }
  function writeHash() {
    let h = "";
    if (S.violation != null) h = `v=${S.violation}`;
    else if (S.lease != null) h = `lease=${S.lease}`;
    if (!S.whole) h += `${h ? "&" : ""}t=${Math.round(S.from)}-${Math.round(S.to)}`;
    history.replaceState(null, "", h ? `#${h}` : location.pathname + location.search);
  }
  function applyHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const t = p.get("t");
    if (t && /^\d+-\d+$/.test(t)) { const [a, b] = t.split("-").map(Number); setView(a, b, true); }
    if (p.has("v")) selectViolation(Number(p.get("v")), false);
    else if (p.has("lease")) selectLease(Number(p.get("lease")), false);
  }
  window.addEventListener("hashchange", applyHash);

  function start(data) {
    const keep = D && !S.whole ? [S.from, S.to] : null;
    D = data;
    index();
    renderHeader();
    renderGroups();
    renderExpectations();
    renderLegend();
    if (!I.ready) { setupTimeline(); setupLog(); I.ready = true; }
    if (keep) setView(keep[0], keep[1], false); else setView(0, D.end, false);
    refreshLog();
    if (!I.started) { I.started = true; applyHash(); }
    document.documentElement.dataset.rendered = "1";
  }

  // ---- serve's live page: the data comes from page.json, with the admin token if needed ----
  async function live() {
    const token = sessionStorage.getItem("dpsim-admin-token");
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const get = async (path) => {
      const r = await fetch(path, { headers, cache: "no-store" });
      if (r.status === 401 || r.status === 403) throw new Error(r.status === 401 ? "the admin token is needed" : "wrong admin token");
      if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
      return r.json();
    };
    let shown = null;
    const refresh = async () => {
      const clock = await get("clock");
      if (clock.now === shown) return;
      shown = clock.now;
      start(await get("page.json"));
    };
    try {
      await refresh();
      $("auth").hidden = true;
      $("main").hidden = false;
      setInterval(() => refresh().catch(() => {}), 2000);
    } catch (e) {
      $("main").hidden = true;
      $("auth").hidden = false;
      $("auth-error").textContent = String(e.message || e);
    }
  }
  $("auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("dpsim-admin-token", $("token").value);
    live();
  });

  const embedded = JSON.parse($("data").textContent);
  if (embedded) start(embedded); else live();
})();
