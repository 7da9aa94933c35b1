// The lead's queue switch in every page's header: "Pause everything" opens a dialog that
// asks for a reason; a refusal shows in place (data-swap-errors, handled in warroom/live.js).
(function () {
  "use strict";
  const dialog = document.getElementById("pause-dialog");
  if (!dialog) return;

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
