/* Small behaviours declared in the markup with data-* attributes, so that pages
   need no inline event handlers (the Content-Security-Policy forbids them).
   Listeners sit on the document, so content swapped in by htmx works too.
   - data-autosubmit on a field: submit its form when the value changes;
   - data-confirm="..." on a form: ask before submitting;
   - data-check="<id>" on a button: tick that radio or checkbox first;
   - data-print on a button: print the page. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.form && field.hasAttribute("data-autosubmit")) {
      field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
    }
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-check], [data-print]");
    if (!trigger) {
      return;
    }
    if (trigger.hasAttribute("data-print")) {
      window.print();
      return;
    }
    var target = document.getElementById(trigger.getAttribute("data-check"));
    if (target) {
      target.checked = true;
    }
  });
})();
