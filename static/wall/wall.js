// The Wall: redraws its panels and charts when a live event arrives (throttled), on every
// reconnect, and every 15 s so the minute axis moves on a quiet night. The charts are uPlot
// (static/vendor/uplot-1.6.32.*): each is created once and given new data with setData, so
// nothing accumulates over a night of reconnects. Times on the axes are UTC, as on the tiles.
(function () {
  "use strict";

  const root = document.getElementById("wall");
  const body = document.body;
  if (!root) return;

  // Colours come from the theme's CSS variables, read again whenever the theme changes.
  let colors = {};
  function readColors() {
    const style = getComputedStyle(body);
    ["text", "muted", "border", "accent", "ok", "warn", "danger"].forEach(function (name) {
      colors[name] = style.getPropertyValue("--" + name).trim();
    });
  }
  readColors();

  // The charts, created once each; exposed for the browser tests.
  const charts = {};
  window.__wallCharts = charts;

  function recolor() {
    readColors();
    Object.keys(charts).forEach(function (key) { charts[key].redraw(false); });
  }

  // Light or dark: the system's choice unless toggled here (remembered on this screen).
  const saved = localStorage.getItem("wall-theme");
  if (saved) { body.dataset.theme = saved; readColors(); }
  function toggleTheme() {
    const dark = body.dataset.theme ? body.dataset.theme === "dark" : !matchMedia("(prefers-color-scheme: light)").matches;
    body.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("wall-theme", body.dataset.theme);
    recolor();
  }
  document.getElementById("theme-toggle").addEventListener("click", toggleTheme);
  document.addEventListener("keydown", function (event) {
    if (event.key === "t" && !event.ctrlKey && !event.metaKey && !event.altKey && !event.target.closest("input, textarea, select")) toggleTheme();
  });
  matchMedia("(prefers-color-scheme: light)").addEventListener("change", recolor);

  // ---- chart building blocks -------------------------------------------------------------
  const FONT = "15px system-ui, -apple-system, 'Segoe UI', sans-serif";
  const bars = uPlot.paths.bars({ size: [0.8, 64], gap: 2 });

  function color(name) { return function () { return colors[name]; }; }

  function hhmm(seconds) { return new Date(seconds * 1000).toISOString().slice(11, 16); }

  function xs(data, n) {
    const start = Date.parse(data.start) / 1000;
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = start + i * data.step;
    return out;
  }

  function sizeOf(el) {
    return { width: Math.max(120, el.clientWidth), height: Math.max(100, el.clientHeight) };
  }

  // The y axis is as wide as its longest label ("100%", "20 min") at FONT, plus the ticks.
  function fitLabels(u, values) {
    const longest = (values || []).reduce(function (n, v) { return Math.max(n, String(v).length); }, 3);
    return Math.ceil(longest * 9) + 22;
  }

  function axes(yValues) {
    const common = { stroke: color("muted"), font: FONT, grid: { stroke: color("border"), width: 1 },
                     ticks: { stroke: color("border"), width: 1, size: 6 } };
    return [
      Object.assign({}, common, { space: 70, values: function (u, splits) { return splits.map(hhmm); } }),
      Object.assign({}, common, { size: fitLabels, values: yValues }),
    ];
  }

  // step: seconds per bar; the x scale is padded half a bar each side so end bars are whole.
  function options(el, step, series, yRange, yValues, extra) {
    return Object.assign({
      width: sizeOf(el).width, height: sizeOf(el).height,
      legend: { show: false }, cursor: { show: false }, select: { show: false },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true, range: function (u, min, max) { return [min - step / 2, max + step / 2]; } },
                y: { range: yRange } },
      axes: axes(yValues),
      series: [{}].concat(series.map(function (s) {
        return Object.assign({ paths: bars, points: { show: false }, width: 0 }, s);
      })),
    }, extra);
  }

  function plot(name, el, makeOptions, data) {
    if (charts[name]) charts[name].setData(data);
    else charts[name] = new uPlot(makeOptions(el), data, el);
    return charts[name];
  }

  // Resizing the screen resizes the charts (same instances).
  let resizeQueued = false;
  window.addEventListener("resize", function () {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(function () {
      resizeQueued = false;
      Object.keys(charts).forEach(function (key) { charts[key].setSize(sizeOf(charts[key].root.parentNode)); });
    });
  });

  function upTo(max) { return Math.max(1, max || 0) * 1.12; }

  // ---- mentions per minute, spikes shaded ---------------------------------------------------
  let volumeSpikes = [];

  function shadeSpikes(u) {
    const x = u.data[0];
    if (!x.length || !volumeSpikes.length) return;
    const half = (u.valToPos(x[0] + (x.length > 1 ? x[1] - x[0] : 60), "x", true) - u.valToPos(x[0], "x", true)) / 2;
    const left = u.bbox.left, right = u.bbox.left + u.bbox.width;
    const ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = colors.danger;
    ctx.globalAlpha = 0.22;
    volumeSpikes.forEach(function (spike) {
      const from = Math.max(left, u.valToPos(x[Math.max(0, spike.from)], "x", true) - half);
      const to = Math.min(right, u.valToPos(x[Math.min(x.length - 1, spike.to)], "x", true) + half);
      if (to > from) ctx.fillRect(from, u.bbox.top, to - from, u.bbox.height);
    });
    ctx.restore();
  }

  function drawVolume(data) {
    const n = data.total.length;
    const spikes = data.spikes || [];
    const inSpike = function (i) { return spikes.some(function (s) { return i >= s.from && i <= s.to; }); };
    const calm = [], spiking = [];
    data.total.forEach(function (value, i) {
      const hot = inSpike(i);
      calm.push(hot ? null : value);
      spiking.push(hot ? value : null);
    });
    volumeSpikes = spikes;
    const el = document.getElementById("volume-chart");
    plot("volume", el, function (box) {
      return options(box, data.step, [
        { label: "Mentions", fill: color("accent"), stroke: color("accent") },
        { label: "Mentions in a spike", fill: color("danger"), stroke: color("danger") },
      ], function (u, min, max) { return [0, upTo(max)]; },
        function (u, splits) { return splits.map(function (v) { return Number.isInteger(v) ? String(v) : ""; }); }, {
        hooks: { drawClear: [shadeSpikes] },
      });
    }, [xs(data, n), calm, spiking]);
    el.dataset.sum = String(data.sum);
    document.getElementById("volume-now").textContent = data.now + " this minute · " + data.sum + " in the hour";
    const open = spikes.filter(function (s) { return s.open; });
    document.getElementById("volume-spikes").textContent = open.length ? "Spike now: " + open.map(function (s) { return s.title; }).join("; ") : "";
  }

  // ---- sentiment share per five minutes, stacked -------------------------------------------
  // uPlot does not stack: each bar is drawn as cumulative shares, tallest first (negative on
  // top, then neutral, then positive at the bottom), each painted over the one before.
  function drawSentiment(data) {
    const n = data.total.length;
    const top = [], middle = [], bottom = [];
    for (let i = 0; i < n; i++) {
      const total = data.total[i];
      top.push(total ? 100 : null);
      middle.push(total ? 100 * (data.positive[i] + data.neutral[i]) / total : null);
      bottom.push(total ? 100 * data.positive[i] / total : null);
    }
    plot("sentiment", document.getElementById("sentiment-chart"), function (box) {
      return options(box, data.step, [
        { label: "negative", fill: color("danger"), stroke: color("danger") },
        { label: "neutral", fill: color("muted"), stroke: color("muted") },
        { label: "positive", fill: color("ok"), stroke: color("ok") },
      ], [0, 100],
        function (u, splits) { return splits.map(function (v) { return v + "%"; }); });
    }, [xs(data, n), top, middle, bottom]);
    const s = data.shares;
    document.getElementById("sentiment-shares").textContent =
      data.overall.positive + data.overall.neutral + data.overall.negative
        ? s.positive + "% positive · " + s.neutral + "% neutral · " + s.negative + "% negative" : "no mentions";
  }

  // ---- median first response per hour over 24 h -------------------------------------------
  function drawResponses(data) {
    const values = data.median_minutes;
    plot("responses", document.getElementById("responses-chart"), function (box) {
      return options(box, data.step, [
        { label: "median minutes", fill: color("warn"), stroke: color("warn") },
      ], function (u, min, max) { return [0, upTo(max)]; },
        function (u, splits) { return splits.map(function (v) { return v + " min"; }); });
    }, [xs(data, values.length), values.slice()]);
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
