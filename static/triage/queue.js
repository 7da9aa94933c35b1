// Queue page: the keyboard (j/k move, Enter opens, a takes, r replies, e escalates, c closes
// with a confirm step, x selects for bulk), the SLA countdowns, the live row sync, and who
// is viewing or replying to a case.
//
// A live case event drops a loader into #queue-sync that fetches what the case's row now
// looks like on this page, with this page's filters (the same row partial the page
// renders). The answer carries the live id it is at least as fresh as; an older answer
// arriving late is ignored. An answer without a row means the case left this page.
(function () {
  "use strict";

  const body = document.body;
  const root = document.getElementById("queue");
  if (!root) return;
  const QUEUE_URL = document.getElementById("queue-filters").getAttribute("action");
  const REFUSALS = [400, 403, 404, 409];
  const PRESENCE_REFRESH = 20000;
  const freshness = {};  // case id -> as_of of the newest row fetch applied
  let selectedId = "";
  let pendingForm = "";  // "reply" or "escalate": open it once the case's detail has loaded
  let presence = { caseId: "", doing: "" };
  let presenceTimer = null;
  let gPressedAt = 0;

  function csrfToken() {
    try { return JSON.parse(body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  // --- Refusals are shown where they happened ------------------------------------------

  body.addEventListener("htmx:beforeSwap", function (event) {
    if (REFUSALS.indexOf(event.detail.xhr.status) < 0) return;
    const elt = event.detail.elt;
    if (elt && elt.closest && elt.closest("[data-swap-errors], #queue, #bulk-form")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // --- Rows and the selection ------------------------------------------------------------

  function list() { return document.getElementById("queue-rows"); }
  function rows() {
    const ol = list();
    return ol ? Array.from(ol.querySelectorAll(":scope > li.case:not(.gone)")) : [];
  }
  function selected() {
    const row = selectedId ? document.getElementById(selectedId) : null;
    return row && row.matches("li.case:not(.gone)") ? row : null;
  }

  function select(row, scroll) {
    document.querySelectorAll("#queue-rows > li.case.selected").forEach(function (r) {
      r.classList.remove("selected");
      r.removeAttribute("aria-current");
    });
    selectedId = row ? row.id : "";
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-current", "true");
    if (scroll) {
      row.scrollIntoView({ block: "nearest" });
      row.focus({ preventScroll: true });
    }
  }

  // After a swap or a sync the selected row may be gone: select its neighbour.
  function keepSelection(neighbour) {
    const row = selected();
    if (row) return select(row);
    const all = rows();
    if (!all.length) return select(null);
    const stub = selectedId ? document.getElementById(selectedId) : null;  // e.g. the row just closed
    if (stub && !neighbour) {
      let next = stub.nextElementSibling;
      while (next && !next.matches("li.case:not(.gone)")) next = next.nextElementSibling;
      let previous = stub.previousElementSibling;
      while (previous && !previous.matches("li.case:not(.gone)")) previous = previous.previousElementSibling;
      neighbour = next || previous;
    }
    if (neighbour && neighbour.isConnected && neighbour.matches("li.case:not(.gone)")) return select(neighbour);
    select(all[0]);
  }

  function sortKey(row) {
    const due = row.dataset.dueTs ? Number(row.dataset.dueTs) : Infinity;
    return [due, Number(row.dataset.case)];
  }

  function insertSorted(row) {
    const ol = list();
    const key = sortKey(row);
    const after = rows().find(function (other) {
      if (other === row) return false;
      const k = sortKey(other);
      return k[0] > key[0] || (k[0] === key[0] && k[1] > key[1]);
    });
    ol.insertBefore(row, after || null);
  }

  function refreshEmpty() {
    const ol = list();
    if (!ol) return;
    const empty = document.getElementById("queue-empty");
    if (rows().length && empty) empty.remove();
    if (!ol.children.length) {
      const li = document.createElement("li");
      li.id = "queue-empty";
      li.className = "empty muted";
      li.textContent = "No open cases.";
      ol.appendChild(li);
    }
  }

  function applySync(html) {
    const sync = new DOMParser().parseFromString(html, "text/html").querySelector("[data-sync]");
    if (!sync) return;
    const caseId = sync.dataset.case;
    const asOf = Number(sync.dataset.asOf);
    if (freshness[caseId] !== undefined && asOf < freshness[caseId]) return;
    freshness[caseId] = asOf;
    const fresh = sync.querySelector("template").content.querySelector("li.case");
    const old = document.getElementById("case-" + caseId);
    const ol = list();
    if (!ol) return;
    if (old && fresh && Number(old.dataset.version) > Number(fresh.dataset.version)) return;
    const wasSelected = old && old.id === selectedId;
    const neighbour = old ? (old.nextElementSibling || old.previousElementSibling) : null;
    if (fresh) {
      const node = document.importNode(fresh, true);
      if (old) {
        const pick = old.querySelector(".bulk-pick");
        if (pick && pick.checked) node.querySelector(".bulk-pick").checked = true;
        old.remove();
      }
      insertSorted(node);
      htmx.process(node);
      if (wasSelected) select(node);
    } else if (old) {
      old.remove();
    }
    markDetail(caseId, fresh);
    refreshEmpty();
    keepSelection(neighbour);
    tick();
    countBulk();
  }

  // The open detail is a snapshot the reply is checked against: say when it is out of date.
  function markDetail(caseId, fresh) {
    const detail = document.getElementById("case-detail");
    if (!detail || detail.dataset.case !== caseId) return;
    const note = detail.querySelector(".stale-note");
    if (!note) return;
    if (!fresh) {
      note.textContent = "This case left your queue (closed, or sent to another team).";
      note.hidden = false;
    } else if (Number(fresh.dataset.version) > Number(detail.dataset.version)) {
      note.hidden = false;
    }
  }

  body.addEventListener("htmx:configRequest", function (event) {
    const elt = event.detail.elt;
    if (!elt.matches || !elt.matches("[data-queue-sync]")) return;
    const filters = document.getElementById("queue-filters");
    if (!filters) return;
    new FormData(filters).forEach(function (value, name) {
      if (value) event.detail.parameters[name] = value;
    });
  });

  body.addEventListener("htmx:afterRequest", function (event) {
    const loader = event.detail.elt;
    if (!loader.matches || !loader.matches("[data-queue-sync]")) return;
    setTimeout(function () { loader.remove(); }, 0);
    if (event.detail.successful) applySync(event.detail.xhr.responseText);
  });

  body.addEventListener("htmx:afterSettle", function () {
    keepSelection();
    refreshEmpty();
    countBulk();
    tick();
    detailLoaded();
    document.querySelectorAll("#queue-rows > li.case.gone:not([data-timer])").forEach(function (stub) {
      stub.dataset.timer = "1";
      setTimeout(function () { stub.remove(); keepSelection(); refreshEmpty(); }, stub.querySelector(".error") ? 15000 : 3000);
    });
    const message = document.getElementById("queue-message");
    if (message && message.querySelector(".ok") && !message.dataset.cleared) {
      message.dataset.cleared = "1";
      document.querySelectorAll(".bulk-pick:checked").forEach(function (box) { box.checked = false; });
      countBulk();
    }
  });

  // --- Countdowns and presence badges --------------------------------------------------

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function countdown(seconds) {
    const s = Math.abs(Math.round(seconds));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    const core = d ? d + "d " + h + "h" : h ? h + ":" + pad(m) + ":" + pad(s % 60) : m + ":" + pad(s % 60);
    return seconds >= 0 ? core + " left" : core + " overdue";
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("#queue time.due[data-due]").forEach(function (time) {
      const left = (Date.parse(time.dataset.due) - now) / 1000;
      const text = countdown(left);
      if (time.textContent !== text) time.textContent = text;
      time.classList.toggle("overdue", left < 0);
      time.classList.toggle("soon", left >= 0 && left < 300);
      const row = time.closest("li.case");
      if (row) row.classList.toggle("overdue", left < 0);
    });
    document.querySelectorAll("#queue .presence .who[data-until]").forEach(function (who) {
      if (Number(who.dataset.until) * 1000 < now) who.remove();
    });
  }
  setInterval(tick, 1000);

  // You know you are here: your own badge is not shown (the pushed badges are the same for everyone).
  function hideMine() {
    document.querySelectorAll('.presence .who[data-uid="' + root.dataset.me + '"]').forEach(function (who) {
      who.hidden = true;
    });
  }
  hideMine();
  body.addEventListener("htmx:afterSettle", hideMine);
  body.addEventListener("htmx:wsAfterMessage", hideMine);

  // --- The case detail -------------------------------------------------------------------

  function detail() { return document.getElementById("case-detail"); }

  function openDetail(row, form) {
    if (!row) return;
    const d = detail();
    const caseId = row.dataset.case;
    if (form && d && d.dataset.case === caseId && d.querySelector(".stale-note").hidden) return openForm(form);
    pendingForm = form || "";
    htmx.ajax("GET", QUEUE_URL + "?case=" + caseId, { target: "#case-detail", swap: "outerHTML" });
  }

  function openForm(name) {
    const d = detail();
    const box = d && d.querySelector("details." + name + "-box");
    if (!box) return;
    box.open = true;
    const field = box.querySelector(name === "reply" ? "textarea[name=text]" : "select[name=team]");
    if (field) field.focus();
    if (name === "reply") setPresence(d.dataset.case, "replying");
  }

  function closeDetail() {
    const d = detail();
    if (!d || !d.dataset.case) return;
    setPresence("", "");
    delete d.dataset.case;
    d.innerHTML = '<p class="muted">Select a case with <kbd>j</kbd> <kbd>k</kbd> and press <kbd>Enter</kbd> to open it here.</p>';
    const row = selected();
    if (row) row.focus({ preventScroll: true });
  }

  function detailLoaded() {
    const d = detail();
    if (!d || d.dataset.seen) return;
    d.dataset.seen = "1";
    if (!d.dataset.case) return setPresence("", "");
    const form = pendingForm;
    pendingForm = "";
    const reply = d.querySelector("details.reply-box");
    if (form !== "reply") setPresence(d.dataset.case, reply && reply.open ? "replying" : "viewing");
    if (form) openForm(form);
    tick();
  }

  document.addEventListener("toggle", function (event) {
    const box = event.target;
    if (!box.matches || !box.matches("#case-detail details.reply-box")) return;
    const d = detail();
    if (d && d.dataset.case) setPresence(d.dataset.case, box.open ? "replying" : "viewing");
  }, true);

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.matches("#case-detail select.canned") && target.value) {
      const text = target.form.querySelector("textarea[name=text]");
      text.value = target.value;
      text.focus();
    }
    if (target.matches(".bulk-pick")) countBulk();
  });

  document.addEventListener("click", function (event) {
    const target = event.target;
    if (target.closest("#case-detail .detail-close")) return closeDetail();
    const ask = target.closest(".close-ask");
    if (ask) return askClose(ask.closest("li.case"));
    const cancel = target.closest(".close-cancel");
    if (cancel) return cancelClose(cancel.closest("li.case"));
    const row = target.closest("#queue-rows > li.case:not(.gone)");
    if (row && !target.closest("a, button, input")) select(row);
  });

  document.addEventListener("focusin", function (event) {
    const row = event.target.closest && event.target.closest("#queue-rows > li.case:not(.gone)");
    if (row && row.id !== selectedId) select(row);
  });

  // --- Presence --------------------------------------------------------------------------

  // One at a time, in order: "viewing" then "replying" must not arrive the other way round.
  let presenceChain = Promise.resolve();
  function postPresence(caseId, doing, beacon) {
    if (beacon) return sendPresence(caseId, doing, true);
    presenceChain = presenceChain.then(function () { return sendPresence(caseId, doing, false); });
    return presenceChain;
  }

  function sendPresence(caseId, doing, beacon) {
    const data = new FormData();
    data.append("action", doing);
    data.append("case", caseId);
    data.append("csrfmiddlewaretoken", csrfToken());
    if (beacon && navigator.sendBeacon) return navigator.sendBeacon(QUEUE_URL, data);
    return fetch(QUEUE_URL, { method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (doing !== "replying" || !html) return;
        const warning = document.getElementById("case-" + caseId + "-reply-warning");
        const fresh = new DOMParser().parseFromString(html, "text/html").body.firstElementChild;
        if (warning && fresh) warning.replaceWith(document.importNode(fresh, true));
      })
      .catch(function () {});
  }

  function setPresence(caseId, doing) {
    if (presence.caseId === caseId && presence.doing === doing) return;
    if (presence.caseId && presence.caseId !== caseId) postPresence(presence.caseId, "left");
    presence = { caseId: caseId, doing: doing };
    clearInterval(presenceTimer);
    presenceTimer = null;
    if (!caseId) return;
    postPresence(caseId, doing);
    presenceTimer = setInterval(function () { postPresence(presence.caseId, presence.doing); }, PRESENCE_REFRESH);
  }

  window.addEventListener("pagehide", function () {
    if (presence.caseId) postPresence(presence.caseId, "left", true);
  });

  // --- Close with a confirm step, bulk selection ----------------------------------------

  function askClose(row) {
    if (!row) return;
    const confirm = row.querySelector(".close-form .confirm");
    if (!confirm) return;
    confirm.hidden = false;
    row.querySelector(".close-ask").hidden = true;
    confirm.querySelector(".close-confirm").focus();
  }

  function cancelClose(row) {
    if (!row) return false;
    const confirm = row.querySelector(".close-form .confirm");
    if (!confirm || confirm.hidden) return false;
    confirm.hidden = true;
    row.querySelector(".close-ask").hidden = false;
    row.focus({ preventScroll: true });
    return true;
  }

  function countBulk() {
    const label = document.querySelector("#bulk-form .bulk-count");
    if (!label) return;
    const n = document.querySelectorAll("#queue-rows .bulk-pick:checked").length;
    label.textContent = n + " selected";
    document.getElementById("bulk-form").classList.toggle("active", n > 0);
  }

  // --- Keyboard --------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      const box = event.target;
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && box.matches && box.matches("#case-detail textarea")) {
        event.preventDefault();
        box.form.requestSubmit();
      }
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable=true]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.key === "Escape") {
      if (cancelClose(target.closest && target.closest("li.case"))) return;
      if (cancelClose(selected())) return;
      return closeDetail();
    }
    // Enter and Space on a button, a link or a summary do what they do natively.
    if ((event.key === "Enter" || event.key === " ") && target.closest && target.closest("button, a, summary")) return;
    // "g" then a letter belongs to the page navigation (live.js).
    if (event.key === "g") { gPressedAt = Date.now(); return; }
    if (Date.now() - gPressedAt < 1500) { gPressedAt = 0; return; }

    const all = rows();
    const row = selected();
    switch (event.key) {
      case "j":
      case "k": {
        event.preventDefault();
        const i = all.indexOf(row);
        if (i < 0) return select(all[0], true);
        select(all[event.key === "j" ? Math.min(i + 1, all.length - 1) : Math.max(i - 1, 0)], true);
        return;
      }
      case "Enter":
        if (!row) return;
        event.preventDefault();
        openDetail(row);
        return;
      case "a": {
        const form = row && row.querySelector("form.take-form");
        if (!form) return;
        event.preventDefault();
        form.requestSubmit();
        return;
      }
      case "r":
      case "e":
        if (!row) return;
        event.preventDefault();
        openDetail(row, event.key === "r" ? "reply" : "escalate");
        return;
      case "c":
        if (!row) return;
        event.preventDefault();
        askClose(row);
        return;
      case "x": {
        const pick = row && row.querySelector(".bulk-pick");
        if (!pick) return;
        event.preventDefault();
        pick.checked = !pick.checked;
        countBulk();
        return;
      }
    }
  });

  keepSelection();
  detailLoaded();
  tick();
})();
