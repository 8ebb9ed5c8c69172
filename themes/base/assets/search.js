/* Search behind a CDN: the edge answers /search/?q= itself; elsewhere, read search.json and show the
   same results. Text only through textContent: nothing from the index is parsed as HTML. */
(function () {
  var box = document.querySelector("[data-search-results]");
  var q = (new URLSearchParams(location.search).get("q") || "").trim();
  if (!box || !q || box.hasAttribute("data-searched")) return;
  document.querySelector("[data-search-query]").value = q;
  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (text) n.textContent = text;
    return n;
  }
  fetch("/search.json").then(function (r) { return r.json(); }).then(function (data) {
    var terms = q.toLowerCase().split(/\s+/);
    var hits = data.items.filter(function (i) {
      var text = (i.title + " " + i.text + " " + i.terms).toLowerCase();
      return terms.every(function (t) { return text.indexOf(t) >= 0; });
    });
    hits.sort(function (a, b) { return (b.title.toLowerCase().indexOf(terms[0]) >= 0) - (a.title.toLowerCase().indexOf(terms[0]) >= 0); });
    box.textContent = "";
    box.appendChild(el("p", {}, hits.length ? hits.length + " results for “" + q + "”" : "Nothing found for “" + q + "”."));
    var list = box.appendChild(el("ol"));
    hits.forEach(function (i) {
      var li = list.appendChild(el("li"));
      if (i.image) li.appendChild(el("img", { src: i.image, alt: "", width: "96", height: "72", loading: "lazy" }));
      var div = li.appendChild(el("div"));
      div.appendChild(el("h2")).appendChild(el("a", { href: i.url }, i.title));
      div.appendChild(el("p", { "class": "meta" }, i.kind === "product" ? "Shop · " + i.price : "Journal" + (i.date ? " · " + i.date : "")));
      if (i.text) div.appendChild(el("p", {}, i.text));
    });
  }).catch(function () { box.textContent = "Search is not available just now."; });
})();
