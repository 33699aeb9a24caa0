/* Region and station pickers: a text field that lists the places matching what is typed (a name or
 * the start of a code), to pick with the arrow keys and Enter, or the mouse. It follows the ARIA 1.2
 * combobox pattern with a listbox popup ("list" autocomplete). The options come from a bounded JSON
 * route (data-picker); the field keeps the chosen code, which the form sends. Without JavaScript the
 * field is a plain text field that takes a code. */
(function () {
  "use strict";

  var WAIT_MS = 150; // after the last key, before asking the server

  function setUp(input) {
    var list = document.getElementById(input.dataset.listbox);
    var status = document.getElementById(input.dataset.status);
    var chosen = document.getElementById(input.id + "-chosen");
    var options = [];
    var active = -1;
    var timer = null;
    var asked = 0; // the newest request: older answers arriving late are dropped

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    function open() {
      list.hidden = options.length === 0;
      input.setAttribute("aria-expanded", String(!list.hidden));
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = list.children;
      for (var i = 0; i < items.length; i++) {
        items[i].setAttribute("aria-selected", String(i === index));
      }
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var place = options[index];
      input.value = place.code;
      if (chosen) chosen.textContent = place.within ? place.name + " · " + place.within : place.name;
      close();
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function show(answer) {
      options = answer.items;
      list.textContent = "";
      options.forEach(function (place, i) {
        var item = document.createElement("li");
        item.id = list.id + "-" + i;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        var name = document.createElement("span");
        name.textContent = place.name;
        var code = document.createElement("span");
        code.className = "code";
        code.textContent = place.code + (place.within ? " · " + place.within : "");
        item.append(name, " ", code);
        // mousedown, not click: the field keeps the focus (no blur closing the list first).
        item.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(i);
        });
        list.appendChild(item);
      });
      if (status) status.textContent = answer.status;
      active = -1;
      open();
    }

    function ask() {
      var number = ++asked;
      var url = input.dataset.picker + "?q=" + encodeURIComponent(input.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (answer) {
          if (answer && number === asked && document.activeElement === input) show(answer);
        })
        .catch(function () {
          /* no options: the field still takes a code as typed */
        });
    }

    input.addEventListener("input", function () {
      if (chosen) chosen.textContent = "";
      clearTimeout(timer);
      timer = setTimeout(ask, WAIT_MS);
    });

    input.addEventListener("keydown", function (event) {
      var open_ = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open_) {
          ask();
        } else if (options.length) {
          highlight((active + 1) % options.length);
        }
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (open_ && options.length) highlight(active <= 0 ? options.length - 1 : active - 1);
      } else if (event.key === "Enter") {
        if (open_ && active >= 0) {
          event.preventDefault(); // pick, do not send the form yet
          choose(active);
        }
      } else if (event.key === "Escape") {
        if (open_) {
          event.preventDefault();
          close();
        }
      } else if (event.key === "Tab") {
        close();
      }
    });

    input.addEventListener("blur", close);
  }

  document.querySelectorAll("input[data-picker]").forEach(setUp);
})();
