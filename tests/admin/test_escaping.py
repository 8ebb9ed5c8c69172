"""An XSS payload typed into every text field comes back escaped everywhere it is shown: admin pages,
error messages, the preview and the published site."""

from __future__ import annotations

import httpx

from tests.admin.test_content import png

PAYLOAD = "<img src=x onerror=alert(1)>\"'<b>"
RAW = "<img src=x onerror"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def test_every_field_escapes_the_payload(admin, site):
    owner = admin()
    owner.post("/pages/save", {"path": "", "kind": "page", "slug": "xss-page", "title": PAYLOAD, "excerpt": PAYLOAD,
                                     "meta_title": PAYLOAD, "meta_description": PAYLOAD, "tags": PAYLOAD,
                                     "body": PAYLOAD, "message": PAYLOAD})
    owner.post("/products/save", {"path": "", "slug": "xss-product", "name": PAYLOAD, "sku": "XSS-1",
                                        "price": "1.00", "categories": PAYLOAD, "excerpt": PAYLOAD,
                                        "meta_title": PAYLOAD, "meta_description": PAYLOAD, "body": PAYLOAD,
                                        "message": PAYLOAD})
    owner.http.post("/media/upload", data={"csrf_token": owner.csrf, "alt": PAYLOAD, "message": PAYLOAD},
                    files={"file": ("xss.png", png(), "image/png")})
    owner.post("/tokens/new", {"name": PAYLOAD})
    owner.post("/settings/site", {"name": PAYLOAD, "tagline": PAYLOAD, "description": PAYLOAD, "theme": "storefront",
                                        "payment_instructions": PAYLOAD, "message": PAYLOAD})  # shipping: shipping.yaml
    assert owner.repo().read("pages/xss-page.md") and owner.repo().read("products/xss-product.md")

    shown = {}
    for path in ["/", "/pages", f"/pages?q={PAYLOAD}", "/pages/edit?path=pages/xss-page.md",
                 "/history?path=pages/xss-page.md", "/products", "/products/edit?path=products/xss-product.md",
                 "/media", "/tokens", "/settings", "/users", "/deploys"]:
        response = owner.get(path)
        assert response.status_code == 200, path
        assert RAW not in response.text, path
        shown[path] = ESCAPED in response.text
    assert all(shown[p] for p in ["/pages/edit?path=pages/xss-page.md", "/products", "/media",
                                  "/tokens", "/settings", "/history?path=pages/xss-page.md"]), shown

    # Error messages repeat what was typed: escaped there too.
    for path, data in [("/users/invite", {"email": PAYLOAD, "role": "editor"}),
                       ("/settings/domains", {"action": "add", "domain": PAYLOAD})]:
        follow = owner.get(owner.post(path, data).headers["location"])
        assert RAW not in follow.text and "&lt;img" in follow.text, path

    preview = owner.post("/pages/preview", {"path": "pages/xss-page.md", "title": PAYLOAD, "body": PAYLOAD})
    assert preview.status_code == 200 and RAW not in preview.text

    assert owner.publish()["status"] == "done"
    host = {"Host": f"bakery.localhost:{site['port']}"}
    for url in ["/", "/xss-page/", "/products/xss-product/", "/products/"]:
        page = httpx.get(f"http://127.0.0.1:{site['port']}{url}", headers=host)
        assert page.status_code == 200, url
        assert RAW not in page.text and "onerror=alert(1)>" not in page.text, url
