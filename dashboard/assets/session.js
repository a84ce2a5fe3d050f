// When the session ends while the page is open (signed out in another tab, or the password changed), the
// server answers Dash's requests with 401 and an X-Sign-In header: open the sign-in page, coming back
// here afterwards, rather than leave figures on screen that no longer update.
(function () {
    var originalFetch = window.fetch;
    if (!originalFetch) { return; }
    window.fetch = function () {
        return originalFetch.apply(window, arguments).then(function (response) {
            var signIn = response.status === 401 && response.headers.get("X-Sign-In");
            if (signIn) {
                var here = window.location.pathname + window.location.search;
                window.location.assign(signIn + "?next=" + encodeURIComponent(here));
            }
            return response;
        });
    };
})();
