// Live page: device status and health, activity bar, episodes as they happen, breathing guide.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const devices = new Map();
  const health = new Map();
  const episodes = new Map();
  let ws = null;
  let retry = 500;

  function setConn(on, text) {
    const el = $("conn");
    el.textContent = text;
    el.className = "conn " + (on ? "on" : "off");
  }

  function renderDevices() {
    const box = $("devices");
    box.textContent = "";
    if (!devices.size) { box.innerHTML = '<span class="muted">no device reported yet</span>'; return; }
    for (const d of devices.values()) {
      const el = document.createElement("span");
      el.className = "device " + (d.state || "");
      let text = d.device + ": " + (d.state || "?");
      const level = d.battery_pct !== undefined && d.battery_pct !== null ? d.battery_pct : d.battery;
      if (level !== undefined && level !== null) text += " · battery " + Math.round(level) + " %";
      el.textContent = text;
      box.appendChild(el);
    }
  }

  // ---------------------------------------------------------------- device health
  const QUALITY = {
    good: "good", contact_lost: "electrode contact lost", saturation: "signal saturated",
    powerline: "mains (powerline) interference", motion_artefact: "motion artefact",
  };
  const CAUSE = {
    disconnect: "the link dropped", out_of_range: "out of range", battery: "battery empty",
    not_worn: "not worn", bad_contact: "electrode contact lost", host_asleep: "this computer was asleep",
    packet_loss: "radio packets lost", decode_error: "undecodable data", overflow: "the monitor fell behind",
    unknown: "cause unknown",
  };

  function fmtHours(s) {
    s = Math.max(0, Number(s) || 0);
    if (s < 60) return Math.round(s) + " s";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? h + " h " + m + " min" : m + " min";
  }

  function row(cls, text) {
    const el = document.createElement("div");
    el.className = "hrow " + cls;
    el.textContent = text;
    return el;
  }

  function renderHealth() {
    const box = $("health");
    box.textContent = "";
    if (!health.size) { box.innerHTML = '<span class="muted">no health report yet</span>'; return; }
    for (const h of [...health.values()].sort((a, b) => String(a.device).localeCompare(String(b.device)))) {
      const card = document.createElement("div");
      card.className = "hcard";
      card.dataset.device = h.device;
      const head = document.createElement("div");
      head.className = "hhead";
      const name = document.createElement("strong");
      name.textContent = h.device;
      head.appendChild(name);
      if (h.placement) { const p = document.createElement("span"); p.className = "muted"; p.textContent = " on " + h.placement; head.appendChild(p); }
      if (h.state) { const st = document.createElement("span"); st.className = "hstate " + h.state; st.textContent = h.state; head.appendChild(st); }
      card.appendChild(head);
      // battery
      const b = h.battery;
      if (b && b.level !== undefined && b.level !== null) {
        const lvl = Math.round(Number(b.level));
        const crit = lvl <= 10, low = !!b.low || lvl <= 20;
        const el = row("battery" + (crit ? " critical" : low ? " low" : ""),
          "Battery " + lvl + " %" + (crit ? " — charge now, recording will stop soon" : low ? " — low, charge it soon" : ""));
        el.dataset.level = String(lvl);
        card.dataset.batteryLow = low ? "1" : "0";
        card.appendChild(el);
      } else {
        card.appendChild(row("battery muted", "Battery: not reported"));
      }
      // worn
      const worn = h.worn === true ? "worn" : h.worn === false ? "not_worn" : "unknown";
      card.dataset.worn = worn;
      card.appendChild(row("worn " + worn, worn === "worn" ? "Worn" : worn === "not_worn"
        ? "Not worn" + (h.worn_since_ns ? " since " + SW.fmtTime(SW.toMs(h.worn_since_ns)) : "")
        : "Worn: not known yet"));
      // EMG quality per channel
      const q = h.quality || {};
      for (const stream of Object.keys(q).sort()) {
        const chans = q[stream].channels || {};
        const names = (h.channels && h.channels[stream]) || Object.keys(chans);
        const el = document.createElement("div");
        el.className = "hrow quality";
        el.dataset.stream = stream;
        const label = document.createElement("span");
        label.textContent = stream.split(".").pop().toUpperCase() + " ";
        el.appendChild(label);
        const bad = [];
        for (const c of names) {
          const st = chans[c] || null;
          const dot = document.createElement("span");
          dot.className = "qdot q-" + (st || "none");
          dot.dataset.channel = c;
          dot.dataset.status = st || "";
          const words = st ? (QUALITY[st] || st) : "not assessed yet";
          dot.title = c + ": " + words;
          dot.setAttribute("role", "img");
          dot.setAttribute("aria-label", c + ": " + words);
          el.appendChild(dot);
          if (st && st !== "good") bad.push(c + " " + words);
        }
        const sum = document.createElement("span");
        sum.className = "qsum" + (bad.length ? " warn" : "");
        sum.textContent = bad.length ? " " + bad.join("; ") : " all channels good";
        if (!Object.values(chans).some((x) => x)) sum.textContent = " not assessed yet";
        el.appendChild(sum);
        card.appendChild(el);
      }
      // last signal loss
      const l = h.last_loss;
      if (l && l.start_ns) {
        const dur = Math.max(0, (Number(l.end_ns) - Number(l.start_ns)) / 1e9);
        const el = row("loss" + (l.open ? " open" : ""), "Last signal loss " + SW.fmtTime(SW.toMs(l.start_ns)) +
          ", " + SW.fmtDur(dur) + (l.open ? " so far" : "") + " — " + (l.cause_text || CAUSE[l.cause] || l.cause));
        el.dataset.cause = l.cause;
        card.appendChild(el);
      } else {
        card.appendChild(row("loss muted", "No signal loss"));
      }
      // today's wear time
      const w = h.wear_today;
      if (w) {
        const el = row("wear", "Worn today " + fmtHours(w.worn_s) + " (" + fmtHours(w.usable_s) + " usable signal)");
        el.dataset.wornS = String(w.worn_s);
        card.appendChild(el);
      }
      box.appendChild(card);
    }
  }

  function onHealth(ev) {
    const old = health.get(ev.device) || {};
    health.set(ev.device, Object.assign({}, old, ev));
    renderHealth();
    const c = ev.change;
    if (!c) return;
    if (c.kind === "battery_low" || c.kind === "battery_critical") SW.status(c.message || (ev.device + ": battery low"), c.kind === "battery_critical");
    else if (c.kind === "quality" && c.status === "contact_lost") SW.status(ev.device + ": electrode contact lost on channel " + c.channel, true);
    else if (c.kind === "wear") SW.status(ev.device + (c.state === "not_worn" ? ": not worn" : ": worn again"));
  }

  function onLoss(ev) {
    if (!ev.device) return;
    const h = Object.assign({ device: ev.device }, health.get(ev.device) || {});
    h.last_loss = { start_ns: ev.start_ns, end_ns: ev.end_ns, cause: ev.cause, cause_text: ev.cause_text, open: !!ev.open };
    health.set(ev.device, h);
    renderHealth();
  }

  function setActivity(level) {
    const v = Math.max(0, Math.min(1, Number(level) || 0));
    $("meter-bar").style.width = (v * 100).toFixed(0) + "%";
    $("meter").setAttribute("aria-valuenow", (v * 100).toFixed(0));
    $("activity-text").textContent = v < 0.2 ? "relaxed" : v < 0.5 ? "some activity" : v < 0.8 ? "high activity" : "very high activity";
  }

  function renderEpisodes() {
    const ul = $("episodes");
    ul.textContent = "";
    const list = [...episodes.values()].sort((a, b) => b.start_ns - a.start_ns).slice(0, 20);
    if (!list.length) { ul.innerHTML = '<li class="muted">none yet</li>'; return; }
    for (const e of list) {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch t-" + e.type;
      li.appendChild(sw);
      const dur = (Number(e.end_ns) - Number(e.start_ns)) / 1e9;
      li.appendChild(document.createTextNode(
        SW.fmtTime(SW.toMs(e.start_ns)) + " " + e.type + ", " + e.severity + ", " + SW.fmtDur(dur) + (e.final === false ? " (ongoing)" : "") + (e.source === "self-report" ? " · logged by you" : "")));
      ul.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- breathing guide
  const guide = { active: false, promptId: null, inhale: 4, exhale: 6, t0: 0, raf: 0 };

  function startGuide(opts) {
    guide.active = true;
    guide.promptId = opts.prompt_id || null;
    guide.inhale = Number(opts.inhale_s) > 0 ? Number(opts.inhale_s) : 4;
    guide.exhale = Number(opts.exhale_s) > 0 ? Number(opts.exhale_s) : 6;
    guide.t0 = performance.now();
    $("pacing").textContent = guide.inhale + " s in, " + guide.exhale + " s out";
    $("guide-why").textContent = (opts.reason === "on_demand" || !opts.reason ? "" : "Offered because your muscle activity rose. ") +
      "A suggestion, not medical advice. Stop whenever you like.";
    $("guide").hidden = false;
    $("guide").dataset.promptId = guide.promptId || "";
    $("guide").dataset.state = "running";
    cancelAnimationFrame(guide.raf);
    guide.raf = requestAnimationFrame(tick);
    $("done").focus();
  }

  function tick(now) {
    if (!guide.active) return;
    const cycle = guide.inhale + guide.exhale;
    const t = (now - guide.t0) / 1000;
    const inCycle = t % cycle;
    const n = Math.floor(t / cycle);
    let frac, phase, left;
    if (inCycle < guide.inhale) {
      frac = inCycle / guide.inhale; phase = "Breathe in"; left = guide.inhale - inCycle;
    } else {
      frac = 1 - (inCycle - guide.inhale) / guide.exhale; phase = "Breathe out"; left = cycle - inCycle;
    }
    const eased = 0.5 - 0.5 * Math.cos(Math.PI * frac);
    $("pace").setAttribute("r", (40 + 45 * eased).toFixed(1));
    if ($("phase").textContent !== phase) $("phase").textContent = phase;
    $("count").textContent = String(Math.ceil(left));
    $("cycles").textContent = String(n);
    guide.raf = requestAnimationFrame(tick);
  }

  async function endGuide(outcome) {
    const id = guide.promptId;
    guide.active = false;
    cancelAnimationFrame(guide.raf);
    $("guide").hidden = true;
    $("guide").dataset.state = outcome;
    if (!id) return;
    try {
      await SW.api("/api/prompts/" + encodeURIComponent(id) + "/outcome", { method: "POST", body: { outcome } });
      SW.status(outcome === "done" ? "Exercise recorded as done. Well done." : "Exercise dismissed.");
    } catch (e) {
      SW.status("Could not save the outcome: " + e.message, true);
    }
  }

  $("done").addEventListener("click", () => endGuide("done"));
  $("dismiss").addEventListener("click", () => endGuide("dismissed"));
  $("start-guide").addEventListener("click", async () => {
    try {
      const p = await SW.api("/api/prompts", { method: "POST", body: { exercise_id: "paced-breathing" } });
      startGuide({ prompt_id: p.id, reason: "on_demand" });
    } catch (e) {
      // Without a wearer token the exercise still runs, it just is not recorded.
      startGuide({ reason: "on_demand" });
      SW.status("Exercise not recorded: " + e.message, true);
    }
  });
  document.addEventListener("keydown", (ev) => {
    if (guide.active && ev.key === "Escape") endGuide("dismissed");
  });

  // ---------------------------------------------------------------- self-report
  let role = null;
  const asked = new Set();
  let asking = null;

  async function logNow() {
    const body = {};
    const sev = $("log-severity").value, site = $("log-site").value.trim();
    const trig = $("log-trigger").value, text = $("log-trigger-text").value.trim();
    if (sev) body.severity = sev;
    if (site) body.body_site = site;
    if (trig) body.trigger = trig;
    if (text) body.trigger_text = text;
    $("log-now").disabled = true;
    try {
      const r = await SW.api("/api/self-reports", { method: "POST", body });
      episodes.set(r.episode.id, r.episode);
      renderEpisodes();
      $("log-panel").dataset.last = r.self_report.id;
      SW.status("Spasm logged at " + SW.fmtTime(SW.toMs(r.episode.start_ns)) + ". Thank you.");
      for (const id of ["log-severity", "log-site", "log-trigger", "log-trigger-text"]) $(id).value = "";
      $("log-more").open = false;
    } catch (e) {
      SW.status("Could not log the spasm: " + e.message, true);
    } finally {
      $("log-now").disabled = false;
    }
  }

  function ask(e) {
    if (role !== "wearer" || e.source !== "auto" || e.final === false || asked.has(e.id)) return;
    asked.add(e.id);
    asking = e;
    const dur = (Number(e.end_ns) - Number(e.start_ns)) / 1e9;
    $("ask-what").textContent = "Detected at " + SW.fmtTime(SW.toMs(e.start_ns)) + ": " + e.type +
      ", " + e.severity + ", " + SW.fmtDur(dur) + (e.placement ? " (" + e.placement + ")" : "") + ".";
    $("ask").dataset.episodeId = e.id;
    $("ask").hidden = false;
  }

  async function answer(value) {
    const e = asking;
    if (!e) return;
    asking = null;
    $("ask").hidden = true;
    try {
      await SW.api("/api/episodes/" + encodeURIComponent(e.id) + "/confirm", { method: "POST", body: { answer: value } });
      $("ask").dataset.answered = value;
      SW.status("Thanks, your answer was saved.");
    } catch (err) {
      SW.status("Could not save your answer: " + err.message, true);
    }
  }

  $("log-now").addEventListener("click", logNow);
  for (const b of document.querySelectorAll("#ask button[data-answer]")) {
    b.addEventListener("click", () => answer(b.dataset.answer));
  }

  async function loadPlaces() {
    try {
      const r = await SW.api("/api/placements");
      const dl = $("log-sites");
      for (const p of r.placements) { const o = document.createElement("option"); o.value = p; dl.appendChild(o); }
    } catch (e) { /* optional */ }
  }

  // ---------------------------------------------------------------- live socket
  function handle(ev) {
    switch (ev.type) {
      case "hello":
        setConn(true, ev.live ? "live" : "connected (no live source)");
        break;
      case "device_status":
        devices.set(ev.device, ev); renderDevices();
        if (health.has(ev.device) && ev.state) { health.get(ev.device).state = ev.state; renderHealth(); }
        break;
      case "health":
        onHealth(ev); break;
      case "signal_loss":
        onLoss(ev); break;
      case "detection":
        if (ev.activity !== undefined) setActivity(ev.activity);
        break;
      case "signal_preview":
        if (ev.activity !== undefined) setActivity(ev.activity);
        break;
      case "episode": {
        const e = ev.episode || ev;
        if (e && e.id) { episodes.set(e.id, e); renderEpisodes(); ask(e); }
        break;
      }
      case "prompt":
        startGuide(ev);
        break;
      case "prompt_outcome":
        if (guide.active && guide.promptId === ev.prompt_id) { guide.active = false; $("guide").hidden = true; }
        break;
      case "stats":
        SW.status(ev.dropped + " live updates were skipped (slow connection)");
        break;
      case "error":
        SW.status(ev.detail, true);
        break;
      default:
        break;
    }
  }

  function connect() {
    if (!SW.token) { setConn(false, "no token"); return; }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/api/live");
    ws.addEventListener("open", () => { retry = 500; ws.send(JSON.stringify({ token: SW.token })); });
    ws.addEventListener("message", (m) => { try { handle(JSON.parse(m.data)); } catch (e) { /* ignore malformed */ } });
    ws.addEventListener("close", (c) => {
      if (c.code === 4401) { setConn(false, "token refused"); return; }
      setConn(false, "reconnecting…");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    });
  }

  async function loadRecent() {
    try {
      const now = Date.now();
      const r = await SW.api("/api/episodes" + SW.qs({ start: SW.msToNs(now - 6 * 3600e3), newest_first: undefined }));
      for (const e of r.episodes) episodes.set(e.id, e);
      renderEpisodes();
    } catch (e) { /* shown by the header */ }
  }

  window.SWLive = { startGuide, handle };
  SW.ready.then((me) => {
    role = me ? me.role : null;
    for (const el of document.querySelectorAll(".wearer-only")) el.hidden = role !== "wearer";
    if (role === "wearer") loadPlaces();
    loadRecent(); connect();
  });
})();
