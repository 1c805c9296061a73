// Autocomplete for the search box: progressive enhancement, the form works without it.
(function () {
  var input = document.getElementById("q");
  if (!input || !window.fetch) return;
  var list = document.createElement("ul");
  list.className = "suggest";
  list.setAttribute("role", "listbox");
  input.parentNode.style.position = "relative";
  input.parentNode.appendChild(list);
  var timer = null, active = -1;
  function clear() { list.innerHTML = ""; active = -1; }
  function render(items) {
    clear();
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item.text;  // text, never HTML
      li.setAttribute("role", "option");
      li.addEventListener("mousedown", function (e) {
        e.preventDefault();
        input.value = item.text;
        input.form.submit();
      });
      list.appendChild(li);
    });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (!q) { clear(); return; }
    timer = setTimeout(function () {
      fetch("/api/suggest?size=8&q=" + encodeURIComponent(q))
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (data) { if (input.value.trim() === q) render(data.suggestions || []); })
        .catch(clear);
    }, 120);
  });
  input.addEventListener("keydown", function (e) {
    var items = list.querySelectorAll("li");
    if (!items.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items.forEach(function (li, i) { li.className = i === active ? "on" : ""; });
      input.value = items[active].textContent;
    } else if (e.key === "Escape") { clear(); }
  });
  input.addEventListener("blur", function () { setTimeout(clear, 150); });
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
