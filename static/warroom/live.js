// Warroom page script: keeps the room socket's cursor, shows the connection state, and
// gives every page its keyboard shortcuts.
//
// The server marks each pushed message with "<!--live id=N-->" (an event) or
// "<!--live verified=N-->" (every event up to N has been sent). The page drops any event
// it already applied, and on every (re)connect says hello with the last verified id, so
// the server replays exactly what the page missed.
(function () {
  "use strict";

  const body = document.body;
  const dot = document.getElementById("connection");
  const applied = new Set();
  let verified = Number(body.dataset.liveAfter || 0);
  let ownRetries = 0;
  let wasOpen = false;

  const RECONNECTING_CODES = [1006, 1011, 1012, 1013];
  const MAX_RAIL_ITEMS = 200;

  function setDot(state, label) {
    if (!dot) return;
    dot.className = "dot dot-" + state;
    dot.title = label;
    dot.querySelector(".dot-label").textContent = state.replace("-", " ");
    body.dataset.connection = state;
  }

  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retry) {
      return Math.min(250 * Math.pow(2, retry), 5000) * (0.5 + Math.random() / 2);
    };
  }

  body.addEventListener("htmx:wsConnecting", function () {
    setDot(wasOpen ? "reconnecting" : "connecting", "Connecting to the room");
  });

  body.addEventListener("htmx:wsOpen", function (event) {
    ownRetries = 0;
    wasOpen = true;
    setDot("live", "Live: changes arrive as they happen");
    event.detail.socketWrapper.send(JSON.stringify({ type: "hello", after: verified, page: window.location.pathname }));
  });

  // Close codes from warroom/consumers.py.
  const SIGNED_OUT = [4401, 4410]; // no valid session, or this session signed out
  const FORBIDDEN = 4403;
  const ACCESS_CHANGED = 4409; // password, activation, groups or session changed: the next connect decides
  const TOO_MANY = 4429; // this user already holds as many sockets as the server allows
  let lastAccessChange = 0;
  let accessRetries = 0;

  function signedOut() {
    setDot("signed-out", "You are signed out: this page no longer receives updates");
    const banner = document.getElementById("signed-out");
    if (banner) banner.hidden = false;
  }

  body.addEventListener("htmx:wsClose", function (event) {
    const code = event.detail.event.code;
    const wrapper = event.detail.socketWrapper;
    if (SIGNED_OUT.indexOf(code) >= 0) {
      signedOut(); // and no reconnect: nothing would let this page read again but signing in
      return;
    }
    if (code === FORBIDDEN) {
      setDot("offline", "Your role cannot join the room");
      return;
    }
    if (code === TOO_MANY) {
      setDot("offline", "Too many room pages open: close some; this one tries again every 30 s");
      setTimeout(function () { wrapper.reconnect(); }, 30000);
      return;
    }
    setDot("reconnecting", "Connection lost; reconnecting");
    if (code === ACCESS_CHANGED) {
      // At once the first time; if the server keeps closing, back off rather than spin.
      const now = Date.now();
      accessRetries = now - lastAccessChange < 60000 ? accessRetries + 1 : 0;
      lastAccessChange = now;
      setTimeout(function () { wrapper.reconnect(); }, accessRetries ? Math.min(1000 * Math.pow(2, accessRetries), 30000) : 0);
      return;
    }
    if (RECONNECTING_CODES.indexOf(code) < 0) {
      // The extension only retries on abnormal closes; a server restart (1001) retries too.
      const delay = Math.min(250 * Math.pow(2, ownRetries++), 5000);
      setTimeout(function () { wrapper.reconnect(); }, delay);
    }
  });

  body.addEventListener("htmx:wsBeforeMessage", function (event) {
    const marker = /^<!--live (?:(id|verified)=(\d+)|(reload))-->/.exec(event.detail.message);
    if (!marker) return;
    if (marker[3]) {
      event.preventDefault();
      window.location.reload();
      return;
    }
    const n = Number(marker[2]);
    if (marker[1] === "verified") {
      event.preventDefault();
      if (n > verified) {
        verified = n;
        applied.forEach(function (id) { if (id <= verified) applied.delete(id); });
      }
      body.dataset.liveVerified = String(verified);
      return;
    }
    if (n <= verified || applied.has(n)) {
      event.preventDefault();
      return;
    }
    applied.add(n);
    body.dataset.liveLast = String(n);
  });

  // The activity rail: one item per id (a group of like events is re-rendered with its
  // new count under the same id: the newest render replaces the older one where it stood),
  // pinned items on top, then newest first, filtered by kind on this page.
  const PINS_KEY = "warroom.rail.pins";
  function pins() {
    try { return new Set(JSON.parse(window.localStorage.getItem(PINS_KEY) || "[]")); } catch (e) { return new Set(); }
  }
  function savePins(set) {
    try { window.localStorage.setItem(PINS_KEY, JSON.stringify(Array.from(set).slice(-50))); } catch (e) { /* private mode */ }
  }
  const railFilter = document.getElementById("rail-filter");

  function tidyRail() {
    const rail = document.getElementById("room-events");
    if (!rail) return;
    const empty = document.getElementById("room-events-empty");
    if (empty && rail.querySelector("li.event")) empty.remove();
    const seen = {};
    Array.from(rail.querySelectorAll("li.event")).forEach(function (item) {
      const other = seen[item.id];
      if (!other) { seen[item.id] = item; return; }
      const newer = Number(item.dataset.liveId) > Number(other.dataset.liveId) ? item : other;
      const older = newer === item ? other : item;
      older.replaceWith(newer);
      seen[item.id] = newer;
    });
    const pinned = pins();
    const items = Array.from(rail.children);
    items.forEach(function (item) {
      const on = pinned.has(item.id);
      item.classList.toggle("pinned", on);
      const button = item.querySelector("[data-pin]");
      if (button) { button.setAttribute("aria-pressed", on ? "true" : "false"); button.textContent = on ? "unpin" : "pin"; }
    });
    const rank = function (item) { return pinned.has(item.id) ? 1 : 0; };
    // Pushes from different processes can arrive out of id order: keep newest first.
    const sorted = items.slice().sort(function (a, b) {
      return rank(b) - rank(a) || Number(b.dataset.liveId || 0) - Number(a.dataset.liveId || 0);
    });
    if (sorted.some(function (item, i) { return item !== items[i]; })) {
      sorted.forEach(function (item) { rail.appendChild(item); });
    }
    while (rail.children.length > MAX_RAIL_ITEMS && !rail.lastElementChild.classList.contains("pinned")) {
      rail.lastElementChild.remove();
    }
    const kind = railFilter ? railFilter.value : "";
    rail.querySelectorAll("li.event").forEach(function (item) {
      item.hidden = Boolean(kind) && (item.dataset.kind || "").split(".")[0] !== kind && !item.classList.contains("pinned");
    });
  }

  if (railFilter) railFilter.addEventListener("change", tidyRail);
  document.addEventListener("click", function (event) {
    const button = event.target.closest("#room-events [data-pin]");
    if (!button) return;
    const item = button.closest("li.event");
    const set = pins();
    if (set.has(item.id)) set.delete(item.id); else set.add(item.id);
    savePins(set);
    tidyRail();
  });
  tidyRail();

  const myRoles = (body.dataset.roles || "").split(" ");
  body.addEventListener("htmx:wsAfterMessage", function () {
    tidyRail();
    document.querySelectorAll("#toasts .toast:not([data-timer])").forEach(function (toast) {
      // A toast is for whoever must decide: one addressed to other roles is dropped, and
      // a group's toast is shown once however often the group is re-rendered.
      const forRole = toast.dataset.toastFor;
      const key = toast.dataset.toast;
      if ((forRole && myRoles.indexOf(forRole) < 0) ||
          (key && document.querySelectorAll('#toasts .toast[data-toast="' + key + '"]').length > 1)) {
        toast.remove();
        return;
      }
      toast.dataset.timer = "1";
      const stay = toast.classList.contains("toast-urgent") ? 30000 : 8000;
      setTimeout(function () { toast.remove(); }, stay);
      toast.addEventListener("click", function (event) { if (!event.target.closest("a")) toast.remove(); });
    });
  });

  // Keyboard: "?" lists the keys; "g" then a letter goes to a page.
  const shortcuts = document.getElementById("shortcuts");
  let pendingG = false;
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=true]") !== null;
  }
  document.querySelectorAll("[data-open-shortcuts]").forEach(function (button) {
    button.addEventListener("click", function () { shortcuts.showModal(); });
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "?" && shortcuts) {
      event.preventDefault();
      if (shortcuts.open) shortcuts.close(); else shortcuts.showModal();
      return;
    }
    if (pendingG) {
      pendingG = false;
      const link = document.querySelector('nav a[data-keys="g ' + event.key + '"]');
      if (link) {
        event.preventDefault();
        window.location.href = link.href;
      }
      return;
    }
    if (event.key === "g") {
      pendingG = true;
      setTimeout(function () { pendingG = false; }, 1500);
    }
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // htmx 2 does not swap 4xx answers. A form marked data-swap-errors shows its refusal
  // (the partial with the message a view returns with 400, 403, 404 or 409) in place.
  body.addEventListener("htmx:beforeSwap", function (event) {
    if ([400, 403, 404, 409].indexOf(event.detail.xhr.status) >= 0 && event.detail.elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  if (!body.hasAttribute("ws-connect")) setDot("offline", "Not connected on this page");
})();
