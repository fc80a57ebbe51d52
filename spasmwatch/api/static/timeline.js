// Clinician timeline: days x hours grid of episodes with the diary, weekly counts, print.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const LEFT = 92, RIGHT = 118, TOP = 22, ROW = 22, HOURW = 36;
  // The one low-wear rule (spasmwatch.health.VALID_DAY_S): the server sends it with every
  // summary as min_valid_wear_s; 10 h until the first summary arrives.
  let minWearS = 36000;
  const SEV_H = { mild: 0.45, moderate: 0.7, severe: 1.0 };
  const SEV_A = { mild: 0.55, moderate: 0.8, severe: 1.0 };
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  function el(name, attrs, text) {
    const e = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const dayStart = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
  function isoWeek(d) {
    const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
    const day = t.getUTCDay() || 7;
    t.setUTCDate(t.getUTCDate() + 4 - day);
    const y0 = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
    return t.getUTCFullYear() + "-W" + String(Math.ceil(((t - y0) / 864e5 + 1) / 7)).padStart(2, "0");
  }

  function legend() {
    const box = $("legend");
    box.textContent = "";
    for (const t of SW.TYPES) {
      const s = document.createElement("span");
      s.innerHTML = '<span class="swatch t-' + t + '"></span>' + t;
      box.appendChild(s);
    }
    const dd = document.createElement("span");
    dd.innerHTML = '<span class="diary-mark">◆</span> diary';
    box.appendChild(dd);
  }

  async function load() {
    const endDay = $("end-day").value ? new Date($("end-day").value + "T00:00") : dayStart(new Date());
    const n = Number($("days").value);
    const days = [];
    for (let i = n - 1; i >= 0; i--) days.push(new Date(endDay.getFullYear(), endDay.getMonth(), endDay.getDate() - i));
    const startMs = days[0].getTime();
    const endMs = new Date(endDay.getFullYear(), endDay.getMonth(), endDay.getDate() + 1).getTime();
    const wearer = $("wearer").value || undefined;
    const placement = $("placement").value || undefined;
    const range = { start: SW.msToNs(startMs), end: SW.msToNs(endMs), wearer_id: wearer };
    const get = (p, q) => SW.api(p + SW.qs(q)).catch((e) => (e.status === 403 ? null : Promise.reject(e)));
    try {
      const [ep, lb, di, ls, sm] = await Promise.all([
        get("/api/episodes", { ...range, placement, layout: "columns" }).then(rows), placement ? null : get("/api/labels", range),
        get("/api/diary", range), get("/api/signal-losses", range),
        get("/api/summary/daily", { ...range, tz }),
      ]);
      const wear = new Map();
      if (sm && sm.min_valid_wear_s) minWearS = Number(sm.min_valid_wear_s);
      for (const b of sm ? sm.buckets : []) wear.set(b.label, b);
      const labels = lb ? lb.labels : [];
      const fa = new Set(labels.filter((l) => l.is_false_alarm && l.episode_id).map((l) => l.episode_id));
      const showFa = $("show-fa").checked;
      const items = [];
      for (const e of ep ? ep.episodes : []) {
        if (fa.has(e.id) && !showFa) continue;
        items.push({ ...e, kind: "episode", falseAlarm: fa.has(e.id) });
      }
      for (const l of labels) {
        if (l.is_false_alarm || l.episode_id) continue;
        items.push({ ...l, severity: "moderate", kind: "label", source: "researcher:" + l.labeler });
      }
      drawGrid(days, items, di ? di.entries : [], ls ? ls.signal_losses : [], wear);
      weekly(days, items, wear);
      diaryTable(di ? di.entries : []);
      $("print-meta").textContent = (wearer ? "Wearer " + wearer + ". " : "") + (placement ? "Sensor on " + placement + ". " : "") +
        "Period " + SW.fmtDate(days[0]) + " to " + SW.fmtDate(endDay) + " (" + tz + "), " +
        items.filter((x) => !x.falseAlarm).length + " episodes. Printed " + new Date().toLocaleString() + ".";
      $("grid").dataset.ready = "1";
      $("grid").dataset.items = String(items.length);
    } catch (e) { SW.status(e.message, true); }
  }

  // {count, columns: {field: [...]}} -> {count, episodes: [{field: value}]}
  function rows(r) {
    if (!r || !r.columns) return r;
    const keys = Object.keys(r.columns), out = [];
    for (let i = 0; i < r.count; i++) {
      const e = {};
      for (const k of keys) e[k] = r.columns[k][i];
      out.push(e);
    }
    return { count: r.count, episodes: out };
  }

  // Compact form for the grid's narrow column.
  function wearText(n, usable) {
    return usable > 0 ? n + " · " + (usable / 3600).toFixed(1) + " h worn" : n + " · not worn";
  }
  const isLowWear = (usable, days) => !(usable >= minWearS * days - 1e-6);
  // The one wording of a count, as spasmwatch.health.format_count_with_wear writes it.
  function countText(n, usable, days) {
    const what = n + " " + (n === 1 ? "spasm" : "spasms");
    if (!(usable > 0)) return what + " — no wear time recorded, not comparable with other days";
    const worn = (usable < 3600 ? Math.round(usable / 60) + " min" : (usable / 3600).toFixed(1) + " h") + " worn";
    const over = days === 1 ? "" : " over " + days + " days";
    if (isLowWear(usable, days)) {
      return what + " in " + worn + over + " — low wear (under " + minWearS / 3600 + " h a day" +
        (over ? " on average" : "") + "), interpret with care";
    }
    return what + " in " + worn + over + " (" + (n * 86400 / usable).toFixed(1) + " per 24 h worn)";
  }

  function drawGrid(days, items, diary, losses, wear) {
    const svg = $("grid");
    svg.textContent = "";
    const width = LEFT + 24 * HOURW + RIGHT, height = TOP + days.length * ROW + 4;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    for (let h = 0; h <= 24; h += 3) svg.appendChild(el("text", { x: LEFT + h * HOURW - 6, y: 14 }, String(h).padStart(2, "0")));
    svg.appendChild(el("text", { x: LEFT + 24 * HOURW + 8, y: 14 }, "n · worn"));
    days.forEach((d, i) => {
      const y = TOP + i * ROW;
      const d0 = d.getTime(), d1 = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
      const xOf = (ms) => LEFT + ((ms - d0) / (d1 - d0)) * 24 * HOURW;
      const wk = d.getDay() === 0 || d.getDay() === 6;
      const w = wear.get(SW.fmtDate(d));
      const usable = w ? Number(w.usable_s) : 0;
      const low = w && typeof w.low_wear === "boolean" ? w.low_wear : isLowWear(usable, 1);
      svg.appendChild(el("rect", { class: "dayrow" + (wk ? " weekend" : "") + (low ? " lowwear" : ""), x: LEFT, y, width: 24 * HOURW, height: ROW }));
      for (let h = 1; h < 24; h++) svg.appendChild(el("line", { class: "hour", x1: LEFT + h * HOURW, x2: LEFT + h * HOURW, y1: y + 1, y2: y + ROW - 1 }));
      const label = d.toLocaleDateString(undefined, { weekday: "short" }) + " " + SW.fmtDate(d).slice(5);
      svg.appendChild(el("text", { x: 4, y: y + 15 }, label));
      for (const s of losses) {
        const a = Math.max(SW.toMs(s.start_ns), d0), b = Math.min(SW.toMs(s.end_ns), d1);
        if (b <= a) continue;
        svg.appendChild(el("rect", { x: xOf(a), y: y + 1, width: Math.max(1, xOf(b) - xOf(a)), height: ROW - 2, fill: "#adb5bd", "fill-opacity": ".35" }));
      }
      let count = 0;
      for (const e of items) {
        const s = SW.toMs(e.start_ns), t = SW.toMs(e.end_ns);
        if (s >= d1 || t < d0) continue;
        if (s >= d0 && !e.falseAlarm) count++;
        const a = Math.max(s, d0), b = Math.min(t, d1);
        const hgt = (ROW - 4) * (SEV_H[e.severity] || 0.5);
        const r = el("rect", {
          class: "ep" + (e.kind === "label" ? " label" : ""), x: xOf(a), y: y + 2 + (ROW - 4 - hgt),
          width: Math.max(3, xOf(b) - xOf(a)), height: hgt,
          fill: e.falseAlarm ? "#ced4da" : SW.COLORS[e.type] || "#888", "fill-opacity": SEV_A[e.severity] || 0.7,
          "data-id": e.id, "data-kind": e.kind, "data-type": e.type,
        });
        r.appendChild(el("title", {}, (e.kind === "label" ? "label: " : "") + e.type + ", " + e.severity + ", " +
          SW.fmtTime(s) + ", " + SW.fmtDur((t - s) / 1000) + (e.falseAlarm ? " (false alarm)" : "") + " [" + e.source + "]"));
        svg.appendChild(r);
      }
      for (const de of diary) {
        const t = SW.toMs(de.t_ns);
        if (t < d0 || t >= d1) continue;
        const x = xOf(t);
        const m = el("path", { class: "diary", d: "M" + x + " " + (y + 1) + " l4 5 l-4 5 l-4 -5 z", "data-id": de.id });
        m.appendChild(el("title", {}, SW.fmtTime(t) + " " + de.kind + ": " + de.text + (de.dose ? " " + de.dose : "")));
        svg.appendChild(m);
      }
      const t = el("text", { class: "count" + (low ? " lowwear" : ""), x: LEFT + 24 * HOURW + 8, y: y + 15,
        "data-day": SW.fmtDate(d), "data-n": count, "data-usable-s": usable, "data-low-wear": low ? "1" : "0" }, wearText(count, usable));
      t.appendChild(el("title", {}, countText(count, usable, 1) +
        (w && Number(w.worn_s) > 0 ? "; on the body " + (Number(w.worn_s) / 3600).toFixed(1) + " h" : "")));
      svg.appendChild(t);
    });
  }

  function weekly(days, items, wear) {
    const weeks = new Map();
    for (const d of days) {
      const k = isoWeek(d);
      if (!weeks.has(k)) weeks.set(k, { n: 0, dur: 0, severe: 0, byType: {}, usable: 0, days: 0 });
      const w = weeks.get(k), b = wear.get(SW.fmtDate(d));
      w.days++; w.usable += b ? Number(b.usable_s) : 0;
    }
    for (const e of items) {
      if (e.falseAlarm) continue;
      const w = weeks.get(isoWeek(new Date(SW.toMs(e.start_ns))));
      if (!w) continue;
      w.n++; w.dur += (e.end_ns - e.start_ns) / 1e9;
      if (e.severity === "severe") w.severe++;
      w.byType[e.type] = (w.byType[e.type] || 0) + 1;
    }
    const thead = $("weekly").tHead, tbody = $("weekly").tBodies[0];
    thead.innerHTML = "<tr><th>Week</th><th>Spasms, with their wear time</th>" + SW.TYPES.map((t) => "<th class=num>" + t + "</th>").join("") + "<th class=num>Severe</th><th class=num>Total time</th><th class=num>Worn (usable)</th></tr>";
    tbody.textContent = "";
    for (const [wk, w] of weeks) {
      const tr = document.createElement("tr");
      const low = isLowWear(w.usable, w.days);
      if (low) tr.className = "lowwear";
      tr.dataset.week = wk;
      tr.dataset.n = w.n; tr.dataset.usableS = w.usable; tr.dataset.days = w.days;
      const cells = [wk, countText(w.n, w.usable, w.days), ...SW.TYPES.map((t) => w.byType[t] || 0), w.severe, SW.fmtDur(w.dur),
        (w.usable / 3600).toFixed(1) + " h in " + w.days + " d" + (low ? " (low)" : "")];
      cells.forEach((c, i) => { const td = document.createElement("td"); td.textContent = String(c); if (i > 1) td.className = "num"; tr.appendChild(td); });
      tbody.appendChild(tr);
    }
  }

  function diaryTable(entries) {
    const tbody = $("diary").tBodies[0];
    tbody.textContent = "";
    if (!entries.length) { tbody.innerHTML = '<tr><td colspan="4" class="muted">no diary entries in this period</td></tr>'; return; }
    for (const de of entries) {
      const tr = document.createElement("tr");
      const t = new Date(SW.toMs(de.t_ns));
      for (const c of [SW.fmtDate(t) + " " + SW.fmtTime(t.getTime()), de.kind, de.text, de.dose || ""]) {
        const td = document.createElement("td"); td.textContent = c; tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }

  $("days").addEventListener("change", load);
  $("end-day").addEventListener("change", load);
  $("show-fa").addEventListener("change", load);
  $("placement").addEventListener("change", load);
  $("wearer").addEventListener("change", () => { loadPlacements().then(load); });

  async function loadPlacements() {
    const sel = $("placement"), keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    try {
      const r = await SW.api("/api/placements" + SW.qs({ wearer_id: $("wearer").value || undefined }));
      for (const p of r.placements) { const o = document.createElement("option"); o.value = p; o.textContent = p.replace(/-/g, " "); sel.appendChild(o); }
      if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
    } catch (e) { /* the filter is optional */ }
  }

  function wearers(me) {
    const sel = $("wearer");
    for (const w of me.wearers || []) {
      const o = document.createElement("option");
      o.value = w.id; o.textContent = w.name ? w.name + " (" + w.id + ")" : w.id;
      sel.appendChild(o);
    }
    $("wearer-label").hidden = (me.wearers || []).length < 2;
  }
  $("print").addEventListener("click", () => window.print());
  // The PDF report of the shown wearer and days. The token lives in sessionStorage, not in a
  // cookie, so a plain link would not be authorised: fetch with the token, save the blob.
  const pdfRange = () => {
    const endDay = $("end-day").value ? new Date($("end-day").value + "T00:00") : dayStart(new Date());
    const first = new Date(endDay.getFullYear(), endDay.getMonth(), endDay.getDate() - Number($("days").value) + 1);
    return { wearer_id: $("wearer").value || undefined, start: SW.fmtDate(first), end: SW.fmtDate(endDay), tz };
  };
  $("pdf").addEventListener("click", async () => {
    const q = pdfRange();
    const btn = $("pdf");
    btn.disabled = true;
    SW.status("Preparing the PDF report…");
    try {
      await SW.download("/api/reports/pdf" + SW.qs(q), "spasmwatch-report-" + (q.wearer_id || "me") + "-" + q.start + "-to-" + q.end + ".pdf");
      SW.status("PDF report downloaded.");
    } catch (e) {
      SW.status(e.status === 403 ? "The PDF report is for clinicians and the wearer (it carries the diary)." : e.message, true);
    } finally { btn.disabled = false; }
  });
  const exportRange = () => {
    const endDay = $("end-day").value ? new Date($("end-day").value + "T00:00") : dayStart(new Date());
    const n = Number($("days").value);
    return { start: SW.msToNs(new Date(endDay.getFullYear(), endDay.getMonth(), endDay.getDate() - n + 1).getTime()),
      end: SW.msToNs(new Date(endDay.getFullYear(), endDay.getMonth(), endDay.getDate() + 1).getTime()),
      wearer_id: $("wearer").value || undefined, placement: $("placement").value || undefined };
  };
  $("csv").addEventListener("click", () => SW.download("/api/export/episodes.csv" + SW.qs(exportRange()), "episodes.csv").catch((e) => SW.status(e.message, true)));
  $("fhir").addEventListener("click", () => SW.download("/api/export/fhir" + SW.qs(exportRange()), "episodes.fhir.json").catch((e) => SW.status(e.message, true)));
  legend();
  const q = new URLSearchParams(location.search);
  if (q.get("end")) $("end-day").value = q.get("end");
  if (q.get("days")) $("days").value = q.get("days");
  if (q.get("placement")) $("placement").dataset.want = q.get("placement");
  SW.ready.then(async (me) => {
    if (!me) return;
    if (me.role === "researcher") $("pdf").hidden = true;  // the report carries the diary text
    wearers(me);
    if (q.get("wearer")) $("wearer").value = q.get("wearer");
    await loadPlacements();
    if ($("placement").dataset.want) $("placement").value = $("placement").dataset.want;
    load();
  });
})();
