/* Tessera cart: add to cart, live prices and stock, cart, checkout and order pages.
   Plain JavaScript, no framework; talks only to the API on this site's own host. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="tessera:api"]');
  if (!meta || !window.fetch) return;
  var API = meta.content.replace(/\/$/, "");
  var KEY = "tessera-cart";
  var lang = document.documentElement.lang || "en";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function sentence(text) { return text ? text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".") : ""; }
  function money(minor, currency) {
    var f = new Intl.NumberFormat(lang, { style: "currency", currency: currency });
    var digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(minor / Math.pow(10, digits));
  }
  function call(method, path, body, headers, tries) {
    var options = { method: method, headers: Object.assign({ "Accept": "application/json" }, headers || {}) };
    if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    tries = tries === undefined ? 3 : tries;
    return fetch(API + path, options).then(function (r) {
      /* 503 with Retry-After: the shop paused writes for a moment (it is moving) and took nothing; ask again. */
      var wait = Number(r.headers.get("Retry-After"));
      if (r.status === 503 && tries > 0 && wait >= 0 && wait <= 10) {
        return new Promise(function (ok) { setTimeout(ok, wait * 1000); }).then(function () { return call(method, path, body, headers, tries - 1); });
      }
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error((data.error && data.error.message) || "Something went wrong"); e.error = data.error || {}; e.status = r.status; throw e; }
        return data;
      });
    });
  }
  function token() { try { return localStorage.getItem(KEY); } catch (e) { return null; } }
  function keep(t) { try { t ? localStorage.setItem(KEY, t) : localStorage.removeItem(KEY); } catch (e) {} }
  function ensureCart() {
    var t = token();
    if (t) return Promise.resolve(t);
    return call("POST", "/carts").then(function (c) { keep(c.token); return c.token; });
  }
  function loadCart() {
    var t = token();
    if (!t) return Promise.resolve(null);
    return call("GET", "/carts/" + encodeURIComponent(t)).catch(function (e) {
      if (e.status === 404 || e.status === 409) { keep(null); return null; }
      throw e;
    });
  }
  function count(cart) {
    var n = cart ? cart.lines.reduce(function (s, l) { return s + l.quantity; }, 0) : 0;
    $$("[data-cart-count]").forEach(function (b) { b.textContent = n ? String(n) : ""; b.setAttribute("aria-label", n + " items"); });
  }

  /* Product pages: add to cart. */
  $$("form[data-add-to-cart]").forEach(function (form) {
    var status = $("[data-status]", form);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = $('input[name="sku"]:checked', form) || $('input[name="sku"]:not(:disabled)', form);
      if (!chosen) return;
      var quantity = parseInt($('input[name="quantity"]', form).value, 10);
      var button = $("button[type=submit]", form);
      button.disabled = true;
      status.textContent = "Adding…";
      var add = function (t) { return call("POST", "/carts/" + encodeURIComponent(t) + "/items", { sku: chosen.value, quantity: quantity }); };
      ensureCart().then(function (t) {
        return add(t).catch(function (e) { if (e.status === 404 || e.status === 409) { keep(null); return ensureCart().then(add); } throw e; });
      }).then(function (cart) {
        count(cart);
        status.textContent = "Added to your basket.";
        var link = el("a", { href: "/cart/" }, "View basket");
        status.appendChild(document.createTextNode(" "));
        status.appendChild(link);
      }).catch(function (e) { status.textContent = sentence(e.message); })
        .then(function () { button.disabled = form.hasAttribute("data-sold-out"); });
    });
  });

  /* Live price and stock for every sku on the page, in one call. */
  var skus = $$("[data-sku-price]").map(function (n) { return n.getAttribute("data-sku-price"); });
  $$('form[data-add-to-cart] input[type=hidden][name="sku"]').forEach(function (i) { skus.push(i.value); });
  if (skus.length) {
    call("POST", "/availability", { skus: skus }).then(function (data) {
      Object.keys(data.skus).forEach(function (sku) {
        var info = data.skus[sku];
        $$('[data-sku-price="' + sku + '"]').forEach(function (n) {
          if (!info) return;
          n.textContent = money(info.price, info.currency) + (info.in_stock ? "" : " · sold out");
        });
        $$('input[name="sku"][value="' + sku + '"]').forEach(function (input) {
          if (info && !info.in_stock) { input.disabled = true; if (input.checked) input.checked = false; }
        });
      });
      $$("form[data-add-to-cart]").forEach(soldOut);
    }).catch(function () {});
  }
  /* Static pages cannot know stock: once the live answer is in, offer only what is left. */
  function soldOut(form) {
    var left = $$('input[name="sku"]', form).filter(function (i) { return !i.disabled; });
    var button = $("button[type=submit]", form);
    if (!left.length) {
      form.setAttribute("data-sold-out", "");
      button.disabled = true;
      button.textContent = "Sold out";
      $$("[data-price]").forEach(function (p) { if (!$(".sold-out", p)) p.appendChild(el("strong", { "class": "sold-out" }, " Sold out")); });
    } else if (!$('input[name="sku"]:checked', form) && left[0].type === "radio") {
      left[0].checked = true;
    }
  }

  /* Thumbnails: the build maps each sku to its product image's smallest derivative (a few KB, not the photograph). */
  var THUMBS = {};
  try { THUMBS = JSON.parse(($("#thumbs") || {}).textContent || "{}"); } catch (e) {}
  function thumb(sku) {
    var box = el("span", { "class": "thumb" });
    /* Decorative: the product's name is the link beside it. */
    if (THUMBS[sku]) box.appendChild(el("img", { src: THUMBS[sku], alt: "", width: "72", height: "72", loading: "lazy", decoding: "async" }));
    return box;
  }
  function label(line) { return line.title && line.title !== line.name ? line.name + " – " + line.title : line.name; }

  /* The basket page: the lines (thumbnail, name, quantity stepper, price and saving) and, beside them, the summary. */
  var cartBox = $("[data-cart-body]");
  function renderCart(cart) {
    var focused = cartBox.contains(document.activeElement) && document.activeElement.id;
    cartBox.textContent = "";
    count(cart);
    if (!cart || !cart.lines.length) {
      var empty = cartBox.appendChild(el("div", { "class": "empty-basket" }));
      empty.appendChild(el("p", { "class": "lead" }, "Your basket is empty."));
      empty.appendChild(el("a", { href: "/products/", "class": "button" }, "Continue shopping"));
      return;
    }
    (cart.notices || []).forEach(function (n) { cartBox.appendChild(el("p", { "class": "notice", role: "status" }, sentence(n))); });
    var grid = cartBox.appendChild(el("div", { "class": "basket-grid" }));
    var list = grid.appendChild(el("ul", { "class": "cart-lines" })), cur = cart.currency;
    cart.lines.forEach(function (line) {
      var item = list.appendChild(el("li", { "class": "cart-line" })), name = label(line), path = "/carts/" + encodeURIComponent(token()) + "/items/" + encodeURIComponent(line.sku);
      item.appendChild(thumb(line.sku));
      var info = item.appendChild(el("div", { "class": "line-info" }));
      info.appendChild(el("a", { href: line.url, "class": "line-name" }, line.name));
      if (line.title && line.title !== line.name) info.appendChild(el("span", { "class": "line-variant" }, line.title));
      info.appendChild(el("span", { "class": "line-unit" }, money(line.unit_price, cur) + " each"));
      if (!line.in_stock) info.appendChild(el("strong", { "class": "sold-out" }, line.available ? "Only " + line.available + " left" : "Sold out"));
      /* A stepper: − and + buttons around the number, each named for its line; typing a number works too. */
      var id = "qty-" + line.sku, step = item.appendChild(el("div", { "class": "stepper" }));
      step.appendChild(el("label", { "for": id, "class": "visually-hidden" }, "Quantity of " + name));
      function set(n) {
        call("PATCH", path, { quantity: n }).then(renderCart).catch(function (e) { announce(e.message); });
      }
      var less = step.appendChild(el("button", { type: "button", id: "dec-" + line.sku, "aria-label": "One fewer " + name }, "−"));
      var qty = step.appendChild(el("input", { id: id, type: "number", min: "1", max: "99", value: String(line.quantity), inputmode: "numeric" }));
      var more = step.appendChild(el("button", { type: "button", id: "inc-" + line.sku, "aria-label": "One more " + name }, "+"));
      less.disabled = line.quantity <= 1;
      /* From the number shown, which a press changes at once: quick presses each count, before the redraw. */
      function by(d) { var n = Math.max(1, (parseInt(qty.value, 10) || line.quantity) + d); qty.value = String(n); set(n); }
      less.addEventListener("click", function () { by(-1); });
      more.addEventListener("click", function () { by(1); });
      qty.addEventListener("change", function () { set(parseInt(qty.value, 10)); });
      var sums = item.appendChild(el("div", { "class": "line-money" }));
      sums.appendChild(el("span", { "class": "line-total" }, money(line.line_total, cur)));
      if (line.discount) sums.appendChild(el("span", { "class": "line-discount saving" }, "You save " + money(line.discount, cur)));
      var remove = sums.appendChild(el("button", { type: "button", "class": "link-button", id: "rm-" + line.sku, "aria-label": "Remove " + name }, "Remove"));
      remove.addEventListener("click", function () { call("DELETE", path).then(renderCart).catch(function (e) { announce(e.message); }); });
    });
    var side = grid.appendChild(el("div", { "class": "basket-summary", role: "region", "aria-label": "Summary" }));
    side.appendChild(el("h2", {}, "Summary"));
    side.appendChild(totals(cart));
    side.appendChild(codeForm(cart));
    side.appendChild(codeForm(cart, true));
    if (cart.lines.every(function (l) { return l.in_stock; })) side.appendChild(el("a", { href: "/checkout/", "class": "button button-wide" }, "Go to checkout"));
    else side.appendChild(el("p", { "class": "notice" }, "Remove the sold-out items, or lower their quantity, to check out."));
    cartBox.appendChild(el("p", { "class": "back-link" })).appendChild(el("a", { href: "/products/" }, "← Continue shopping"));
    /* The basket is drawn anew: the control in use keeps the focus (a keyboard user stays where they were);
       a − button that can go no lower hands it to its number. */
    var back = focused && document.getElementById(focused);
    if (back && back.disabled) back = document.getElementById(focused.replace(/^dec-/, "qty-"));
    if (focused && !back) back = $("input, button, a", cartBox);
    if (back) back.focus();
  }
  /* Subtotal, each discount, shipping, tax (when any), total; then what the discounts save. */
  function totals(q) {
    var dl = el("dl", { "class": "totals" });
    var rows = [["Subtotal", q.subtotal]], ship = q.shipping;
    /* Shipping shows its price before discounts, so that the rows add up to the total. */
    (q.discounts || []).forEach(function (d) { ship += d.shipping || 0; rows.push(["Discount (" + (d.code || d.title) + ")", -d.amount]); });
    rows.push([q.shipping_method === "pickup" ? "Collection" : "Shipping", ship]);
    /* A zero-rated sale (reverse charge, export) says so rather than showing no tax at all. */
    /* (With prices that include tax, such a sale takes the tax out of them: a row that is subtracted.) */
    if (q.tax > 0 || q.tax_note) rows.push([q.tax_label + (q.tax_note ? " (" + q.tax_note + ")" : q.tax_inclusive ? " (included)" : ""), -q.tax_removed || q.tax]);
    rows.push(["Total", q.total]);
    /* Gift cards are a tender, not a discount: they come after the total. */
    if (q.gift_card > 0) rows.push(["Gift card", -q.gift_card], ["Amount due", q.amount_due]);
    rows.forEach(function (row) {
      dl.appendChild(el("dt", {}, row[0]));
      dl.appendChild(el("dd", {}, (row[1] < 0 ? "−" : "") + money(Math.abs(row[1]), q.currency)));
    });
    var box = el("div", {});
    box.appendChild(dl);
    if (q.discount > 0) box.appendChild(el("p", { "class": "saving" }, "You save " + money(q.discount, q.currency) + "."));
    if (q.gift_card > 0 && !q.amount_due) box.appendChild(el("p", { "class": "saving" }, "Your gift card pays for all of it: no payment needed."));
    return box;
  }
  /* The basket's discount code, or (gift) a gift card: apply one, see each and what it does or why not, remove it. */
  function codeForm(cart, gift) {
    var id = gift ? "gift-card" : "discount-code", cur = cart.currency;
    var box = el("form", { "class": "discount-code", novalidate: "" });
    var path = "/carts/" + encodeURIComponent(token()) + (gift ? "/gift-cards" : "/discount");
    var list = el("ul", { "class": "codes" });
    ((gift ? cart.gift_cards : cart.codes) || []).forEach(function (c) {
      var name = gift ? "…" + c.last4 : c.code;
      var li = el("li", {}, name + ": " + (gift ? (c.problem ? "this card " + c.problem : money(c.applied, cur) + " applied (balance " + money(c.balance, cur) + ")")
        : c.applied ? "applied" : c.reason) + " ");
      var remove = el("button", { type: "button", "class": "link-button", "aria-label": "Remove " + (gift ? "gift card " : "code ") + name }, "Remove");
      remove.addEventListener("click", function () {
        call("DELETE", path + (gift ? "/" + c.last4 : "?code=" + encodeURIComponent(c.code))).then(renderCart).catch(function (e) { announce(e.message); });
      });
      li.appendChild(remove);
      list.appendChild(li);
    });
    if (list.firstChild) box.appendChild(list);
    box.appendChild(el("label", { "for": id }, gift ? "Gift card" : "Discount code"));
    var input = box.appendChild(el("input", { id: id, name: "code", autocomplete: "off", maxlength: gift ? "40" : "50", "aria-describedby": id + "-status" }));
    box.appendChild(el("button", { type: "submit", "class": "button" }, gift ? "Use gift card" : "Apply"));
    var said = box.appendChild(el("p", { id: id + "-status", role: "status" }));
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!input.value.trim()) return;
      call("POST", path, { code: input.value.trim() }).then(function (c) {
        renderCart(c);
        $("#" + id).focus();
        $("#" + id + "-status").textContent = gift ? "Amount due: " + money(c.amount_due, c.currency) + "." : c.discount ? "You save " + money(c.discount, c.currency) + "." : "";
      }).catch(function (e) { input.setAttribute("aria-invalid", "true"); said.textContent = sentence(e.message); input.focus(); });
    });
    return box;
  }
  function announce(text) {
    var live = $("[data-announce]") || document.body.appendChild(el("p", { "data-announce": "", role: "alert", "class": "notice" }));
    live.textContent = text;
  }
  if (cartBox) loadCart().then(renderCart).catch(function (e) { announce(e.message); });
  else loadCart().then(count).catch(function () {});

  /* The checkout and order pages' script (checkout.js) runs with these; both are deferred, in either order. */
  var shared = { $: $, $$: $$, el: el, sentence: sentence, money: money, call: call, token: token, keep: keep,
    loadCart: loadCart, totals: totals, announce: announce, thumb: thumb, label: label, lang: lang };
  var waiting = window.tesseraCheckout;
  window.tesseraCheckout = function (run) { run(shared); };
  if (typeof waiting === "function") waiting(shared);
})();
