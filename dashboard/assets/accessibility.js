// Repairs to Dash 4's own components so the page meets WCAG 2.2 AA. React renders these once on
// mount, so patching the DOM afterwards sticks; a MutationObserver re-applies them as pages render.
(function () {
    // 1. The dropdown names its button by the chosen value alone (aria-labelledby), hiding the visible
    //    <label for=...>: add the label's id so both are read out (2.5.3 Label in Name).
    function nameControlsByTheirLabels() {
        document.querySelectorAll("label[for][id]").forEach(function (label) {
            var control = document.getElementById(label.htmlFor);
            var names = control && control.getAttribute("aria-labelledby");
            if (names && names.split(" ").indexOf(label.id) === -1) {
                control.setAttribute("aria-labelledby", label.id + " " + names);
            }
        });
    }
    // 2. The dropdown puts a focusable but aria-hidden <input> in front of its button, which itself
    //    is out of the tab order: take the input out and let the button take focus (4.1.2).
    function focusTheRealDropdownButton() {
        document.querySelectorAll("input.dash-dropdown-focus-target").forEach(function (input) {
            if (input.inert) { return; }
            input.inert = true;
            input.tabIndex = -1;
            var button = input.parentElement && input.parentElement.querySelector("button");
            if (button) { button.tabIndex = 0; }
        });
    }
    // 3. The date range's wrapper carries aria-expanded and aria-haspopup with no role: name it a group.
    function giveDateRangesARole() {
        document.querySelectorAll("[id$='-wrapper'][aria-expanded]:not([role])").forEach(function (wrapper) {
            wrapper.setAttribute("role", "group");
        });
    }
    function repair() {
        nameControlsByTheirLabels();
        focusTheRealDropdownButton();
        giveDateRangesARole();
    }
    new MutationObserver(repair).observe(document.documentElement, {
        childList: true,
        subtree: true,
        attributes: true,
        attributeFilter: ["aria-labelledby", "aria-expanded"],
    });
})();
