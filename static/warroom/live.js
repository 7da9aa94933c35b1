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

  body.addEventListener("htmx:wsAfterMessage", function () {
    const rail = document.getElementById("room-events");
    if (!rail) return;
    const empty = document.getElementById("room-events-empty");
    if (empty) empty.remove();
    // Pushes from different processes can arrive out of id order: keep newest first.
    const items = Array.from(rail.children);
    const sorted = items.slice().sort(function (a, b) {
      return Number(b.dataset.liveId) - Number(a.dataset.liveId);
    });
    if (sorted.some(function (item, i) { return item !== items[i]; })) {
      sorted.forEach(function (item) { rail.appendChild(item); });
    }
    while (rail.children.length > MAX_RAIL_ITEMS) rail.lastElementChild.remove();
    document.querySelectorAll("#toasts .toast:not([data-timer])").forEach(function (toast) {
      toast.dataset.timer = "1";
      const stay = toast.classList.contains("toast-urgent") ? 30000 : 8000;
      setTimeout(function () { toast.remove(); }, stay);
      toast.addEventListener("click", function () { toast.remove(); });
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
