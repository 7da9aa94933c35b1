// Who is in the room: pushes of the list can reach a page out of order (they are sent from
// different threads); each carries its live event id, and an older one never replaces a newer.
(function () {
  "use strict";
  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "room-presence") return;
    const incoming = event.detail.fragment && event.detail.fragment.querySelector("#room-presence");
    if (incoming && Number(incoming.dataset.seq || 0) < Number(target.dataset.seq || 0)) {
      event.detail.shouldSwap = false;
    }
  });
})();
