// Feed page: live rows arrive unfiltered; drop the ones the current filters exclude.
(function () {
  "use strict";
  document.body.addEventListener("htmx:wsAfterMessage", function () {
    const list = document.getElementById("feed-rows");
    if (!list) return;
    const f = list.dataset;
    list.querySelectorAll("li.mention:not([data-checked])").forEach(function (row) {
      row.dataset.checked = "1";
      const d = row.dataset;
      const keep = (!f.filterSource || d.source === f.filterSource) &&
        (!f.filterSentiment || d.sentiment === f.filterSentiment) &&
        (!f.filterLang || d.lang === f.filterLang) &&
        (!f.filterRule || d.rules.indexOf("," + f.filterRule + ",") >= 0);
      if (!keep) row.remove();
    });
    const empty = document.getElementById("feed-empty");
    if (empty && list.querySelector("li.mention")) empty.remove();
    while (list.children.length > 500) list.lastElementChild.remove();
  });
})();
