// spasmwatch: shared page helpers (token, API calls, header, formatting). No dependencies.
"use strict";

const SW = (() => {
  const KEY = "spasmwatch.token";

  // Take ?token= once, keep it in sessionStorage, and remove it from the address bar.
  function readToken() {
    const url = new URL(window.location.href);
    const t = url.searchParams.get("token");
    if (t) {
      sessionStorage.setItem(KEY, t);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    return sessionStorage.getItem(KEY);
  }
  let token = readToken();

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, opts = {}) {
    const headers = Object.assign({}, opts.headers || {});
    if (token) headers["Authorization"] = "Bearer " + token;
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const r = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal });
    if (r.status === 204) return null;
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { const j = await r.json(); if (j && j.detail) msg = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (e) { /* not JSON */ }
      if (r.status === 401) showTokenForm();
      throw new ApiError(r.status, msg);
    }
    const ct = r.headers.get("content-type") || "";
    return ct.includes("json") ? r.json() : r.blob();
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) v.forEach((x) => u.append(k, x)); else u.append(k, String(v));
    }
    const s = u.toString();
    return s ? "?" + s : "";
  }

  async function download(path, filename) {
    const blob = await api(path);
    const data = blob instanceof Blob ? blob : new Blob([JSON.stringify(blob, null, 1)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(data);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function status(msg, isError) {
    const el = document.getElementById("status");
    if (!el) return;
    el.textContent = msg || "";
    el.classList.toggle("error", !!isError);
  }

  function showTokenForm() {
    const f = document.getElementById("token-form");
    if (f) f.classList.add("show");
  }

  // Header: navigation, who am I, token entry.
  function header(current) {
    const h = document.createElement("header");
    h.className = "top";
    const links = [["/live", "Live"], ["/timeline", "Timeline"], ["/recordings", "Recordings"]];
    const brand = document.createElement("span");
    brand.className = "brand";
    brand.textContent = "spasmwatch";
    h.appendChild(brand);
    for (const [href, text] of links) {
      const a = document.createElement("a");
      a.href = href; a.textContent = text;
      if (href === current) a.setAttribute("aria-current", "page");
      h.appendChild(a);
    }
    const who = document.createElement("span");
    who.className = "who"; who.id = "who";
    h.appendChild(who);
    const form = document.createElement("form");
    form.id = "token-form"; form.className = "token-form";
    form.innerHTML = '<label for="token-input">Token</label><input id="token-input" type="password" autocomplete="off" size="28"><button type="submit">Use</button>';
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = document.getElementById("token-input").value.trim();
      if (v) { sessionStorage.setItem(KEY, v); token = v; location.reload(); }
    });
    h.appendChild(form);
    document.body.prepend(h);
    if (!token) { showTokenForm(); return Promise.resolve(null); }
    return api("/api/me").then((me) => {
      who.textContent = me.name + " (" + me.role + ")";
      return me;
    }).catch((e) => { status(e.message, true); return null; });
  }

  const NS_PER_MS = 1e6;
  const toMs = (ns) => Number(ns) / NS_PER_MS;
  // ns as a decimal string from ms (keeps int64 exact enough for the server: ms resolution).
  const msToNs = (ms) => String(Math.round(ms)) + "000000";
  const pad = (n) => String(n).padStart(2, "0");
  function fmtTime(ms) { const d = new Date(ms); return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function fmtDate(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }
  function fmtDur(s) { return s < 60 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " + Math.round(s % 60) + " s"; }
  const TYPES = ["tonic", "clonic", "mixed", "myoclonic", "unknown"];
  const COLORS = { tonic: "#d9480f", clonic: "#1971c2", mixed: "#862e9c", myoclonic: "#2b8a3e", unknown: "#868e96" };
  const SEV = { mild: 1, moderate: 2, severe: 3 };

  return {
    api, qs, download, status, header, ApiError, toMs, msToNs, fmtTime, fmtDate, fmtDur,
    TYPES, COLORS, SEV, get token() { return token; },
  };
})();

// Every page: header first; page scripts wait on SW.ready (resolves to {name, role} or null).
SW.ready = SW.header(document.body.dataset.page || "");
