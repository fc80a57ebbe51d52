// Recordings list: links to the viewer.
"use strict";
SW.ready.then(async () => {
  const tbody = document.querySelector("#list tbody");
  try {
    const r = await SW.api("/api/recordings");
    if (!r.recordings.length) { tbody.innerHTML = '<tr><td colspan="4" class="muted">no recordings</td></tr>'; return; }
    for (const rec of r.recordings) {
      const tr = document.createElement("tr");
      const a = document.createElement("a");
      a.href = "/recordings/" + encodeURIComponent(rec.id);
      const start = new Date(SW.toMs(rec.start_ns));
      a.textContent = SW.fmtDate(start) + " " + SW.fmtTime(start.getTime());
      const td0 = document.createElement("td"); td0.appendChild(a); tr.appendChild(td0);
      const dur = rec.end_ns ? (Number(rec.end_ns) - Number(rec.start_ns)) / 1e9 : null;
      for (const [text, cls] of [[dur === null ? "recording…" : SW.fmtDur(dur), "num"], [(rec.streams || []).join(", "), ""], [rec.wearer_id, ""]]) {
        const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  } catch (e) { SW.status(e.message, true); }
});
