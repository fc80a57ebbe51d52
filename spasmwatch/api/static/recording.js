// Recording viewer and labeling: min/max-decimated signal on a canvas, zoom, pan, labels.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const recId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const EP_Y = 0, EP_H = 22, LB_Y = 24, LB_H = 22, SIG_Y = 50, AXIS_H = 22;
  const MIN_SPAN_MS = 200;

  const st = {
    rec: null, stream: null, t0: 0, t1: 1, data: null, labels: [], episodes: [], falseAlarms: new Set(),
    selected: null, newType: "tonic", drag: null, fetchTimer: 0, abort: null, requests: 0,
  };
  window.SWRec = st;

  // ---------------------------------------------------------------- geometry
  const W = () => canvas.clientWidth;
  const H = () => canvas.clientHeight;
  const xOf = (ms) => ((ms - st.t0) / (st.t1 - st.t0)) * W();
  const tOf = (x) => st.t0 + (x / W()) * (st.t1 - st.t0);

  function clampView(t0, t1) {
    const a = st.rec.start_ms, b = st.rec.end_ms;
    let span = Math.max(MIN_SPAN_MS, Math.min(t1 - t0, b - a));
    if (t0 < a) t0 = a;
    if (t0 + span > b) t0 = b - span;
    return [t0, t0 + span];
  }
  function setView(t0, t1) {
    [st.t0, st.t1] = clampView(t0, t1);
    draw();
    scheduleFetch();
  }
  function zoom(factor, atX) {
    const x = atX === undefined ? W() / 2 : atX;
    const tm = tOf(x);
    const span = (st.t1 - st.t0) * factor;
    const f = x / W();
    setView(tm - f * span, tm - f * span + span);
  }
  const pan = (fraction) => { const d = (st.t1 - st.t0) * fraction; setView(st.t0 + d, st.t1 + d); };

  // ---------------------------------------------------------------- data
  function scheduleFetch() {
    clearTimeout(st.fetchTimer);
    st.fetchTimer = setTimeout(fetchSignal, 60);
  }
  async function fetchSignal() {
    if (!st.stream) return;
    if (st.abort) st.abort.abort();
    st.abort = new AbortController();
    const buckets = Math.max(10, Math.min(20000, Math.round(W())));
    const url = "/api/recordings/" + encodeURIComponent(recId) + "/signal" + SW.qs({
      stream: st.stream, start: SW.msToNs(Math.floor(st.t0)), end: SW.msToNs(Math.ceil(st.t1)), buckets,
    });
    try {
      st.requests += 1;
      st.data = await SW.api(url, { signal: st.abort.signal });
      canvas.dataset.ready = "1";
      draw();
    } catch (e) {
      if (e.name !== "AbortError") SW.status(e.message, true);
    }
  }
  async function loadAnnotations() {
    const range = { start: SW.msToNs(st.rec.start_ms), end: SW.msToNs(st.rec.end_ms) };
    const [lb, ep] = await Promise.all([
      SW.api("/api/labels" + SW.qs({ recording_id: recId })),
      SW.api("/api/episodes" + SW.qs(range)),
    ]);
    st.labels = lb.labels.filter((l) => !l.is_false_alarm);
    st.falseAlarms = new Set(lb.labels.filter((l) => l.is_false_alarm && l.episode_id).map((l) => l.episode_id));
    st.episodes = ep.episodes.filter((e) => e.source === "auto" || e.recording_id === recId);
    renderLists();
    draw();
  }

  // ---------------------------------------------------------------- drawing
  function draw() {
    if (!st.rec) return;
    const dpr = window.devicePixelRatio || 1;
    const w = W(), h = H();
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    const sigH = h - SIG_Y - AXIS_H;

    // labels as bands over everything
    for (const l of st.labels) {
      const x0 = xOf(SW.toMs(l.start_ns)), x1 = xOf(SW.toMs(l.end_ns));
      if (x1 < 0 || x0 > w) continue;
      const sel = st.selected && st.selected.kind === "label" && st.selected.id === l.id;
      ctx.fillStyle = SW.COLORS[l.type] || "#888";
      ctx.globalAlpha = sel ? 0.22 : 0.12;
      ctx.fillRect(x0, SIG_Y, Math.max(1, x1 - x0), sigH);
      ctx.globalAlpha = 1;
      ctx.fillRect(x0, LB_Y, Math.max(2, x1 - x0), LB_H);
      if (sel) { ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.strokeRect(x0, LB_Y, Math.max(2, x1 - x0), LB_H); }
      ctx.fillStyle = "#fff";
      if (x1 - x0 > 40) ctx.fillText(l.type, x0 + 4, LB_Y + 15);
    }
    // automatic episodes
    for (const e of st.episodes) {
      const x0 = xOf(SW.toMs(e.start_ns)), x1 = xOf(SW.toMs(e.end_ns));
      if (x1 < 0 || x0 > w) continue;
      const fa = st.falseAlarms.has(e.id);
      const sel = st.selected && st.selected.kind === "episode" && st.selected.id === e.id;
      ctx.fillStyle = fa ? "#ced4da" : (SW.COLORS[e.type] || "#888");
      ctx.globalAlpha = fa ? 1 : 0.35 + 0.2 * (SW.SEV[e.severity] || 1);
      ctx.fillRect(x0, EP_Y, Math.max(2, x1 - x0), EP_H);
      ctx.globalAlpha = 1;
      if (sel) { ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.strokeRect(x0, EP_Y, Math.max(2, x1 - x0), EP_H); }
      ctx.fillStyle = fa ? "#495057" : "#fff";
      if (x1 - x0 > 60) ctx.fillText(fa ? "false alarm" : "auto " + e.type, x0 + 4, EP_Y + 15);
    }
    ctx.fillStyle = "#5b6675";
    ctx.fillText("detected", 4, EP_Y + 15 + (st.episodes.length ? 0 : 0));
    ctx.fillText("labels", 4, LB_Y + 15);

    // signal: one lane per channel, a vertical min-max line per bucket
    const d = st.data;
    if (d && d.channels.length) {
      const n = d.channels.length;
      const laneH = sigH / n;
      const edges = d.edges_ns.map(SW.toMs);
      d.channels.forEach((ch, j) => {
        let lo = Infinity, hi = -Infinity;
        for (let k = 0; k < ch.min.length; k++) {
          if (ch.min[k] !== null && ch.min[k] < lo) lo = ch.min[k];
          if (ch.max[k] !== null && ch.max[k] > hi) hi = ch.max[k];
        }
        const y0 = SIG_Y + j * laneH;
        ctx.strokeStyle = "#eef0f3"; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(0, y0 + laneH); ctx.lineTo(w, y0 + laneH); ctx.stroke();
        ctx.fillStyle = "#5b6675";
        ctx.fillText(ch.name + (d.units ? " (" + d.units + ")" : ""), 4, y0 + 12);
        if (!isFinite(lo)) return;
        if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
        const yOf = (v) => y0 + 4 + (1 - (v - lo) / (hi - lo)) * (laneH - 8);
        ctx.strokeStyle = "#1d2430"; ctx.lineWidth = 1;
        ctx.beginPath();
        for (let k = 0; k < ch.min.length; k++) {
          if (ch.min[k] === null) continue;
          const x = Math.floor(xOf((edges[k] + edges[k + 1]) / 2)) + 0.5;
          const ya = yOf(ch.max[k]), yb = yOf(ch.min[k]);
          ctx.moveTo(x, ya); ctx.lineTo(x, Math.max(yb, ya + 1));
        }
        ctx.stroke();
      });
      // gaps: hatched grey
      for (const g of d.gaps || []) {
        const x0 = xOf(SW.toMs(g.start_ns)), x1 = xOf(SW.toMs(g.end_ns));
        ctx.fillStyle = "rgba(134,142,150,.25)";
        ctx.fillRect(x0, SIG_Y, Math.max(1, x1 - x0), sigH);
      }
    }
    // drag selection
    if (st.drag && st.drag.mode === "label") {
      const x0 = Math.min(st.drag.x0, st.drag.x), x1 = Math.max(st.drag.x0, st.drag.x);
      ctx.fillStyle = SW.COLORS[st.newType]; ctx.globalAlpha = 0.25;
      ctx.fillRect(x0, LB_Y, x1 - x0, h - LB_Y - AXIS_H);
      ctx.globalAlpha = 1;
    }
    drawAxis(w, h);
    $("range").textContent = SW.fmtTime(st.t0) + " – " + SW.fmtTime(st.t1) + " (" + SW.fmtDur((st.t1 - st.t0) / 1000) + " shown)";
  }

  function drawAxis(w, h) {
    const span = st.t1 - st.t0;
    const steps = [100, 200, 500, 1e3, 2e3, 5e3, 1e4, 3e4, 6e4, 12e4, 3e5, 6e5, 18e5, 36e5, 72e5, 216e5];
    const step = steps.find((s) => span / s <= Math.max(2, w / 110)) || 864e5;
    ctx.fillStyle = "#5b6675"; ctx.strokeStyle = "#d5dae1";
    const y = h - AXIS_H;
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke();
    for (let t = Math.ceil(st.t0 / step) * step; t <= st.t1; t += step) {
      const x = xOf(t);
      ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y + 5); ctx.stroke();
      const d = new Date(t);
      let text = SW.fmtTime(t);
      if (step < 1000) text += "." + String(d.getMilliseconds()).padStart(3, "0");
      ctx.fillText(text, x + 2, y + 16);
    }
  }

  function renderLists() {
    const ul = $("labels");
    ul.textContent = "";
    for (const l of st.labels) {
      const li = document.createElement("li");
      li.dataset.id = l.id;
      li.className = st.selected && st.selected.id === l.id ? "selected" : "";
      li.innerHTML = '<span class="swatch t-' + l.type + '"></span>';
      li.appendChild(document.createTextNode(
        l.type + " · " + SW.fmtTime(SW.toMs(l.start_ns)) + " · " + SW.fmtDur((l.end_ns - l.start_ns) / 1e9) + " · " + l.labeler));
      li.addEventListener("click", () => { select("label", l.id); jumpTo(l); });
      ul.appendChild(li);
    }
    if (!st.labels.length) ul.innerHTML = '<li class="muted">none yet — drag on the signal to add one</li>';
    const ue = $("episodes");
    ue.textContent = "";
    for (const e of st.episodes) {
      const li = document.createElement("li");
      li.dataset.id = e.id;
      li.className = st.selected && st.selected.id === e.id ? "selected" : "";
      li.innerHTML = '<span class="swatch t-' + e.type + '"></span>';
      li.appendChild(document.createTextNode(
        e.type + " · " + e.severity + " · " + SW.fmtTime(SW.toMs(e.start_ns)) + " · " + SW.fmtDur((e.end_ns - e.start_ns) / 1e9) +
        (st.falseAlarms.has(e.id) ? " · false alarm" : "")));
      li.addEventListener("click", () => { select("episode", e.id); jumpTo(e); });
      ue.appendChild(li);
    }
    if (!st.episodes.length) ue.innerHTML = '<li class="muted">none</li>';
    canvas.dataset.labels = String(st.labels.length);
  }

  function jumpTo(item) {
    const a = SW.toMs(item.start_ns), b = SW.toMs(item.end_ns);
    if (a >= st.t0 && b <= st.t1) return;
    const pad = Math.max((b - a) * 2, 5000);
    setView(a - pad, b + pad);
  }

  function select(kind, id) {
    st.selected = id ? { kind, id } : null;
    $("delete").disabled = !(st.selected && kind === "label");
    $("false-alarm").disabled = !(st.selected && kind === "episode");
    renderLists();
    draw();
  }

  // ---------------------------------------------------------------- edits
  async function createLabel(ms0, ms1) {
    try {
      const l = await SW.api("/api/labels", { method: "POST", body: {
        start_ns: SW.msToNs(ms0), end_ns: SW.msToNs(ms1), type: st.newType, recording_id: recId,
      } });
      st.labels.push(l);
      select("label", l.id);
      SW.status("Label added (" + l.type + ").");
    } catch (e) { SW.status("Could not add the label: " + e.message, true); }
  }
  async function setType(type) {
    st.newType = type;
    document.querySelectorAll(".typebar button[data-type]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.type === type)));
    if (!st.selected || st.selected.kind !== "label") return;
    try {
      const l = await SW.api("/api/labels/" + encodeURIComponent(st.selected.id), { method: "PATCH", body: { type } });
      st.labels = st.labels.map((x) => (x.id === l.id ? l : x));
      renderLists(); draw();
      SW.status("Label set to " + type + ".");
    } catch (e) { SW.status(e.message, true); }
  }
  async function deleteSelected() {
    if (!st.selected || st.selected.kind !== "label") return;
    const id = st.selected.id;
    try {
      await SW.api("/api/labels/" + encodeURIComponent(id), { method: "DELETE" });
      st.labels = st.labels.filter((x) => x.id !== id);
      select(null, null);
      SW.status("Label deleted.");
    } catch (e) { SW.status(e.message, true); }
  }
  async function falseAlarm() {
    if (!st.selected || st.selected.kind !== "episode") return;
    try {
      await SW.api("/api/episodes/" + encodeURIComponent(st.selected.id) + "/false-alarm", { method: "POST" });
      st.falseAlarms.add(st.selected.id);
      renderLists(); draw();
      SW.status("Marked as a false alarm.");
    } catch (e) { SW.status(e.message, true); }
  }

  // ---------------------------------------------------------------- input
  const pos = (ev) => { const r = canvas.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
  canvas.addEventListener("mousedown", (ev) => {
    const [x, y] = pos(ev);
    canvas.focus();
    const mode = ev.shiftKey || ev.button === 1 ? "pan" : "label";
    st.drag = { mode, x0: x, x, y0: y, t0: st.t0, t1: st.t1 };
    if (mode === "pan") canvas.classList.add("panning");
    ev.preventDefault();
  });
  window.addEventListener("mousemove", (ev) => {
    if (!st.drag) return;
    const [x] = pos(ev);
    st.drag.x = x;
    if (st.drag.mode === "pan") {
      const dt = ((x - st.drag.x0) / W()) * (st.drag.t1 - st.drag.t0);
      [st.t0, st.t1] = clampView(st.drag.t0 - dt, st.drag.t1 - dt);
      scheduleFetch();
    }
    draw();
  });
  window.addEventListener("mouseup", () => {
    const d = st.drag;
    if (!d) return;
    st.drag = null;
    canvas.classList.remove("panning");
    if (d.mode === "label") {
      if (Math.abs(d.x - d.x0) >= 4) {
        const a = tOf(Math.max(0, Math.min(d.x0, d.x))), b = tOf(Math.min(W(), Math.max(d.x0, d.x)));
        createLabel(a, b);
      } else {
        hit(d.x0, d.y0);
      }
    }
    draw();
  });
  function hit(x, y) {
    const t = tOf(x);
    if (y < EP_Y + EP_H) {
      const e = st.episodes.find((e) => SW.toMs(e.start_ns) <= t && t <= SW.toMs(e.end_ns));
      select("episode", e ? e.id : null);
      return;
    }
    const l = st.labels.find((l) => SW.toMs(l.start_ns) <= t && t <= SW.toMs(l.end_ns));
    select("label", l ? l.id : null);
  }
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const [x] = pos(ev);
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, x);
  }, { passive: false });
  const KEYTYPE = { t: "tonic", c: "clonic", m: "mixed", y: "myoclonic", u: "unknown" };
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    if (KEYTYPE[k]) setType(KEYTYPE[k]);
    else if (k === "Delete" || k === "Backspace") deleteSelected();
    else if (k === "f") falseAlarm();
    else if (k === "ArrowLeft") pan(-0.2);
    else if (k === "ArrowRight") pan(0.2);
    else if (k === "+" || k === "=") zoom(0.5);
    else if (k === "-" || k === "_") zoom(2);
    else if (k === "0" || k === "Home") setView(st.rec.start_ms, st.rec.end_ms);
    else if (k === "Escape") select(null, null);
    else return;
    ev.preventDefault();
  });
  document.querySelectorAll(".typebar button[data-type]").forEach((b) => b.addEventListener("click", () => setType(b.dataset.type)));
  $("zoom-in").addEventListener("click", () => zoom(0.5));
  $("zoom-out").addEventListener("click", () => zoom(2));
  $("zoom-fit").addEventListener("click", () => setView(st.rec.start_ms, st.rec.end_ms));
  $("delete").addEventListener("click", deleteSelected);
  $("false-alarm").addEventListener("click", falseAlarm);
  $("stream").addEventListener("change", (ev) => { st.stream = ev.target.value; st.data = null; fetchSignal(); });
  $("edf").addEventListener("click", () => SW.download("/api/recordings/" + encodeURIComponent(recId) + "/export.edf", recId + ".edf").catch((e) => SW.status(e.message, true)));
  window.addEventListener("resize", () => { draw(); scheduleFetch(); });

  // ---------------------------------------------------------------- start
  SW.ready.then(async (me) => {
    if (!me) return;
    try {
      const r = await SW.api("/api/recordings/" + encodeURIComponent(recId));
      st.rec = { ...r, start_ms: SW.toMs(r.start_ns), end_ms: SW.toMs(r.end_ns) };
      const sel = $("stream");
      for (const s of r.streams) {
        const o = document.createElement("option");
        o.value = s.key; o.textContent = s.key + " (" + s.channels.length + " ch, " + s.rate_hz + " Hz)";
        sel.appendChild(o);
      }
      const emg = r.streams.find((s) => s.kind === "emg") || r.streams[0];
      st.stream = emg ? emg.key : null;
      if (emg) sel.value = emg.key;
      const start = new Date(st.rec.start_ms);
      $("title").textContent = "Recording " + SW.fmtDate(start) + " " + SW.fmtTime(st.rec.start_ms);
      st.t0 = st.rec.start_ms; st.t1 = st.rec.end_ms;
      draw();
      await Promise.all([fetchSignal(), loadAnnotations()]);
    } catch (e) { SW.status(e.message, true); }
  });
})();
