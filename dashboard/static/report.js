// The annual report's "Print or save as PDF" button: shown only when this script runs (without it the button
// would do nothing), and opens the browser's print dialog, whose destinations include Save as PDF.
(function () {
    "use strict";
    var button = document.getElementById("print-report");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
})();
