// Approvals page: keyboard answers (j/k move, y Yes, n No with a reason), the live sync of
// request cards and "My posts" rows, the count in the tab title, and the 280 counter.
//
// A live post event drops a loader into #approvals-sync that fetches what the post now looks
// like for this user (the same partials the page renders). The answer carries the live id it
// is at least as fresh as; an older answer arriving late is ignored.
(function () {
  "use strict";

  const body = document.body;
  const list = document.getElementById("requests");
  const TITLE = "Approvals · Warroom";
  const freshness = {};  // post id -> as_of of the newest sync applied
  let countAsOf = Number(body.dataset.liveAfter || 0);
  let selected = null;
  let selectedId = "";
  let gPressedAt = 0;

  // --- Cards --------------------------------------------------------------------------

  function cards() {
    return list ? Array.from(list.querySelectorAll(".approval-item:not(.answered)")) : [];
  }

  function select(card, scroll) {
    if (selected) selected.classList.remove("selected");
    selected = card || null;
    selectedId = selected ? selected.id : "";
    if (!selected) return;
    selected.classList.add("selected");
    if (scroll) {
      selected.scrollIntoView({ block: "nearest" });
      selected.focus({ preventScroll: true });
    }
  }

  // After a swap or a sync the selected card may be gone: select what took its place.
  function keepSelection() {
    if (!list || (selected && selected.isConnected && !selected.classList.contains("answered"))) return;
    const same = selectedId ? document.getElementById(selectedId) : null;
    if (same && !same.classList.contains("answered") && list.contains(same)) return select(same);
    let next = same;
    while (next && next.nextElementSibling) {
      next = next.nextElementSibling;
      if (next.matches(".approval-item:not(.answered)")) return select(next);
    }
    select(cards()[0]);
  }

  function insertSorted(card) {
    const key = card.dataset.sort || "";
    const after = Array.from(list.children).find(function (other) {
      return (other.dataset.sort || "") > key;
    });
    list.insertBefore(card, after || null);
  }

  function setCount(n) {
    const badge = document.getElementById("approvals-count");
    if (badge) badge.textContent = String(n);
    document.title = (n > 0 ? "(" + n + ") " : "") + TITLE;
  }

  function carryTyping(from, to) {
    from.querySelectorAll("input[name], textarea[name]").forEach(function (old) {
      if (old.type === "hidden" || old.value === old.defaultValue) return;
      const twin = to.querySelector(old.tagName.toLowerCase() + '[name="' + old.name + '"]');
      if (twin && twin.type !== "hidden") twin.value = old.value;
    });
    from.querySelectorAll("details[open]").forEach(function (open) {
      const twin = to.querySelector("details." + Array.from(open.classList).join("."));
      if (twin) twin.open = true;
    });
  }

  function applySync(html) {
    const root = new DOMParser().parseFromString(html, "text/html").querySelector("[data-sync]");
    if (!root) return;
    const post = root.dataset.post;
    const asOf = Number(root.dataset.asOf);
    if (freshness[post] !== undefined && asOf < freshness[post]) return;
    freshness[post] = asOf;

    if (list) {
      const fresh = Array.from(root.querySelector("template[data-items]").content.children);
      const ids = new Set(fresh.map(function (card) { return card.id; }));
      list.querySelectorAll('.approval-item[data-post-id="' + post + '"]').forEach(function (old) {
        if (!ids.has(old.id)) old.remove();
      });
      fresh.forEach(function (card) {
        const old = document.getElementById(card.id);
        if (old && old.dataset.version === card.dataset.version) return;
        const node = document.importNode(card, true);
        if (old) {
          carryTyping(old, node);
          old.replaceWith(node);
        } else {
          insertSorted(node);
        }
        htmx.process(node);
      });
      if (root.dataset.count !== "" && asOf >= countAsOf) {
        countAsOf = asOf;
        setCount(Number(root.dataset.count));
      }
      keepSelection();
    }

    const rows = document.getElementById("my-posts");
    if (rows) {
      Array.from(root.querySelector("template[data-rows]").content.children).forEach(function (row) {
        const old = document.getElementById(row.id);
        if (old && old.dataset.version === row.dataset.version) return;
        const node = document.importNode(row, true);
        if (old) {
          carryTyping(old, node);
          old.replaceWith(node);
        } else {
          rows.insertBefore(node, rows.firstElementChild);
        }
        htmx.process(node);
      });
    }
  }

  body.addEventListener("htmx:afterRequest", function (event) {
    const loader = event.detail.elt;
    if (!loader.matches || !loader.matches("[data-approvals-sync]")) return;
    setTimeout(function () { loader.remove(); }, 0);
    if (event.detail.successful && loader.getAttribute("hx-swap") === "none") {
      applySync(event.detail.xhr.responseText);
    }
  });

  body.addEventListener("htmx:wsAfterMessage", function (event) {
    if (event.detail.message.indexOf("data-approvals-sync") >= 0) {
      body.dispatchEvent(new CustomEvent("approvals:changed"));  // the calendar refreshes on it
    }
    const sink = document.getElementById("approvals-sync");
    while (sink && sink.children.length > 50) sink.firstElementChild.remove();
  });

  body.addEventListener("htmx:afterSettle", function () {
    keepSelection();
    // An answer's confirmation stays a moment; the live sync removes it too.
    document.querySelectorAll(".approval-item.answered:not([data-timer])").forEach(function (stub) {
      stub.dataset.timer = "1";
      setTimeout(function () { stub.remove(); }, stub.querySelector(".error") ? 15000 : 4000);
    });
    // A row added by the composer and by the live sync at once: keep the first.
    const seen = new Set();
    document.querySelectorAll("#my-posts > li").forEach(function (row) {
      if (seen.has(row.id)) row.remove(); else seen.add(row.id);
    });
  });

  // --- Keyboard -----------------------------------------------------------------------

  if (list) {
    select(cards()[0]);
    list.addEventListener("click", function (event) {
      const card = event.target.closest(".approval-item:not(.answered)");
      if (card && card !== selected) select(card);
    });
  }

  document.addEventListener("keydown", function (event) {
    if (!list || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable=true]")) {
      if (event.key === "Escape" && target.name === "reason") target.blur();
      return;
    }
    // "g" then a letter belongs to the page navigation (live.js).
    if (event.key === "g") { gPressedAt = Date.now(); return; }
    if (Date.now() - gPressedAt < 1500) { gPressedAt = 0; return; }
    const all = cards();
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      const i = all.indexOf(selected);
      if (i < 0) return select(all[0], true);
      select(all[event.key === "j" ? Math.min(i + 1, all.length - 1) : Math.max(i - 1, 0)], true);
    } else if (event.key === "y" && selected) {
      const form = selected.querySelector("form.approve-form");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
    } else if (event.key === "n" && selected) {
      const reason = selected.querySelector("form.reject-form input[name=reason]");
      if (reason) {
        event.preventDefault();
        reason.focus();
      }
    }
  });

  // --- Counter ------------------------------------------------------------------------

  document.addEventListener("input", function (event) {
    const box = event.target;
    if (!box.matches || !box.matches("textarea[data-counter]")) return;
    const counter = box.parentElement.querySelector("output.counter");
    if (!counter) return;
    const n = Array.from(box.value.trim()).length;  // code points, as the server counts
    counter.textContent = n + "/280";
    counter.classList.toggle("over", n > 280);
  });
})();
