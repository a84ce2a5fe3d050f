// Dash's dropdown names its button by the chosen value alone (aria-labelledby), which hides the visible
// <label for=...> from screen readers. Add each such label's id to the name so both are read out
// (WCAG 2.5.3 Label in Name). React sets the attribute once on mount, so patching it afterwards sticks.
(function () {
    function nameControlsByTheirLabels() {
        document.querySelectorAll("label[for][id]").forEach(function (label) {
            var control = document.getElementById(label.htmlFor);
            var names = control && control.getAttribute("aria-labelledby");
            if (names && names.split(" ").indexOf(label.id) === -1) {
                control.setAttribute("aria-labelledby", label.id + " " + names);
            }
        });
    }
    new MutationObserver(nameControlsByTheirLabels).observe(document.documentElement, {
        childList: true,
        subtree: true,
        attributes: true,
        attributeFilter: ["aria-labelledby"],
    });
})();
