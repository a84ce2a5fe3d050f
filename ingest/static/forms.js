// Progressive enhancement for the staff forms; every form works without it.
(function () {
  "use strict";
  // Move focus to the error summary so screen-reader and keyboard users hear the problems first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  // After a redirect, a confirmation shown on load is not announced by every screen reader: focus it.
  var notice = document.querySelector(".notice-success");
  if (notice && !summary) { notice.setAttribute("tabindex", "-1"); notice.focus(); }

  // "Find" boxes above long lists of checkboxes: hide the items that do not match what is typed. When the
  // organisation has more than the list holds (data-search-url), also ask the server, and add a box to tick
  // for each match it finds. Without JavaScript, the box's Search button asks the server instead.
  document.querySelectorAll("[data-filter-for]").forEach(function (box) {
    var list = document.getElementById(box.getAttribute("data-filter-for"));
    var input = box.querySelector("input[type=search]");
    var status = box.querySelector("[role=status]");
    if (!list || !input) { return; }
    var url = box.getAttribute("data-search-url");
    var field = box.getAttribute("data-search-field") || "";
    var already = (box.getAttribute("data-already") || "").split(" ").filter(Boolean);
    var button = box.querySelector("button[name=picker-search]");
    var items = function () { return Array.prototype.slice.call(list.querySelectorAll("[data-search]")); };
    var total = items().length;
    var timer = null;
    var asked = input.value.trim().replace(/\s+/g, " ");  // a search without JavaScript has listed these
    var filter = function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      items().forEach(function (item) {
        var text = item.getAttribute("data-search").toLowerCase();
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        var checked = item.querySelector("input[type=checkbox]:checked");
        item.hidden = !(match || checked);  // a ticked item stays visible, so no choice is hidden
        if (!item.hidden) { shown += 1; }
      });
      return { words: words, shown: shown };
    };
    var announce = function (text) {
      if (!status) { return; }
      clearTimeout(timer);  // announce once typing pauses, not on every key
      timer = setTimeout(function () { status.textContent = text; }, 400);
    };
    var boxFor = function (id) {
      return items().filter(function (item) {
        var tick = item.querySelector("input[type=checkbox]");
        return tick && tick.value === id;
      })[0];
    };
    var added = 0;
    var build = function (match) {
      added += 1;
      var ident = field + "-found-" + added;
      var choice = document.createElement("div");
      choice.className = "choice";
      var tick = document.createElement("input");
      tick.type = "checkbox";
      tick.id = ident;
      tick.name = field;
      tick.value = match.id;
      var text = document.createElement("label");
      text.htmlFor = ident;
      var detail = document.createElement("span");
      detail.className = "hint-inline";
      choice.appendChild(tick);
      choice.appendChild(text);
      if (field === "links") {  // a contribution: what was said, who, when, and its strength of influence
        var said = document.createElement("span");
        said.className = "said";
        said.textContent = "\u201c" + (match.text.length > 180 ? match.text.slice(0, 177) + "..." : match.text) + "\u201d";
        detail.textContent = (match.people.join(", ") || "Unknown") + ", " + match.made_on + ", " + match.area;
        text.appendChild(said);
        text.appendChild(document.createTextNode(" "));
        text.appendChild(detail);
        var group = document.createElement("div");
        group.className = "choice-group";
        group.setAttribute("data-search", [match.text, match.people.join(" "), match.area, match.id].join(" "));
        group.setAttribute("data-added", "");
        group.appendChild(choice);
        var options = document.getElementById(field + "-strength-options");
        if (options) {
          var strength = document.createElement("div");
          strength.className = "strength";
          var name = document.createElement("label");
          name.htmlFor = ident + "-strength";
          name.textContent = "Strength of influence";
          var hidden = document.createElement("span");
          hidden.className = "visually-hidden";
          hidden.textContent = " of this contribution";
          name.appendChild(hidden);
          var select = document.createElement("select");
          select.id = ident + "-strength";
          select.name = "strength-" + match.id;
          select.appendChild(document.importNode(options.content, true));
          strength.appendChild(name);
          strength.appendChild(select);
          group.appendChild(strength);
          var sync = function () { strength.hidden = !tick.checked; };
          tick.addEventListener("change", sync);
          sync();
        }
        return group;
      }
      text.textContent = match.name + " ";
      var recorded = already.indexOf(match.id) !== -1;
      detail.textContent = "(" + match.reference + (recorded ? ", already recorded" : "") + ")";
      text.appendChild(detail);
      tick.disabled = recorded;
      choice.setAttribute("data-search", match.name + " " + match.reference);
      choice.setAttribute("data-added", "");
      return choice;
    };
    var ask = function () {
      var query = input.value.trim().replace(/\s+/g, " ");
      if (query === asked) { return; }
      asked = query;
      // Boxes a previous search added go, unless ticked.
      list.querySelectorAll("[data-added]").forEach(function (item) {
        if (!item.querySelector("input[type=checkbox]:checked")) { item.parentNode.removeChild(item); }
      });
      var local = filter();
      if (!query) { announce(""); return; }
      var address = url + (url.indexOf("?") === -1 ? "?" : "&") + "q=" + encodeURIComponent(query);
      fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (answer) {
          if (query !== asked) { return; }  // a later search has started: this answer is stale
          if (!answer.ok) { announce(answer.body.message || "The search could not be done."); return; }
          answer.body.matches.forEach(function (match) {
            var found = boxFor(match.id);
            if (found) { found.hidden = false; } else { list.appendChild(build(match)); }
          });
          announce(answer.body.message);
        })
        .catch(function () {
          if (query !== asked) { return; }
          announce(local.shown + " of " + total + " listed here match; the search of everyone could not be done just now.");
        });
    };
    var searchSoon = null;
    input.addEventListener("input", function () {
      if (!url) {
        var local = filter();
        announce(local.words.length ? local.shown + " of " + total + " shown" : "");
        return;
      }
      filter();
      clearTimeout(searchSoon);
      searchSoon = setTimeout(ask, 250);
    });
    // Enter in a find box searches (at once); it never sends the whole form.
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      if (url) { clearTimeout(searchSoon); ask(); }
    });
    if (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        clearTimeout(searchSoon);
        asked = null;  // search again, even for the same words
        ask();
        input.focus();
      });
    }
  });

  // Show a strength choice only for the contributions that are ticked.
  document.querySelectorAll("[data-strength-for]").forEach(function (strength) {
    var box = document.getElementById(strength.getAttribute("data-strength-for"));
    if (!box) { return; }
    var sync = function () { strength.hidden = !box.checked; };
    box.addEventListener("change", sync);
    sync();
  });
})();
