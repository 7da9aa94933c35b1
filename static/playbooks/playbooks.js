// Playbooks pages: the cockpit's live board (refetched when a scenario, post, drill or queue
// event arrives), the fire confirmation (click or keyboard: j/k select, f fire, Enter
// confirms, Esc cancels, x skips the top suggestion), refusals shown in place, and the
// run-of-show's current moment kept up to date.
(function () {
  "use strict";

  const body = document.body;
  const REFUSALS = [400, 403, 404, 409];
  const cockpit = document.getElementById("cockpit");
  const dialog = document.getElementById("fire-dialog");
  let selected = null;
  let refreshTimer = null;

  body.addEventListener("htmx:beforeSwap", function (event) {
    if (REFUSALS.indexOf(event.detail.xhr.status) >= 0 && event.detail.elt.closest("[data-swap-errors], #board")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // --- Live board ---------------------------------------------------------------------
  function refreshBoard() {
    if (!cockpit || !window.htmx) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      if (dialog && dialog.open) return refreshBoard();  // never pull the board from under a confirmation
      htmx.ajax("GET", cockpit.dataset.boardUrl, { target: "#board", swap: "outerHTML" });
    }, 150);
  }
  body.addEventListener("htmx:wsAfterMessage", function (event) {
    if (/class="event event-(scenario|post|drill|queue)/.test(event.detail.message || "")) refreshBoard();
  });
  body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "board") select(null);
  });
  body.addEventListener("htmx:afterRequest", function (event) {
    if (dialog && dialog.open && event.detail.elt.id === "fire-form") dialog.close();
  });

  // --- Fire with a confirmation -------------------------------------------------------
  function fireButtons() {
    return Array.from(document.querySelectorAll("#board .fire-button"));
  }
  function select(button) {
    if (selected) selected.classList.remove("selected");
    selected = button && button.isConnected ? button : null;
    if (selected) {
      selected.classList.add("selected");
      selected.focus();
    }
  }
  function confirmFire(button) {
    if (!dialog || !button) return;
    const card = button.closest(".variant");
    dialog.querySelector('[data-field="scenario"]').textContent = "\u201c" + button.dataset.scenarioName + "\u201d";
    dialog.querySelector('[data-field="account"]').textContent = button.dataset.account;
    dialog.querySelector('[data-field="text"]').textContent = card.querySelector(".post-text").textContent;
    dialog.querySelector('input[name="variant"]').value = button.dataset.fire;
    dialog.querySelector('input[name="suggestion"]').value = button.dataset.suggestion || "";
    dialog.showModal();
    dialog.querySelector("button.fire").focus();
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest(".fire-button");
    if (button && dialog) {
      event.preventDefault();
      select(button);
      confirmFire(button);
      return;
    }
    if (event.target.closest("[data-close]") && dialog) dialog.close();
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable=true]")) return;
    if (dialog && dialog.open) return;  // Enter fires (the focused button), Esc cancels: the dialog's own keys
    const link = event.key === "l" && document.querySelector('a[data-keys="l"]');
    if (link) { window.location.href = link.href; return; }
    if (!cockpit) return;
    const buttons = fireButtons();
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      if (!buttons.length) return;
      let i = buttons.indexOf(selected);
      i = event.key === "j" ? Math.min(buttons.length - 1, i + 1) : Math.max(0, i - 1);
      select(buttons[i]);
    } else if (event.key === "f") {
      event.preventDefault();
      const lit = document.querySelector("#board .scenario-card.lit .fire-button");
      confirmFire(selected && selected.isConnected ? selected : (lit || buttons[0]));
    } else if (event.key === "x") {
      const skip = document.querySelector("#board .scenario-card.lit button.skip");
      if (skip) { event.preventDefault(); skip.click(); }
    }
  });

  // --- Run-of-show: the moment that has begun most recently ----------------------------
  function markNow() {
    const moments = Array.from(document.querySelectorAll(".run-of-show .moment"));
    const now = Date.now();
    let current = null;
    moments.forEach(function (m) { if (Date.parse(m.dataset.at) <= now) current = m; });
    moments.forEach(function (m) {
      m.classList.toggle("now", m === current);
      if (m === current) m.setAttribute("aria-current", "step"); else m.removeAttribute("aria-current");
    });
  }
  markNow();
  setInterval(markNow, 15000);
})();
