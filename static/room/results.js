// The results page: one uPlot chart per post, from the series the server stored (the JSON
// in #results-series; never the network). When a live event arrives (throttled to one
// redraw every 5 s) the table is fetched again and each chart gets the new data with
// setData; a chart is created once per post. Exposed for the browser test.
(function () {
  "use strict";

  const root = document.getElementById("results");
  const box = document.getElementById("results-charts");
  if (!root || !box || typeof uPlot === "undefined") return;

  const charts = {};
  window.__resultsCharts = charts;

  function hhmm(seconds) { return new Date(seconds * 1000).toISOString().slice(11, 16); }

  function series() {
    const node = document.getElementById("results-series");
    return node ? JSON.parse(node.textContent) : [];
  }

  function options(width) {
    return {
      width: width, height: 200,
      scales: { x: { time: false } },
      axes: [{ values: function (u, splits) { return splits.map(hhmm); } }, {}],
      series: [
        { label: "UTC", value: function (u, v) { return v == null ? "" : hhmm(v); } },
        { label: "likes", stroke: "#0969da", width: 2 },
        { label: "reposts", stroke: "#1a7f37", width: 2 },
        { label: "replies", stroke: "#d29922", width: 2 },
      ],
    };
  }

  function draw() {
    series().forEach(function (post) {
      const data = [post.t.slice(), post.likes.slice(), post.reposts.slice(), post.replies.slice()];
      const chart = charts[post.id];
      if (chart) { chart.setData(data); return; }
      const figure = document.createElement("figure");
      figure.className = "results-chart";
      figure.id = "chart-" + post.id;
      const title = document.createElement("h3");
      title.dir = "auto";
      title.textContent = post.label;  // text, never HTML: a scenario name is ours but still escaped
      figure.appendChild(title);
      box.appendChild(figure);
      charts[post.id] = new uPlot(options(Math.max(280, figure.clientWidth || 400)), data, figure);
    });
  }

  let timer = null;
  function refresh() {
    if (timer) return;
    timer = setTimeout(function () {
      timer = null;
      fetch(root.dataset.url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (r) { if (!r.ok) throw new Error("results: " + r.status); return r.text(); })
        .then(function (html) {
          const template = document.createElement("template");
          template.innerHTML = html.trim();
          const fresh = template.content.getElementById("results-live");
          const old = document.getElementById("results-live");
          if (fresh && old) { old.replaceWith(fresh); draw(); }
        })
        .catch(function () { /* the next event or the next minute tries again */ });
    }, 5000);
  }

  document.body.addEventListener("htmx:wsAfterMessage", refresh);
  setInterval(refresh, 60000);
  draw();
})();
