/* Small behaviours declared in the markup with data-* attributes, so that pages
   need no inline event handlers (the Content-Security-Policy forbids them).
   Listeners sit on the document, so content swapped in by htmx works too.
   - data-autosubmit on a field: submit its form when the value changes;
   - data-confirm="..." on a form: ask before submitting;
   - data-check="<id>" on a button: tick that radio or checkbox first;
   - data-print on a button: print the page;
   - data-copy="<id>" on a button: copy that field's text to the clipboard (the
     CRM sends nothing itself: the user pastes it into WeCom), then show the
     button's data-copied text. */
(function () {
  "use strict";
  function copyField(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) {
      return;
    }
    var done = function () {
      var note = button.getAttribute("data-copied");
      if (note) {
        button.textContent = note;
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else {
      // Plain HTTP (a laptop demo): the older selection-based copy.
      field.select();
      if (document.execCommand("copy")) {
        done();
      }
    }
  }
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
    var trigger = event.target.closest("[data-check], [data-print], [data-copy]");
    if (!trigger) {
      return;
    }
    if (trigger.hasAttribute("data-copy")) {
      copyField(trigger);
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
