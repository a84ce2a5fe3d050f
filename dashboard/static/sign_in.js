// The sign-in page works without this. With it, focus moves to the error summary, so screen-reader and
// keyboard users hear the problem first (as on ingest's forms).
(function () {
    "use strict";
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
})();
