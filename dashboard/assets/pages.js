// After the callback has drawn a page: name it in the tab's title (2.4.2), move focus to its heading when
// the reader moved to another page (so screen readers start there, as on a page load), and announce a new
// view of the same page through the status region. Loaded from this server, so the CSP allows it.
(function () {
    var lastPath = null;
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        impact: {
            pageChanged: function (meta) {
                if (!meta) { return window.dash_clientside.no_update; }
                document.title = meta.title + " – Involvement Impact";
                var first = lastPath === null;
                var moved = !first && lastPath !== meta.path;
                lastPath = meta.path;
                if (moved) {
                    window.setTimeout(function () {
                        var heading = document.getElementById("page-title");
                        if (heading) { heading.focus(); }
                    }, 0);
                }
                return first ? "" : meta.title + ": figures updated.";
            },
        },
    });
})();
