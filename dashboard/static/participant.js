// The participant page's "Print this page" button: shown only when this script runs (without it the button
// would do nothing), and opens the browser's print dialog. A file of its own: the CSP allows no inline script.
(function () {
    "use strict";
    var button = document.getElementById("print-page");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
})();
