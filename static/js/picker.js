/* Searchable pickers (core/pickers.py). A <select data-picker="url"> holds only
   its chosen options; the search box before it (hidden until this script runs)
   asks the url for at most 20 matches and puts them in the select, where the
   user picks as in any select. data-picker-params="district=id_district" sends
   another field's value along; when that field changes, the select asks again
   and drops a chosen option that is no longer offered (a line of another
   district). Hand-written: a few dozen lines, no library needed. */
(function () {
  "use strict";
  var DELAY = 250;

  function query(select, term) {
    var params = new URLSearchParams();
    if (term) {
      params.set("q", term);
    }
    (select.getAttribute("data-picker-params") || "").split(",").forEach(function (pair) {
      var parts = pair.split("=");
      var source = parts.length === 2 ? document.getElementById(parts[1]) : null;
      if (source && source.value) {
        params.set(parts[0], source.value);
      }
    });
    return select.getAttribute("data-picker") + "?" + params.toString();
  }

  function fill(select, results, dropStale) {
    var offered = {};
    results.forEach(function (item) {
      offered[String(item.id)] = true;
    });
    var kept = {};
    var cleared = false;
    Array.prototype.slice.call(select.options).forEach(function (option) {
      if (option.value === "") {
        kept[""] = true;
      } else if (option.selected && !(dropStale && !offered[option.value])) {
        kept[option.value] = true;
      } else {
        cleared = cleared || option.selected;
        option.remove();
      }
    });
    results.forEach(function (item) {
      if (!kept[String(item.id)]) {
        select.add(new Option(item.text, item.id));
      }
    });
    if (cleared) {
      if (!select.multiple && select.options.length && select.options[0].value === "") {
        select.options[0].selected = true;
      }
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function load(select, box, dropStale) {
    var status = select.parentNode.querySelector(".picker-status");
    var term = box ? box.value.trim() : "";
    var url = query(select, term);
    select.setAttribute("data-picker-asked", url);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (body) {
        if (select.getAttribute("data-picker-asked") !== url) {
          return; // a later question is on its way
        }
        fill(select, body.results, dropStale);
        select.setAttribute("data-picker-loaded", url);
        if (status && box) {
          status.textContent = body.results.length
            ? box.getAttribute("data-found").replace("%(count)s", body.results.length + (body.more ? "+" : ""))
            : box.getAttribute("data-none");
        }
      })
      .catch(function () {
        if (status && box) {
          status.textContent = box.getAttribute("data-failed");
        }
      });
  }

  function boxOf(select) {
    return select.parentNode.querySelector("[data-picker-search]");
  }

  function init(root) {
    root.querySelectorAll("[data-picker-search]").forEach(function (box) {
      box.hidden = false;
    });
  }

  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.hasAttribute || !box.hasAttribute("data-picker-search")) {
      return;
    }
    var select = document.getElementById(box.getAttribute("data-picker-search"));
    clearTimeout(box.pickerTimer);
    box.pickerTimer = setTimeout(function () {
      load(select, box, false);
    }, DELAY);
  });
  document.addEventListener("focusin", function (event) {
    var box = event.target;
    if (box.hasAttribute && box.hasAttribute("data-picker-search")) {
      var select = document.getElementById(box.getAttribute("data-picker-search"));
      if (select && !select.hasAttribute("data-picker-loaded") && !select.hasAttribute("data-picker-asked")) {
        load(select, box, false);
      }
    }
  });
  document.addEventListener("keydown", function (event) {
    // Enter in the search box picks in the list rather than submitting the form.
    var box = event.target;
    if (event.key === "Enter" && box.hasAttribute && box.hasAttribute("data-picker-search")) {
      event.preventDefault();
      var select = document.getElementById(box.getAttribute("data-picker-search"));
      if (select) {
        select.focus();
      }
    }
  });
  document.addEventListener("change", function (event) {
    var source = event.target;
    if (!source.id) {
      return;
    }
    document.querySelectorAll("select[data-picker-params]").forEach(function (select) {
      var names = select.getAttribute("data-picker-params").split(",").map(function (pair) {
        return pair.split("=")[1];
      });
      if (select !== source && names.indexOf(source.id) !== -1) {
        var box = boxOf(select);
        if (box) {
          box.value = "";
        }
        // A cleared district narrows nothing: keep the line.
        load(select, box, source.value !== "");
      }
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    init(event.target);
  });
  init(document);
})();
