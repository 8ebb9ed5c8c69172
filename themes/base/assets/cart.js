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
  function call(method, path, body, headers) {
    var options = { method: method, headers: Object.assign({ "Accept": "application/json" }, headers || {}) };
    if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    return fetch(API + path, options).then(function (r) {
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

  /* The basket page. */
  var cartBox = $("[data-cart-body]");
  function renderCart(cart) {
    var focused = cartBox.contains(document.activeElement) && document.activeElement.id;
    cartBox.textContent = "";
    count(cart);
    if (!cart || !cart.lines.length) { cartBox.appendChild(el("p", {}, "Your basket is empty.")); return; }
    (cart.notices || []).forEach(function (n) { cartBox.appendChild(el("p", { "class": "notice", role: "status" }, n.charAt(0).toUpperCase() + n.slice(1) + ".")); });
    var list = el("ul", { "class": "cart-lines" });
    cart.lines.forEach(function (line) {
      var item = el("li", { "class": "cart-line" });
      var label = line.title && line.title !== line.name ? line.name + " – " + line.title : line.name;
      item.appendChild(el("a", { href: line.url }, label));
      var id = "qty-" + line.sku;
      item.appendChild(el("label", { "for": id, "class": "visually-hidden" }, "Quantity of " + label));
      var qty = el("input", { id: id, type: "number", min: "1", max: "99", value: String(line.quantity), inputmode: "numeric" });
      qty.addEventListener("change", function () {
        call("PATCH", "/carts/" + encodeURIComponent(token()) + "/items/" + encodeURIComponent(line.sku), { quantity: parseInt(qty.value, 10) })
          .then(renderCart).catch(function (e) { announce(e.message); });
      });
      item.appendChild(qty);
      item.appendChild(el("span", { "class": "line-total" }, money(line.line_total, cart.currency)));
      if (line.discount) item.appendChild(el("span", { "class": "line-discount" }, "−" + money(line.discount, cart.currency) + " off"));
      if (!line.in_stock) item.appendChild(el("strong", { "class": "sold-out" }, line.available ? "Only " + line.available + " left" : "Sold out"));
      var remove = el("button", { type: "button", "class": "link-button", id: "rm-" + line.sku }, "Remove");
      remove.setAttribute("aria-label", "Remove " + label);
      remove.addEventListener("click", function () {
        call("DELETE", "/carts/" + encodeURIComponent(token()) + "/items/" + encodeURIComponent(line.sku)).then(renderCart);
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
    cartBox.appendChild(list);
    cartBox.appendChild(totals(cart));
    cartBox.appendChild(codeForm(cart));
    cartBox.appendChild(codeForm(cart, true));
    if (cart.lines.every(function (l) { return l.in_stock; })) cartBox.appendChild(el("a", { href: "/checkout/", "class": "button" }, "Go to checkout"));
    else cartBox.appendChild(el("p", { "class": "notice" }, "Remove the sold-out items, or lower their quantity, to check out."));
    /* The basket is drawn anew: the field being edited keeps the focus (a keyboard user stays where they were). */
    var back = focused && (document.getElementById(focused) || $("input, button, a", cartBox));
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

  /* The checkout page: where to (country, postcode), then the ways the shop can get the order there, as
     the API lists them with their prices and estimates; the summary is the chosen option's own quote. */
  var checkoutBox = $("[data-checkout-body]");
  /* ISO 3166-1 two-letter codes grouped by first letter; the browser names them in the page's language. */
  var COUNTRIES = "ADEFGILMOQRSTUWXZ BABDEFGHIJLMNOQRSTVWYZ CACDFGHIKLMNORUVWXYZ DEJKMOZ ECEGHRST FIJKMOR GABDEFGHILMNPQRSTUWY HKMNRTU IDELMNOQRST JEMOP KEGHIMNPRWYZ LABCIKRSTUVY MACDEFGHKLMNOPQRSTUVWXYZ NACEFGILOPRUZ OM PAEFGHKLMNRSTWY QA REOSUW SABCDEGHIJKLMNORSTVXYZ TCDFGHJKLMNORTVWZ UAGMSYZ VACEGINU WFS XK YET ZAMW";
  var FIELDS = [["email", "Email", "email", "email"], ["shipping_address.name", "Full name", "text", "name"],
    ["shipping_address.country", "Country", "", "country"], ["shipping_address.postal_code", "Postcode", "text", "postal-code"],
    ["shipping_address.line1", "Address", "text", "address-line1"], ["shipping_address.line2", "Address line 2 (optional)", "text", "address-line2"],
    ["shipping_address.city", "Town or city", "text", "address-level2"], ["shipping_address.region", "County, state or region (optional)", "text", "address-level1"],
    ["vat_number", "VAT number (optional)", "text", "off"]];
  var POSTAL = ["line1", "line2", "city", "region"];
  function field(f) {
    var id = "f-" + f[0].replace(/\W/g, "-"), wrap = el("div", { "class": "field" });
    wrap.appendChild(el("label", { "for": id }, f[1]));
    var input = wrap.appendChild(el(f[2] ? "input" : "select", { id: id, name: f[0], autocomplete: f[3], "aria-describedby": id + "-error" }));
    if (f[2]) input.type = f[2];
    wrap.appendChild(el("span", { id: id + "-error", "class": "field-error" }));
    return wrap;
  }
  /* Every country, by name; the shop's own (its page's language, en-GB → GB), else the browser's, first and chosen. */
  function countries(select) {
    var names = window.Intl && Intl.DisplayNames ? new Intl.DisplayNames([lang], { type: "region" }) : { of: String };
    var list = [], home = (/-([A-Z]{2})$/.exec(lang) || /-([A-Z]{2})$/.exec(navigator.language) || [])[1];
    COUNTRIES.split(" ").forEach(function (g) { for (var i = 1; i < g.length; i++) list.push([g[0] + g[i], names.of(g[0] + g[i])]); });
    list.sort(function (a, b) { return a[0] === home ? -1 : b[0] === home ? 1 : a[1].localeCompare(b[1], lang); });
    select.appendChild(el("option", { value: "" }, "Choose a country"));
    list.forEach(function (c) { select.appendChild(el("option", { value: c[0] }, c[1])); });
    if (list[0][0] === home) select.value = home;
  }
  function checkoutForm(cart) {
    checkoutBox.textContent = "";
    if (!cart || !cart.lines.length) { checkoutBox.appendChild(el("p", {}, "Your basket is empty.")); return; }
    var form = el("form", { novalidate: "" }), post = cart.needs_shipping !== false, found = { options: [] }, asked = 0, drawn = 0, wrong, last, timer, full = false;
    var alert = form.appendChild(el("p", { role: "alert", "class": "form-error" })), fields = {};
    function input(name) { return form.elements[name]; }
    var box = el("fieldset", { "class": "options", hidden: "" });
    box.appendChild(el("legend", {}, "Delivery"));
    var list = box.appendChild(el("div", {}));
    box.appendChild(el("span", { id: "f-shipping_method-error", "class": "field-error" }));
    var slot = box.appendChild(field(["pickup_slot", "Collection time", "", "off"]));
    slot.hidden = true;
    var reason = el("p", { role: "alert", "class": "notice" });
    var more = el("details", { "class": "more" });
    more.appendChild(el("summary", {}, "Buying for a business in the EU?"));
    more.hidden = !post;
    FIELDS.forEach(function (f) {
      fields[f[0]] = field(f);
      (f[0] === "vat_number" ? more : form).appendChild(fields[f[0]]);
      if (f[0].indexOf("postal_code") > 0) { form.appendChild(box); form.appendChild(reason); }
    });
    form.appendChild(more);
    countries(input("shipping_address.country"));
    if (!post) form.appendChild(el("p", { "class": "notice" }, "Gift cards are sent by email: no delivery address needed."));
    var sums = form.appendChild(el("div", { "class": "summary", "aria-live": "polite" }));
    sums.appendChild(totals(cart));
    function chosen() {
      var r = $('input[name="shipping_method"]:checked', form);
      return found.options.filter(function (o) { return r && o.id === r.value; })[0];
    }
    /* Pickup needs no postal address, only a time when the place keeps hours; the totals are the option's quote. */
    function show() {
      var o = chosen(), pickup = o && o.kind === "pickup", slots = (pickup && o.slots) || [], select = input("pickup_slot"), was = select.value;
      FIELDS.forEach(function (f) {
        var k = f[0].split(".")[1], hide = !post || (pickup && POSTAL.indexOf(k) >= 0);
        if (!k) return;
        fields[f[0]].hidden = hide;
        input(f[0]).required = !hide && !/optional/.test(f[1]);
      });
      box.hidden = !post || !found.options.length;
      slot.hidden = !slots.length;
      select.required = !!slots.length;
      select.textContent = "";
      select.appendChild(el("option", { value: "" }, "Choose a time"));
      slots.forEach(function (s) { select.appendChild(el("option", { value: s.start }, s.label + (s.left != null && s.left <= 3 ? " (" + s.left + " left)" : ""))); });
      select.value = was;
      if (select.selectedIndex < 0) select.selectedIndex = 0;
      var n = ++drawn, q = Object.assign({}, cart, o && o.quote, { shipping_method: pickup ? "pickup" : "delivery" });
      /* Discounts and gift cards depend on the option too: then the cart priced for it says what each does. */
      if (!o || !(cart.codes.length || cart.discounts.length || cart.gift_card)) return draw(q);
      var p = where();
      p.set("shipping_method", o.id);
      call("GET", "/carts/" + encodeURIComponent(token()) + "?" + p).then(function (c) { if (n === drawn) draw(c); }).catch(mark);
    }
    function draw(q) { sums.replaceChild(totals(q), sums.firstChild); }
    /* The options as listed now: the one chosen stays chosen (and focused, if it was) when it is still offered. */
    function offer(data) {
      var was = chosen(), focused = list.contains(document.activeElement);
      found = data;
      list.textContent = "";
      data.options.forEach(function (o) {
        var label = list.appendChild(el("label", { "class": "variant option" }));
        var radio = label.appendChild(el("input", { type: "radio", name: "shipping_method", value: o.id, "aria-describedby": "f-shipping_method-error" }));
        radio.addEventListener("change", show);
        var text = label.appendChild(el("span", {}, o.name));
        if (o.estimate) text.appendChild(el("small", {}, o.estimate));
        if (o.address) text.appendChild(el("small", {}, o.address));
        label.appendChild(el("span", { "class": "variant-price" }, o.price ? money(o.price, cart.currency) : "Free"));
      });
      var radios = $$("input", list), keep = radios.filter(function (r) { return was && r.value === was.id; })[0] || radios[0];
      if (keep) { keep.checked = true; if (focused) keep.focus(); }
      reason.textContent = radios.length ? "" : sentence(data.reason || "");
      show();
    }
    /* Asked again when where-to changes (the postcode as it is typed, after a pause); only the newest answer counts. */
    var WHERE = ["shipping_address.country", "shipping_address.postal_code", "shipping_address.region", "vat_number"];
    function where() {
      var p = new URLSearchParams();
      WHERE.forEach(function (n) { var v = input(n).value.trim(); if (v) p.set(n.split(".").pop(), v); });
      return p;
    }
    function refresh(force) {
      clearTimeout(timer);
      var p = where();
      if (!post || (force !== true && String(p) === last)) return Promise.resolve();
      var n = ++asked;
      last = String(p);
      return call("GET", "/carts/" + encodeURIComponent(token()) + "/shipping-options?" + p).then(function (data) {
        if (n !== asked) return;
        /* Where-to is fine now: the error listing the options gave is gone (an error from placing the order stays). */
        if (wrong && wrong !== alert) { wrong.removeAttribute("aria-invalid"); document.getElementById(wrong.getAttribute("aria-describedby")).textContent = ""; }
        if (wrong) alert.textContent = "";
        wrong = null;
        offer(data);
      }).catch(function (e) { if (n === asked) { last = null; wrong = mark(e) || alert; } });
    }
    input("shipping_address.postal_code").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    WHERE.forEach(function (n) {
      input(n).addEventListener("change", function () { refresh(); });
    });
    /* An API error goes next to the field it names (an option's error next to the options), and the alert says which. */
    function mark(e) {
      var name = e.error && e.error.field, target = name && (input(name) || input("shipping_address." + name));
      if (target && !target.tagName) target = $("input:checked", list) || target[0];
      if (!target || !target.tagName) { alert.textContent = sentence(e.message); return null; }
      if (target.closest("details")) target.closest("details").open = true;
      target.setAttribute("aria-invalid", "true");
      document.getElementById(target.getAttribute("aria-describedby")).textContent = sentence(e.message);
      var label = target.type === "radio" ? { textContent: "Delivery" } : $('label[for="' + target.id + '"]', form);
      alert.textContent = "Please check " + (label ? label.textContent : "the marked field") + ": " + sentence(e.message);
      return target;
    }
    function again() {
      return loadCart().then(function (c) { cart = c || cart; return post ? refresh(true) : show(); });
    }
    form.appendChild(el("button", { type: "submit", "class": "button" }, "Place order"));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      $$(".field-error", form).forEach(function (s) { s.textContent = ""; });
      $$("[aria-invalid]", form).forEach(function (i) { i.removeAttribute("aria-invalid"); });
      alert.textContent = "";
      wrong = null;
      var o = chosen(), pickup = o && o.kind === "pickup", vat = input("vat_number").value.trim();
      var body = { cart_token: token(), email: input("email").value, accept_without_discount: full };
      if (post) {
        body.shipping_method = o ? o.id : "delivery";
        body.shipping_address = {};
        FIELDS.forEach(function (f) {
          var k = f[0].split(".")[1], v = k && input(f[0]).value;
          if (k && (pickup ? k === "name" : !fields[f[0]].hidden && (v || k !== "region"))) body.shipping_address[k] = v;
        });
        if (pickup && o.slots.length && input("pickup_slot").value) body.pickup_slot = input("pickup_slot").value;
      }
      if (vat) body.vat_number = vat;
      var key = sessionStorage.getItem("tessera-checkout-key") || ("co-" + Date.now() + "-" + Math.random().toString(36).slice(2));
      sessionStorage.setItem("tessera-checkout-key", key);
      var button = $("button[type=submit]", form);
      button.disabled = true;
      call("POST", "/checkout", body, { "Idempotency-Key": key }).then(function (result) {
        sessionStorage.removeItem("tessera-checkout-key");
        keep(null);
        sessionStorage.setItem("tessera-payment-" + result.order.number, JSON.stringify(result.payment));
        if (result.payment.redirect_url) { location.href = result.payment.redirect_url; return; }
        location.href = "/order/?number=" + result.order.number + "&token=" + encodeURIComponent(result.order.token);
      }).catch(function (e) {
        button.disabled = false;
        var target = mark(e), code = e.error && e.error.code;
        if (target) target.focus();
        /* The options or their slots changed since they were listed: list them again (the error stays by its field). */
        if (/^(shipping_unavailable|slot_full|invalid_slot)$/.test(code)) refresh(true);
        /* A code that stopped applying since the basket: order at the full price only when asked to. */
        if (code === "discount_unavailable") {
          var ok = alert.appendChild(el("button", { type: "button", "class": "button" }, "Place order without the discount"));
          ok.addEventListener("click", function () { full = true; form.requestSubmit ? form.requestSubmit() : button.click(); });
        }
        /* A card spent or disabled since the basket: take out the cards that cannot pay, show the new amount due. */
        if (code === "gift_card_unavailable") {
          var drop = alert.appendChild(el("button", { type: "button", "class": "button" }, "Remove the gift card"));
          drop.addEventListener("click", function () {
            var path = "/carts/" + encodeURIComponent(token());
            call("GET", path).then(function (c) {
              return Promise.all(c.gift_cards.filter(function (g) { return g.problem; }).map(function (g) { return call("DELETE", path + "/gift-cards/" + g.last4); }));
            }).then(function () { alert.textContent = ""; return again(); }).catch(function (e) { alert.textContent = sentence(e.message); });
          });
        }
        if (e.status && e.status < 500 && code !== "idempotency_mismatch" && !target) sessionStorage.removeItem("tessera-checkout-key");
      });
    });
    checkoutBox.appendChild(form);
    post ? refresh(true) : show();
  }
  if (checkoutBox) loadCart().then(checkoutForm).catch(function (e) { announce(e.message); });

  /* How to pay: instructions, or a button that starts (again) a payment that failed or never started. */
  function pay(order, payment) {
    var box = el("div", { "class": "payment" });
    function show(p, go) {
      box.textContent = "";
      if (p && p.instructions) { box.appendChild(el("p", { "class": "notice" }, p.instructions)); return; }
      if (p && p.redirect_url) {
        if (go) location.href = p.redirect_url;
        else box.appendChild(el("a", { href: p.redirect_url, "class": "button" }, "Pay now"));
        return;
      }
      if (p && p.status && p.status !== "failed") { box.appendChild(el("p", {}, "Payment: " + p.status + ".")); return; }
      if (p && p.message) box.appendChild(el("p", { "class": "notice", role: "alert" }, sentence(p.message)));
      var again = el("button", { type: "button", "class": "button" }, p ? "Try paying again" : "How to pay");
      again.addEventListener("click", function () {
        again.disabled = true;
        call("POST", "/orders/" + order.number + "/payment?token=" + encodeURIComponent(secret)).then(function (r) {
          sessionStorage.setItem("tessera-payment-" + order.number, JSON.stringify(r));
          show(r, true);
        }).catch(function (e) { again.disabled = false; announce(e.message); });
      });
      box.appendChild(again);
    }
    show(payment);
    return box;
  }

  /* The gift cards an order bought: each code once paid, with a button to copy it. */
  function bought(order) {
    var box = el("section", { "class": "gift-cards" }), cards = order.gift_cards || [];
    if (!cards.length && !order.gift_cards_to_come) return box;
    box.appendChild(el("h2", {}, "Your gift cards"));
    if (!cards.length) box.appendChild(el("p", { "class": "notice" }, "Your gift card code arrives by email when payment is received, and shows here."));
    cards.forEach(function (c) {
      var p = box.appendChild(el("p", {}, money(c.amount, c.currency) + ": "));
      var code = p.appendChild(el("code", {}, c.code));
      var copy = p.appendChild(el("button", { type: "button", "class": "link-button", "aria-label": "Copy code " + c.code }, "Copy"));
      /* Selected as well, so that it can be copied by hand where the clipboard is not offered. */
      copy.addEventListener("click", function () {
        getSelection().selectAllChildren(code);
        if (navigator.clipboard) navigator.clipboard.writeText(c.code).then(function () { copy.textContent = "Copied"; }, function () {});
      });
      if (c.expires_at) p.appendChild(document.createTextNode(" Valid until " + new Date(c.expires_at).toLocaleDateString(lang) + "."));
    });
    return box;
  }

  /* How the order reaches the shopper: the method and its estimate, or where and when to collect it. */
  function handover(order) {
    var box = el("section", { "class": "handover" }), p = order.pickup, o = order.shipping_option, a = order.shipping_address || {};
    if (!p && !(o && o.name)) return box;
    box.appendChild(el("h2", {}, p ? "Collection" : "Delivery"));
    if (p) {
      box.appendChild(el("p", {}, [p.name, p.address].filter(Boolean).join(", ")));
      if (p.label) box.appendChild(el("p", { "class": "lead" }, p.label));
    } else {
      box.appendChild(el("p", {}, o.name + (o.estimate ? ": " + o.estimate : "")));
      box.appendChild(el("p", {}, [a.name, a.line1, a.line2, a.city, a.region, a.postal_code, a.country].filter(Boolean).join(", ")));
    }
    return box;
  }

  /* The order confirmation page. */
  var orderBox = $("[data-order-body]");
  if (orderBox) {
    var params = new URLSearchParams(location.search);
    var number = params.get("number"), secret = params.get("token");
    if (number && secret) {
      call("GET", "/orders/" + encodeURIComponent(number) + "?token=" + encodeURIComponent(secret)).then(function (order) {
        orderBox.appendChild(el("p", { "class": "lead" }, "Thank you! Your order number is " + order.number + "."));
        var payment = JSON.parse(sessionStorage.getItem("tessera-payment-" + order.number) || "null");
        if (order.payment_status === "paid") orderBox.appendChild(el("p", {}, "We have received your payment."));
        else if (order.status === "pending") orderBox.appendChild(pay(order, payment));
        var list = el("ul", { "class": "cart-lines" });
        order.lines.forEach(function (l) { list.appendChild(el("li", {}, l.quantity + " × " + l.name + (l.title !== l.name ? " – " + l.title : "") + " · " + money(l.line_total, order.currency) + (l.discount ? " (−" + money(l.discount, order.currency) + ")" : ""))); });
        orderBox.appendChild(list);
        orderBox.appendChild(totals(Object.assign({ tax_label: "Tax" }, order)));
        orderBox.appendChild(handover(order));
        (order.gift_cards_used || []).forEach(function (g) { orderBox.appendChild(el("p", {}, "Paid with gift card …" + g.last4 + ": " + money(g.amount, order.currency) + ".")); });
        orderBox.appendChild(bought(order));
      }).catch(function (e) { announce(e.message); });
    } else {
      orderBox.appendChild(el("p", {}, "Open this page from the link in your order confirmation."));
    }
  }
})();
