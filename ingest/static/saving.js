// Read your writes: a page that says a record "is being saved" follows it until the processor has it,
// then shows the page as it now is (or says it was refused, with a link to correct it). Without
// JavaScript the notice says to reload. The notice is a role=status region: what changes in it is
// announced, and focus is not moved once the page has loaded.
(function () {
  "use strict";
  var notice = document.querySelector("[data-saving]");
  var refused = document.querySelector("[data-saving-refused]");
  // Like a confirmation (forms.js), a notice shown on load is focused, so every screen reader reads it.
  var first = notice || refused;
  if (first && !document.getElementById("error-summary")) { first.setAttribute("tabindex", "-1"); first.focus(); }
  if (!notice) { return; }
  var main = document.getElementById("main");
  var state = notice.querySelector("[data-saving-state]");
  var address = notice.getAttribute("data-saving-url") + "?ids=" + encodeURIComponent(notice.getAttribute("data-saving"));
  var started = Date.now();
  var LIMIT = 60000;
  var EVERY = 1000;

  // Once someone is using the page it is not swapped under them: what they typed stays (and the page
  // just says it is saved), and focus they moved into the page stays where they put it.
  var typed = false;
  var moved = false;
  var using = function (event) { return event.target !== main && !notice.contains(event.target); };
  ["input", "change"].forEach(function (name) {
    main.addEventListener(name, function (event) { if (using(event)) { typed = true; } });
  });
  main.addEventListener("focusin", function (event) { if (using(event)) { moved = true; } });
  var touched = function () { return typed || moved; };

  var say = function (text) { state.textContent = text; };
  var settle = function (className) {
    notice.classList.remove("notice-info", "notice-saving");
    notice.classList.add(className);
    notice.removeAttribute("data-saving");
  };

  // The page as it is now, below the notice: what was saved shows where it belongs.
  var refresh = function () {
    return fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        if (!fresh || touched()) { throw new Error("not shown"); }
        if (doc.title) { document.title = doc.title; }
        while (notice.nextSibling) { main.removeChild(notice.nextSibling); }
        Array.prototype.slice.call(fresh.childNodes).forEach(function (node) {
          if (node.nodeType === 1 && node.hasAttribute("data-saving")) { return; }  // this notice says it
          main.appendChild(document.importNode(node, true));
        });
        // The forms' enhancements (find boxes, strength choices) for the new content.
        var forms = document.querySelector("script[src*='forms.js']");
        if (forms && main.querySelector("form")) {
          var again = document.createElement("script");
          again.src = forms.src;
          document.body.appendChild(again);
        }
      });
  };

  var saved = function () {
    settle("notice-saved");
    var later = function () { say(typed ? "Saved." : "Saved. Reload the page to see it."); };
    if (touched()) { later(); return; }
    refresh().then(function () { say("Saved."); }, later);
  };

  var rejected = function (answer) {
    settle("notice-error");
    var text = notice.querySelector("[data-saving-text]");
    if (text) { text.textContent = ""; }
    say(answer.message);
    if (answer.problem_url) {
      var link = document.createElement("a");
      link.href = answer.problem_url;
      link.textContent = "Correct it in Needs attention";
      state.appendChild(document.createTextNode(" "));
      state.appendChild(link);
    }
  };

  var ask = function () {
    if (Date.now() - started > LIMIT) { say("Still being saved: reload the page later."); return; }
    fetch(address, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404 || response.status === 400) { throw new Error("unknown"); }
        return response.json();
      })
      .then(function (answer) {
        if (answer.state === "saved") { saved(); return; }
        if (answer.state === "rejected") { rejected(answer); return; }
        if (answer.message && state.textContent !== answer.message) { say(answer.message); }
        setTimeout(ask, EVERY);
      })
      .catch(function (error) {
        if (error && error.message === "unknown") { say("Reload the page to see whether it is saved."); return; }
        setTimeout(ask, EVERY);  // signed out, or the service busy: ask again, until the limit
      });
  };
  setTimeout(ask, EVERY);
})();
