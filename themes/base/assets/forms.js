/* Tessera forms: send a page's form with fetch and answer in place. Without this script the form
   still works: a plain POST, answered with a redirect back to #<form>-sent. */
(function () {
  "use strict";
  if (!window.fetch || !window.URLSearchParams) return;
  var loaded = Date.now();
  function $(id) { return document.getElementById(id); }
  Array.prototype.forEach.call(document.querySelectorAll("form[data-form]"), function (form) {
    var name = form.getAttribute("data-form"), status = form.querySelector("[data-form-status]"),
      button = form.querySelector("[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = new URLSearchParams(new FormData(form));
      body.set("_elapsed", String(Date.now() - loaded));  /* people take seconds; robots do not */
      Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
        el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); $(el.id + "-error").textContent = "";
      });
      status.textContent = ""; button.disabled = true;
      fetch(form.getAttribute("action"), { method: "POST", body: body, headers: { "Accept": "application/json" } })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (data) {
            if (r.ok) { HTMLFormElement.prototype.reset.call(form); location.hash = name + "-sent"; $(name + "-sent").focus(); return; }
            var error = data.error || {}, field = error.field && $(name + "-" + error.field);
            if (field) {
              field.setAttribute("aria-invalid", "true"); field.setAttribute("aria-describedby", field.id + "-error");
              $(field.id + "-error").textContent = error.message; field.focus();
            }
            status.textContent = error.message || "Something went wrong; please try again.";
          });
        }, function () { status.textContent = "The message could not be sent; check your connection and try again."; })
        .then(function () { button.disabled = false; });
    });
  });
})();
