// Embeddable related box (相关内容) for a CMS article template:
//   <div data-news-related="ARTICLE_ID" data-size="5"></div>
//   <script src="https://search.example.com/static/embed.js" async></script>
// The script fetches /api/articles/<id>/related from the server it was loaded from
// (enable CORS for the site with NEWS_SEARCH_CORS_ORIGINS) and renders plain text links.
(function () {
  var script = document.currentScript;
  var base = script ? script.src.replace(/\/static\/embed\.js.*$/, "") : "";
  document.querySelectorAll("[data-news-related]").forEach(function (box) {
    var id = box.getAttribute("data-news-related");
    var size = box.getAttribute("data-size") || "5";
    fetch(base + "/api/articles/" + encodeURIComponent(id) + "/related?size=" + encodeURIComponent(size))
      .then(function (r) { return r.ok ? r.json() : { related: [] }; })
      .then(function (data) {
        var h = document.createElement("h3");
        h.textContent = "相关内容";
        var ul = document.createElement("ul");
        (data.related || []).forEach(function (item) {
          var li = document.createElement("li");
          var a = document.createElement("a");
          a.href = item.url || (base + "/articles/" + encodeURIComponent(item.id));
          a.textContent = item.title;
          var span = document.createElement("span");
          span.textContent = " " + (item.published || "").slice(0, 10);
          li.appendChild(a);
          li.appendChild(span);
          ul.appendChild(li);
        });
        box.innerHTML = "";
        box.appendChild(h);
        box.appendChild(ul);
      })
      .catch(function () {});
  });
})();
