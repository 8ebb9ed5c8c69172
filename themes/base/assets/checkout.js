/* Tessera checkout and order confirmation: loaded on those two pages only, beside cart.js, whose helpers it uses
   (so that the script every shop page loads stays small). */
(function (run) {
  "use strict";
  if (typeof window.tesseraCheckout === "function") window.tesseraCheckout(run);
  else window.tesseraCheckout = run;
})(function (T) {
  "use strict";
  var $ = T.$, $$ = T.$$, el = T.el, sentence = T.sentence, money = T.money, call = T.call, token = T.token,
    keep = T.keep, loadCart = T.loadCart, totals = T.totals, announce = T.announce, thumb = T.thumb, label = T.label, lang = T.lang;
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
  /* The countries the shop ships to (from shipping.yaml, through the build; "*": everywhere), by name; the
     shop's own (its page's language, en-GB → GB), else the browser's, first and chosen; a lone one chosen. */
  function countries(select) {
    var names = window.Intl && Intl.DisplayNames ? new Intl.DisplayNames([lang], { type: "region" }) : { of: String };
    var list = [], home = (/-([A-Z]{2})$/.exec(lang) || /-([A-Z]{2})$/.exec(navigator.language) || [])[1];
    var only = ($("[data-ship-to]") || { getAttribute: String }).getAttribute("data-ship-to").split(" ").filter(function (c) { return /^[A-Z]{2}$/.test(c); });
    COUNTRIES.split(" ").forEach(function (g) { for (var i = 1; i < g.length; i++) list.push(g[0] + g[i]); });
    list = (only.length ? only : list).map(function (c) { return [c, names.of(c)]; });
    list.sort(function (a, b) { return a[0] === home ? -1 : b[0] === home ? 1 : a[1].localeCompare(b[1], lang); });
    select.appendChild(el("option", { value: "" }, "Choose a country"));
    list.forEach(function (c) { select.appendChild(el("option", { value: c[0] }, c[1])); });
    if (list[0][0] === home || list.length === 1) select.value = list[0][0];
  }
  /* The order as it stands: each line with its thumbnail, then the totals (drawn again for each delivery option). */
  function summary(cart) {
    var box = el("aside", { "class": "order-summary", "aria-label": "Order summary" });
    var more = box.appendChild(el("details", {}));
    var head = more.appendChild(el("summary", {}, "Order summary "));
    head.appendChild(el("span", { "class": "summary-total" }, money(cart.amount_due != null ? cart.amount_due : cart.total, cart.currency)));
    var list = more.appendChild(el("ul", { "class": "summary-lines" }));
    cart.lines.forEach(function (l) {
      var li = list.appendChild(el("li", {}));
      li.appendChild(thumb(l.sku)).appendChild(el("span", { "class": "thumb-count" }, String(l.quantity))).setAttribute("aria-hidden", "true");
      li.appendChild(el("span", { "class": "line-name" }, l.quantity + " × " + label(l)));
      li.appendChild(el("span", { "class": "line-total" }, money(l.line_total, cart.currency)));
    });
    /* Beside the form on a wide screen (open), folded under its total on a phone. */
    var wide = window.matchMedia && matchMedia("(min-width: 56rem)");
    more.open = !wide || wide.matches;
    if (wide && wide.addEventListener) wide.addEventListener("change", function () { more.open = wide.matches; });
    return box;
  }
  function step(id, title) {
    var s = el("section", { "class": "step", id: id, "aria-labelledby": id + "-h" });
    s.appendChild(el("h2", { id: id + "-h" }, title));
    return s;
  }
  function checkoutForm(cart) {
    checkoutBox.textContent = "";
    if (!cart || !cart.lines.length) {
      checkoutBox.appendChild(el("p", { "class": "lead" }, "Your basket is empty."));
      checkoutBox.appendChild(el("a", { href: "/products/", "class": "button" }, "Continue shopping"));
      return;
    }
    var grid = checkoutBox.appendChild(el("div", { "class": "checkout-grid" }));
    /* The summary first: on a phone it is the bar at the top that opens; on a wide screen the column beside. */
    var aside = grid.appendChild(summary(cart));
    var form = grid.appendChild(el("form", { novalidate: "" })), post = cart.needs_shipping !== false, found = { options: [] }, asked = 0, drawn = 0, wrong, last, timer, full = false;
    var alert = form.appendChild(el("p", { role: "alert", "class": "form-error" })), fields = {};
    function input(name) { return form.elements[name]; }
    var contact = form.appendChild(step("step-contact", "Contact")), deliver = form.appendChild(step("step-delivery", "Delivery")), paying = form.appendChild(step("step-payment", "Payment"));
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
      (f[0] === "vat_number" ? more : /^(email|shipping_address\.name)$/.test(f[0]) ? contact : deliver).appendChild(fields[f[0]]);
    });
    deliver.appendChild(box);
    deliver.appendChild(reason);
    deliver.appendChild(more);
    countries(input("shipping_address.country"));
    if (!post) deliver.appendChild(el("p", { "class": "notice" }, "Gift cards are sent by email: no delivery address needed."));
    var note = $("[data-payment-note]");
    paying.appendChild(note ? (note.hidden = false, note) : el("p", {}, "You see how to pay once the order is placed."));
    var sums = aside.firstChild.appendChild(el("div", { "class": "summary", "aria-live": "polite" }));
    sums.appendChild(totals(cart));
    /* The progress above the form follows the step being filled in. */
    var steps = $$(".progress li");
    form.addEventListener("focusin", function (event) {
      var at = [contact, deliver, paying].map(function (s) { return s.contains(event.target); }).indexOf(true);
      steps.forEach(function (li, i) { if (i === at) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current"); li.classList.toggle("done", i < at); });
    });
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
    function draw(q) { sums.replaceChild(totals(q), sums.firstChild); $(".summary-total", aside).textContent = money(q.amount_due != null ? q.amount_due : q.total, q.currency); }
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
    paying.appendChild(el("button", { type: "submit", "class": "button button-wide" }, "Place order"));
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
        var cur = order.currency, paid = order.payment_status === "paid", pickup = order.pickup;
        orderBox.appendChild(el("p", { "class": "lead" }, "Thank you! Your order number is " + order.number + "."));
        if (order.email) orderBox.appendChild(el("p", {}, "A confirmation is on its way to " + order.email + "."));
        /* How to pay first: it is what the shopper has to do now. */
        var how = orderBox.appendChild(el("section", { "class": "how-to-pay" }));
        how.appendChild(el("h2", {}, paid ? "Payment" : "How to pay"));
        var payment = JSON.parse(sessionStorage.getItem("tessera-payment-" + order.number) || "null");
        if (paid) how.appendChild(el("p", {}, "We have received your payment."));
        else if (order.status === "pending") how.appendChild(pay(order, payment));
        else how.appendChild(el("p", {}, "Payment: " + order.payment_status + "."));
        var what = orderBox.appendChild(el("section", { "class": "bought" }));
        what.appendChild(el("h2", {}, "What you bought"));
        var list = what.appendChild(el("ul", { "class": "summary-lines" }));
        order.lines.forEach(function (l) {
          var li = list.appendChild(el("li", {}));
          li.appendChild(thumb(l.sku));
          li.appendChild(el("span", { "class": "line-name" }, l.quantity + " × " + label(l)));
          li.appendChild(el("span", { "class": "line-total" }, money(l.line_total, cur) + (l.discount ? " (−" + money(l.discount, cur) + ")" : "")));
        });
        what.appendChild(totals(Object.assign({ tax_label: "Tax" }, order)));
        (order.gift_cards_used || []).forEach(function (g) { what.appendChild(el("p", {}, "Paid with gift card …" + g.last4 + ": " + money(g.amount, cur) + ".")); });
        orderBox.appendChild(handover(order));
        var next = orderBox.appendChild(el("section", { "class": "next-steps" }));
        next.appendChild(el("h2", {}, "What happens next"));
        var steps = next.appendChild(el("ol", {}));
        if (!paid && order.status === "pending") steps.appendChild(el("li", {}, "We start on your order as soon as your payment arrives."));
        steps.appendChild(el("li", {}, pickup ? "We get it ready for collection at the time you chose." : order.shipping_option ? "We pack it and send it on its way." : "We email you what you bought."));
        steps.appendChild(el("li", {}, pickup ? "Bring your order number, " + order.number + ", when you collect it." : order.shipping_option ? "You get an email with tracking when it is dispatched." : "Keep this page: it shows your order whenever you come back to it."));
        orderBox.appendChild(bought(order));
        orderBox.appendChild(el("p", { "class": "back-link" })).appendChild(el("a", { href: "/products/" }, "← Continue shopping"));
      }).catch(function (e) { announce(e.message); });
    } else {
      orderBox.appendChild(el("p", {}, "Open this page from the link in your order confirmation."));
    }
  }
});
