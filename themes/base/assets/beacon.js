/* Tessera view beacon, only on sites behind a CDN (site.yaml: analytics: {beacon: true}): one
   sendBeacon per page view with the path and the referring page; no cookie, no storage, no id.
   A prerendered page reports its view only when someone actually opens it. */
(function (n, d, l) {
  function send() {
    if (n.sendBeacon) n.sendBeacon("/api/analytics/view", JSON.stringify({ path: l.pathname, referrer: d.referrer }));
  }
  if (d.prerendering) d.addEventListener("prerenderingchange", send, { once: true }); else send();
})(navigator, document, location);
