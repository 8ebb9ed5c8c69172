"""Editing through the admin as people expect of a product: the commit message is optional with a
sensible default, and a save rewrites only what changed (a one-word edit is a one-line diff)."""

from __future__ import annotations

import html as html_
import re

import httpx

from tests.admin.conftest import status


def _form(session, path: str) -> dict[str, str]:
    """The editor's fields as the browser would send them back unchanged."""
    html = session.get(f"/pages/edit?path={path}").text
    fields = {m.group(1): m.group(2) for m in re.finditer(r'<input id="f-[a-z_]+" name="([a-z_]+)" value="([^"]*)"', html)}
    fields["body"] = re.search(r'<textarea id="f-body" name="body">(.*?)</textarea>', html, re.S).group(1)
    fields["base"] = re.search(r'name="base" value="([^"]*)"', html).group(1)
    return {k: html_.unescape(v) for k, v in fields.items()} | {"path": path, "status": "published"}


def test_a_one_word_title_edit_is_a_one_line_diff(admin):
    owner = admin()
    form = _form(owner, "pages/about.md")
    assert form["title"] == "About the bakery"
    saved = owner.post("/pages/save", {**form, "title": "About the shop", "message": "Rename"})
    assert saved.status_code == 303, saved.text
    diff = owner.repo().git("diff", "--no-color", "-U0", "HEAD~1", "HEAD").stdout.decode()
    assert diff.split("@@", 1)[1] == (" -2 +2 @@\n"
                                      "-title: About the bakery\n"
                                      "+title: About the shop\n")


def test_the_commit_message_defaults_to_what_was_done(admin):
    owner = admin()
    repo = owner.repo()
    form = _form(owner, "pages/delivery.md")
    saved = owner.post("/pages/save", {**form, "body": form["body"] + "\nMore.", "message": ""})
    assert saved.status_code == 303 and "Saved" in status(owner.get(saved.headers["location"]))
    assert repo.history(limit=1)[0].message == f"Update {form['title']}"
    created = owner.post("/pages/save", {"path": "", "kind": "post", "title": "Winter hours", "body": "Closed.",
                                         "message": ""})
    assert created.status_code == 303 and repo.history(limit=1)[0].message == "Create Winter hours"
    removed = owner.post("/pages/remove", {"path": "posts/winter-hours.md"})
    assert removed.status_code == 303 and repo.history(limit=1)[0].message == "Remove Winter hours"
    editor = owner.get("/pages/edit?path=pages/delivery.md").text
    field = re.search(r'<input id="f-message"[^>]*>', editor).group(0)
    assert "required" not in field and f'placeholder="Update {form["title"]}"' in field


def _rows(html: str) -> list[tuple[str, str, str, str]]:
    """(name, sku, price, stock) of each variant row the product editor shows."""
    found = {}
    for m in re.finditer(r'name="variant\.(\d+)\.(name|sku|price|stock)" value="([^"]*)"', html):
        found.setdefault(int(m.group(1)), {})[m.group(2)] = m.group(3)
    return [(r.get("name", ""), r.get("sku", ""), r.get("price", ""), r.get("stock", "")) for _, r in sorted(found.items())]


BAGUETTE = {"path": "products/baguette.md", "name": "Baguette Tradition", "price": "2.40", "images": ["baguette.jpg"],
            "categories": "bread", "weight": "250", "track_stock": "1",
            "excerpt": "A French-style baguette with a thin, crackling crust. Best eaten the day it arrives.",
            "option_names": "Pack", "variant.0.key": "0", "variant.0.name": "Single", "variant.0.sku": "BG-1",
            "variant.1.key": "1", "variant.1.name": "Pack of 3", "variant.1.sku": "BG-3", "variant.1.price": "6.50"}


def test_variants_are_rows_with_blank_ones_to_add_more(admin):
    owner = admin()
    html = owner.get("/products/edit?path=products/baguette.md").text
    assert 'name="variants"' not in html  # no YAML to write
    rows = _rows(html)
    assert [r[:3] for r in rows] == [("Single", "BG-1", ""), ("Pack of 3", "BG-3", "6.50"), ("", "", ""), ("", "", "")]
    head = owner.repo().head()
    more = owner.post("/products/save", {**BAGUETTE, "variant.2.name": "Pack of 6", "add_row": "1"})
    assert more.status_code == 200 and owner.repo().head() == head  # re-rendered, nothing saved
    assert [r[:2] for r in _rows(more.text)] == [("Single", "BG-1"), ("Pack of 3", "BG-3"), ("Pack of 6", ""),
                                                 ("", ""), ("", ""), ("", "")]


def test_the_products_images_are_listed_in_its_order_so_a_save_keeps_the_main_picture(admin):
    owner = admin()
    html = owner.get("/products/edit?path=products/country-sourdough.md").text
    boxes = re.findall(r'<input type="checkbox" name="images" value="([^"]+)"( checked)?', html)
    assert boxes[:2] == [("country-sourdough.jpg", " checked"), ("country-sourdough-crumb.jpg", " checked")]
    assert not any(checked for _, checked in boxes[2:]) and len(boxes) > 2  # then the rest of Media


def test_rows_save_prices_new_variants_stock_and_removals(admin):
    owner = admin()
    repo = owner.repo()
    bad = owner.post("/products/save", {**BAGUETTE, "variant.1.price": "6,90", "variant.2.name": "Pack of 6",
                                        "variant.3.name": "Pack of 9", "variant.3.sku": "BG-1"})
    text = html_.unescape(" ".join(re.sub(r"<[^>]+>", " ", bad.text).split()))
    assert bad.status_code == 422
    assert 'Variant 2 (Pack of 3): price "6,90" is not a decimal price' in text
    assert "Variant 3 (Pack of 6): sku is required" in text
    assert "Variant 4 (Pack of 9): sku BG-1 is also the sku of variant 1" in text
    saved = owner.post("/products/save", {**BAGUETTE, "variant.1.price": "6.90", "variant.2.name": "Pack of 6",
                                          "variant.2.sku": "BG-6", "variant.2.price": "12.00", "variant.2.stock": "5"})
    assert saved.status_code == 303, saved.text
    assert "Stock updated for BG-6" in status(owner.get(saved.headers["location"]))
    text = repo.read("products/baguette.md").decode()
    assert "values:\n  - Single\n  - Pack of 3\n  - Pack of 6" in text or "[Single, Pack of 3, Pack of 6]" in text
    assert "sku: BG-6" in text and "12.00" in text and "6.90" in text
    assert repo.history(limit=1)[0].message == "Update Baguette Tradition"
    html = owner.get("/products/edit?path=products/baguette.md").text
    assert ("Pack of 6", "BG-6", "12.00", "5") in _rows(html)
    gone = owner.post("/products/save", {**BAGUETTE, "variant.1.price": "6.90", "variant.1.remove": "1"})
    assert gone.status_code == 303
    text = repo.read("products/baguette.md").decode()
    assert "BG-3" not in text and "BG-6" not in text and "Pack of 3" not in text


def test_people_who_may_not_change_products_or_stock_cannot_through_the_rows(admin):
    editor = admin("bakery", "editor@agency.test")
    html = editor.get("/products/edit?path=products/baguette.md").text
    assert ("Single", "BG-1", "", "") in _rows(html)  # seen, stock not editable
    assert "Add a row" not in html and ">Save</button>" not in html
    head = editor.repo().head()
    for form in ({**BAGUETTE, "add_row": "1"}, {**BAGUETTE, "variant.0.price": "0.01"}):
        assert editor.post("/products/save", form).status_code == 403
    assert editor.repo().head() == head


def test_history_reads_as_fields_and_words_with_the_diff_a_click_away_and_undo_works(admin):
    owner = admin()
    repo = owner.repo()
    form = _form(owner, "pages/wholesale.md")
    old_title = form["title"]
    first_word = form["body"].split()[0]
    saved = owner.post("/pages/save", {**form, "title": "Wholesale orders", "meta_title": "For cafés",
                                       "body": form["body"].replace(first_word, "Indeed " + first_word, 1)})
    assert saved.status_code == 303
    page = owner.get("/history?path=pages/wholesale.md").text
    latest = page.split('<section class="change"', 2)[1]
    assert f"<del>{html_.escape(old_title)}</del>" in latest and "<ins>Wholesale orders</ins>" in latest
    assert "<ins>For cafés</ins>" in latest and "(none)" in latest
    assert re.search(r"<ins>Indeed\s*</ins>", latest)
    assert "<details><summary>Exact change (diff)</summary>" in latest and "+title: Wholesale orders" in latest
    undo = owner.post("/revert", {"path": "pages/wholesale.md", "sha": repo.history(limit=1)[0].sha})
    assert undo.status_code == 303 and "Change undone" in status(owner.get(undo.headers["location"]))
    assert f"title: {old_title}" in repo.read("pages/wholesale.md").decode()


def test_the_media_library_is_a_grid_of_thumbnails_with_alt_text_and_no_file_paths(admin):
    owner = admin()
    library = owner.get("/media").text
    main = library.split('<main id="main">', 1)[1]
    visible = html_.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", "", main, flags=re.S)))
    assert "media/" not in visible and ".jpg" not in visible  # no file names or paths to read
    tiles = dict(re.findall(r'<li class="tile" id="(m-[0-9a-f]+)">(.*?)</li>', library, re.S))
    assert tiles and all('src="' in t and "/media/thumb?name=" in t for t in tiles.values())
    anchor, baguette = next((a, t) for a, t in tiles.items() if 'value="baguette.jpg"' in t)
    assert 'name="alt"' in baguette and "In use" in baguette and "Baguette Tradition" in baguette
    assert 'data-copy="![' in baguette and "](media/baguette.jpg)" in baguette  # still there to copy
    saved = owner.post("/media/alt", {"name": "baguette.jpg", "alt": "A long golden baguette"})
    assert saved.headers["location"].endswith(f"#{anchor}")


def _order(site, key: str) -> int:
    api, host = f"http://127.0.0.1:{site['port']}", {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    assert httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host,
                      json={"sku": "AF-6", "quantity": 2}).status_code == 201
    return httpx.post(f"{api}/api/checkout", headers={**host, "Idempotency-Key": key}, json={
        "cart_token": cart["token"], "email": "shopper@example.test",
        "shipping_address": {"name": "Ann <b>Shopper</b>", "line1": "1 Main St", "city": "Leith",
                             "postal_code": "EH6 6AA", "country": "GB"}}).json()["order"]["number"]


def _next_step(html: str) -> list[str]:
    found = re.search(r'<section class="next[^"]*".*?</section>', html, re.S)
    buttons = re.findall(r"<button[^>]*>([^<]+)</button>", found.group(0)) if found else []
    return [b for b in buttons if b not in ("Save tracking and note", "Cancel order")]


def test_the_order_page_shows_badges_next_steps_and_a_packing_slip(admin, site):
    manager = admin("bakery", "shop@bakery.test")
    number = _order(site, "edit-order-1")
    html = manager.get(f"/orders/{number}").text
    assert '<span class="badge badge-warn">pending</span>' in html
    assert '<span class="badge badge-warn">Payment pending</span>' in html
    assert _next_step(html) == ["Mark as paid"]
    paid = manager.post(f"/orders/{number}/paid")
    html = manager.get(paid.headers["location"]).text
    assert '<span class="badge badge-ok">Payment paid</span>' in html and _next_step(html) == ["Mark as shipped"]
    shipped = manager.post(f"/orders/{number}/status", {"status": "shipped"})
    html = manager.get(shipped.headers["location"]).text
    assert '<span class="badge badge-ok">shipped</span>' in html and _next_step(html) == ["Mark as delivered"]
    slip = re.search(r'<section class="slip" aria-label="Packing slip">(.*?)</section>', html, re.S).group(1)
    assert "Ann &lt;b&gt;Shopper&lt;/b&gt;" in slip and "EH6 6AA Leith" in slip and "AF-6" in slip
    assert "€" not in slip and "£" not in slip  # a packing slip shows no prices
    assert "@media print" in html and "main>*:not(.slip){display:none!important}" in html
    editor = admin("bakery", "editor@agency.test")
    assert editor.get(f"/orders/{number}").status_code == 403
