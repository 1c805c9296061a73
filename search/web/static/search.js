// Autocomplete for the search box, as a WAI-ARIA combobox (list autocomplete,
// manual selection): progressive enhancement, the form works without it.
// Requests wait for a pause in typing (DELAY ms), answers are kept per text,
// and a newer keystroke cancels the request in flight.
(function () {
  "use strict";
  var DELAY = 150;
  var input = document.getElementById("q");
  if (!input || !window.fetch || !window.Map) return;
  var list = document.createElement("ul");
  list.id = "q-suggestions";
  list.className = "suggest";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "搜索建议");
  list.hidden = true;
  input.parentNode.appendChild(list);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");

  var timer = null, active = -1, controller = null, cache = new Map();

  function options() { return list.querySelectorAll("[role=option]"); }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(i) {
    var items = options();
    active = i;
    for (var k = 0; k < items.length; k++) items[k].setAttribute("aria-selected", k === i ? "true" : "false");
    if (i >= 0) {
      input.setAttribute("aria-activedescendant", items[i].id);
      items[i].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(text) {
    input.value = text;
    close();
    input.form.submit();
  }

  function render(items) {
    list.textContent = "";
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = "q-option-" + i;
      li.textContent = item.text;  // text, never HTML
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(item.text); });
      list.appendChild(li);
    });
    active = -1;
    input.removeAttribute("aria-activedescendant");
    list.hidden = !items.length;
    input.setAttribute("aria-expanded", items.length ? "true" : "false");
  }

  function lookup(q) {
    if (cache.has(q)) { render(cache.get(q)); return; }
    if (controller) controller.abort();
    controller = window.AbortController ? new AbortController() : null;
    fetch("/api/suggest?size=8&q=" + encodeURIComponent(q), controller ? { signal: controller.signal } : {})
      .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
      .then(function (data) {
        if (cache.size >= 100) cache.clear();
        cache.set(q, data.suggestions || []);
        if (input.value.trim() === q && document.activeElement === input) render(cache.get(q));
      })
      .catch(function () { /* aborted or offline: the form still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (!q) { close(); return; }
    timer = setTimeout(function () { lookup(q); }, DELAY);
  });

  input.addEventListener("keydown", function (e) {
    var items = options();
    var open = !list.hidden && items.length > 0;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!items.length) return;
      e.preventDefault();
      if (!open) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
      var n = items.length;
      highlight(e.key === "ArrowDown" ? (active + 1) % n : (active <= 0 ? n - 1 : active - 1));
    } else if (e.key === "Enter") {
      if (open && active >= 0) { e.preventDefault(); choose(items[active].textContent); }
    } else if (e.key === "Escape") {
      if (open) { e.preventDefault(); close(); }
    }
  });

  input.addEventListener("blur", close);
})();

// Clicks on results are recorded by a beacon: a POST that another site cannot send as us through an
// <img> or a link (the server checks Sec-Fetch-Site / Origin). The link itself still goes through
// /go/<id>, which works without JavaScript and counts nothing.
(function () {
  if (!navigator.sendBeacon || !window.URLSearchParams) return;
  var q = new URLSearchParams(window.location.search).get("q") || "";
  function record(e) {
    if (e.type === "auxclick" && e.button !== 1) return;  // a middle click opens a tab; a right click opens a menu
    var a = e.target.closest ? e.target.closest("a[data-click]") : null;
    if (a) navigator.sendBeacon("/api/click", new URLSearchParams({ id: a.getAttribute("data-click"), q: q }));
  }
  document.addEventListener("click", record, true);
  document.addEventListener("auxclick", record, true);
})();
