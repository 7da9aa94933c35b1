// The lead's queue switch in every page's header: "Pause everything" opens a dialog that
// asks for a reason; a refusal (400/403/409) is swapped in like any answer so its message shows.
(function () {
  "use strict";
  const dialog = document.getElementById("pause-dialog");
  if (!dialog) return;

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    if ([400, 403, 404, 409].indexOf(status) >= 0 && event.detail.elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-open-pause]")) {
      dialog.showModal();
      const reason = dialog.querySelector("input[name=reason]");
      if (reason) reason.focus();
    } else if (event.target.closest("[data-close-pause]")) {
      dialog.close();
    }
  });

  dialog.addEventListener("close", function () {
    const done = dialog.querySelector("[data-paused]");
    if (done) done.remove();
  });

  document.body.addEventListener("htmx:afterSettle", function () {
    if (dialog.open && dialog.querySelector("[data-paused]")) {
      setTimeout(function () { dialog.close(); }, 800);
    }
  });
})();
