// The composer: removing an attached file, and telling the previews (rendered by the
// server, counted as each network counts: networks/limits.py) that the attachments changed.
// The previews themselves follow typing through htmx (hx-trigger on #previews).
(function () {
  "use strict";

  function changed() {
    document.body.dispatchEvent(new CustomEvent("media-changed", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    const remove = event.target.closest("#composer .remove-media");
    if (!remove) return;
    event.preventDefault();
    const item = remove.closest(".attached-file");
    if (item) item.remove();
    changed();
  });

  // Opening an account's own text, or choosing an account, shows its preview at once.
  document.addEventListener("toggle", function (event) {
    if (event.target.matches && event.target.matches("#composer details.own-text")) changed();
  }, true);
})();
