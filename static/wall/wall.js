// The Wall: redraws its panels and charts when a live event arrives (throttled), on every
// reconnect, and every 15 s so the minute axis moves on a quiet night. Each redraw
// replaces what was drawn: nothing accumulates over a night of reconnects.
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const W = 600, H = 200, PAD = 18;
  const root = document.getElementById("wall");
  const body = document.body;
  if (!root) return;

  // Light or dark: the system's choice unless toggled here (remembered on this screen).
  const saved = localStorage.getItem("wall-theme");
  if (saved) body.dataset.theme = saved;
  function toggleTheme() {
    const dark = body.dataset.theme ? body.dataset.theme === "dark" : !matchMedia("(prefers-color-scheme: light)").matches;
    body.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("wall-theme", body.dataset.theme);
  }
  document.getElementById("theme-toggle").addEventListener("click", toggleTheme);
  document.addEventListener("keydown", function (event) {
    if (event.key === "t" && !event.ctrlKey && !event.metaKey && !event.altKey && !event.target.closest("input, textarea, select")) toggleTheme();
  });

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function drawVolume(data) {
    const svg = document.getElementById("volume-chart");
    const frame = document.createDocumentFragment();
    const n = data.total.length;
    const peak = Math.max(1, data.peak);
    const slot = (W - PAD) / n;
    (data.spikes || []).forEach(function (spike) {
      el("rect", { class: "spike", x: PAD + spike.from * slot, y: 0, width: (spike.to - spike.from + 1) * slot, height: H - PAD }, frame);
    });
    data.total.forEach(function (value, i) {
      const h = (H - PAD - 4) * value / peak;
      const inSpike = (data.spikes || []).some(function (s) { return i >= s.from && i <= s.to; });
      el("rect", { class: inSpike ? "bar spike-bar" : "bar", x: PAD + i * slot + 1, y: H - PAD - h, width: Math.max(1, slot - 2), height: h, "data-value": value }, frame);
    });
    el("line", { class: "axis", x1: PAD, y1: H - PAD, x2: W, y2: H - PAD }, frame);
    const top = el("text", { class: "label", x: 0, y: 12 }, frame);
    top.textContent = String(data.peak);
    const left = el("text", { class: "label", x: PAD, y: H - 2 }, frame);
    left.textContent = "-" + n + " min";
    const right = el("text", { class: "label", x: W - 30, y: H - 2 }, frame);
    right.textContent = "now";
    svg.replaceChildren(frame);
    svg.dataset.sum = String(data.sum);
    document.getElementById("volume-now").textContent = data.now + " this minute · " + data.sum + " in the hour";
    const spikes = document.getElementById("volume-spikes");
    const open = (data.spikes || []).filter(function (s) { return s.open; });
    spikes.textContent = open.length ? "Spike now: " + open.map(function (s) { return s.title; }).join("; ") : "";
  }

  function drawSentiment(data) {
    const svg = document.getElementById("sentiment-chart");
    const frame = document.createDocumentFragment();
    const n = data.total.length;
    const slot = (W - PAD) / n;
    for (let i = 0; i < n; i++) {
      const total = data.total[i];
      let y = H - PAD;
      [["pos", data.positive[i]], ["neu", data.neutral[i]], ["neg", data.negative[i]]].forEach(function (part) {
        if (!total) return;
        const h = (H - PAD) * part[1] / total;
        y -= h;
        el("rect", { class: part[0], x: PAD + i * slot + 1, y: y, width: Math.max(1, slot - 2), height: h }, frame);
      });
    }
    el("line", { class: "axis", x1: PAD, y1: H - PAD, x2: W, y2: H - PAD }, frame);
    svg.replaceChildren(frame);
    const s = data.shares;
    document.getElementById("sentiment-shares").textContent =
      data.overall.positive + data.overall.neutral + data.overall.negative
        ? s.positive + "% positive · " + s.neutral + "% neutral · " + s.negative + "% negative" : "no mentions";
  }

  function drawResponses(data) {
    const svg = document.getElementById("responses-chart");
    const frame = document.createDocumentFragment();
    const values = data.median_minutes;
    const peak = Math.max(1, ...values.filter(function (v) { return v !== null; }));
    const slot = (W - PAD) / values.length;
    values.forEach(function (value, i) {
      if (value === null) return;
      const h = (H - PAD - 4) * value / peak;
      el("rect", { class: "resp", x: PAD + i * slot + 1, y: H - PAD - h, width: Math.max(1, slot - 2), height: h, "data-value": value }, frame);
    });
    el("line", { class: "axis", x1: PAD, y1: H - PAD, x2: W, y2: H - PAD }, frame);
    const top = el("text", { class: "label", x: 0, y: 12 }, frame);
    top.textContent = peak + " min";
    svg.replaceChildren(frame);
    const total = data.responses.reduce(function (a, b) { return a + b; }, 0);
    const last = values.filter(function (v) { return v !== null; }).pop();
    document.getElementById("responses-summary").textContent =
      total ? total + " answered" + (last !== undefined ? " · latest hour " + last + " min" : "") : "no first responses yet";
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  let inFlight = false, pending = false, last = 0;
  const MIN_GAP = 1000;

  function refresh() {
    if (inFlight) { pending = true; return; }
    const wait = last + MIN_GAP - Date.now();
    if (wait > 0) { if (!pending) { pending = true; setTimeout(run, wait); } return; }
    run();
  }

  function run() {
    pending = false;
    inFlight = true;
    last = Date.now();
    const panels = fetch(root.dataset.panelsUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { if (!r.ok) throw new Error("panels: " + r.status); return r.text(); })
      .then(function (html) {
        const old = document.getElementById("wall-panels");
        const template = document.createElement("template");
        template.innerHTML = html.trim();
        const fresh = template.content.getElementById("wall-panels");
        if (old && fresh) old.replaceWith(fresh);
      });
    const volume = getJSON(root.dataset.volumeUrl).then(drawVolume);
    const sentiment = getJSON(root.dataset.sentimentUrl).then(drawSentiment);
    const responses = getJSON(root.dataset.responsesUrl).then(drawResponses);
    Promise.allSettled([panels, volume, sentiment, responses]).then(function (results) {
      inFlight = false;
      body.dataset.wallRefreshed = String(Date.now());
      body.dataset.wallErrors = String(results.filter(function (r) { return r.status === "rejected"; }).length);
      if (pending) { pending = false; refresh(); }
    });
  }

  body.addEventListener("htmx:wsAfterMessage", refresh);
  body.addEventListener("htmx:wsOpen", refresh);
  setInterval(refresh, 15000);
  refresh();
})();
