// Progressive enhancement for the spreadsheet import page; the form works without it.
// On submit: the button is disabled (so a long upload is not sent twice) and a status message,
// announced by screen readers, says the file is being checked and imported.
(function () {
  "use strict";
  var form = document.querySelector("form[data-import-form]");
  var status = document.getElementById("import-status");
  if (!form || !status) { return; }
  var button = form.querySelector("button[type=submit]");
  var sending = false;

  form.addEventListener("submit", function (event) {
    if (sending) { event.preventDefault(); return; }
    sending = true;
    if (button) { button.disabled = true; }
    status.textContent = "Checking and importing\u2026 this can take a minute for large files.";
  });

  // Coming back to the page with the Back button may restore it as it was left: usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    sending = false;
    if (button) { button.disabled = false; }
    status.textContent = "";
  });
})();
