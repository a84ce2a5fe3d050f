// Progressive enhancement for the staff forms; every form works without it.
(function () {
  "use strict";
  // Move focus to the error summary so screen-reader and keyboard users hear the problems first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  // After a redirect, a confirmation shown on load is not announced by every screen reader: focus it.
  var notice = document.querySelector(".notice-success");
  if (notice && !summary) { notice.setAttribute("tabindex", "-1"); notice.focus(); }

  // "Find" boxes above long lists of checkboxes: hide the items that do not match what is typed.
  document.querySelectorAll("[data-filter-for]").forEach(function (box) {
    var list = document.getElementById(box.getAttribute("data-filter-for"));
    var input = box.querySelector("input[type=search]");
    var status = box.querySelector("[role=status]");
    if (!list || !input) { return; }
    var items = Array.prototype.slice.call(list.querySelectorAll("[data-search]"));
    var timer = null;
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (item) {
        var text = item.getAttribute("data-search").toLowerCase();
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        var checked = item.querySelector("input[type=checkbox]:checked");
        item.hidden = !(match || checked);  // a ticked item stays visible, so no choice is hidden
        if (!item.hidden) { shown += 1; }
      });
      if (status) {
        clearTimeout(timer);  // announce once typing pauses, not on every key
        timer = setTimeout(function () {
          status.textContent = words.length ? shown + " of " + items.length + " shown" : "";
        }, 400);
      }
    });
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
