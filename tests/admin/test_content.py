"""Pages, preview, media and products through the admin forms: every save a commit, bad input named
and nothing saved, the preview rendered by the builder with the tenant's theme."""

from __future__ import annotations

import io
import re

import httpx
from PIL import Image

from tests.admin.conftest import alert


def png(width=64, height=48, colour=(200, 120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def upload(session, name: str, data: bytes, alt: str = "A test image", kind: str = "image/png"):
    return session.http.post("/media/upload", data={"csrf_token": session.csrf, "alt": alt},
                             files={"file": (name, data, kind)})


def test_new_post_is_a_commit_with_the_path_from_its_title(admin):
    owner = admin()
    form = owner.get("/pages/edit?kind=post")
    assert form.status_code == 200 and "New post" in form.text
    saved = owner.post("/pages/save", {"path": "", "kind": "post", "title": "Autumn Opening Hours",
                                             "tags": "news, hours", "body": "We open at 8.", "message": "Add hours"})
    assert saved.status_code == 303 and "path=posts/autumn-opening-hours.md" in saved.headers["location"]
    text = owner.repo().read("posts/autumn-opening-hours.md").decode()
    assert "title: Autumn Opening Hours" in text and "- news" in text and "We open at 8." in text
    again = owner.post("/pages/save", {"path": "", "kind": "post", "title": "Autumn opening hours", "body": "x",
                                             "message": "Again"})
    assert again.status_code == 409 and "already exists" in alert(again)


def test_a_broken_date_is_named_and_nothing_is_saved(admin):
    owner = admin()
    head = owner.repo().head()
    refused = owner.post("/pages/save", {"path": "pages/about.md", "base": head, "title": "About",
                                               "published_at": "next tuesday", "body": "x", "message": "Break it"})
    assert refused.status_code == 422
    assert "pages/about.md" in alert(refused) and "published_at" in alert(refused)
    assert owner.repo().head() == head


def test_preview_renders_a_draft_with_the_theme_and_sanitises_html(admin):
    owner = admin()
    response = owner.post("/pages/preview", {"path": "pages/about.md", "title": "About the bakery",
                                                   "status": "draft", "body": "Fresh **preview** marker.\n\n"
                                                   "<script>alert(1)</script><img src=x onerror=alert(2)>"})
    assert response.status_code == 200
    html = response.text
    assert "<strong>preview</strong> marker" in html
    assert "Rye &amp; Crumb Bakery" in html  # the theme's header with the site name
    assert "data:text/css;base64," in html  # the theme's stylesheet, inlined
    assert "<script>alert(1)" not in html and "onerror" not in html
    assert "sandbox" in response.headers["content-security-policy"]
    assert owner.repo().read("pages/about.md").count(b"marker") == 0  # previewing saves nothing


def test_preview_shows_problems_instead_of_a_page(admin):
    owner = admin()
    response = owner.post("/pages/preview", {"path": "pages/about.md", "title": "About",
                                                   "body": "See [missing](page:no-such-page)."})
    assert response.status_code == 422
    assert "no-such-page" in response.text


def _largest_upload(site) -> int:
    """The bakery's own largest upload, from its plan and limits: whatever plan the demo puts it on."""
    from content import plans
    from content.registry import Registry

    registry = Registry(site["data"] / "platform.db")
    try:
        return plans.limits_for(registry, registry.get("bakery"))["upload_bytes"]
    finally:
        registry.close()


def test_media_upload_checks_the_image_for_real(admin, site):
    owner = admin()
    head = owner.repo().head()
    largest = _largest_upload(site)
    no_alt = upload(owner, "photo.png", png(), alt="")
    assert no_alt.status_code == 303 and "alt%20text" in no_alt.headers["location"]
    for name, data, expected in [
        ("fake.jpg", b"this is not a picture at all", "not an image"),
        ("cut.png", png()[:60], "damaged"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        ("huge.jpg", b"\xff\xd8" + b"0" * (largest + 10), f"up to {largest // 2**20} MB"),
    ]:
        refused = upload(owner, name, data)
        assert refused.status_code == 303
        shown = owner.get(refused.headers["location"])
        assert expected in alert(shown), (name, alert(shown))
    assert owner.repo().head() == head  # nothing was committed

    done = upload(owner, "Shop Front (2).PNG", png())
    assert done.status_code == 303
    assert owner.repo().read("media/shop-front-2.png") == png()
    assert b"alt: A test image" in owner.repo().read("media/shop-front-2.png.yaml")
    again = upload(owner, "shop-front-2.png", png(colour=(1, 2, 3)))
    assert owner.repo().read("media/shop-front-2-2.png") is not None  # never overwritten

    library = owner.get("/media")
    assert "shop-front-2.png" in library.text and "![A test image](media/shop-front-2.png)" in library.text
    thumb = owner.get("/media/thumb?name=shop-front-2.png")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"
    assert owner.get("/media/thumb?name=../site.yaml").status_code == 400

    refused = owner.post("/media/delete", {"name": "baguette.jpg"})
    assert "used by products/baguette.md" in httpx.URL(refused.headers["location"]).params["error"]
    logo = owner.post("/media/delete", {"name": "logo.png"})
    assert "used by site.yaml (logo)" in httpx.URL(logo.headers["location"]).params["error"]
    assert owner.post("/media/delete", {"name": "shop-front-2-2.png"}).status_code == 303
    assert owner.repo().read("media/shop-front-2-2.png") is None and again.status_code == 303


def test_product_editor_names_bad_fields_then_creates_publishes_and_stocks(admin, site):
    manager = admin("bakery", "shop@bakery.test")
    head = manager.repo().head()
    base = {"path": "", "name": "Rye Crackers", "sku": "RC-1", "categories": "savoury", "track_stock": "1",
            "images": ["oat-cookies.jpg"], "body": "Thin and crisp.", "message": "Add crackers"}
    bad = manager.post("/products/save", {**base, "price": "4,50"})
    assert bad.status_code == 422 and "products/rye-crackers.md" in alert(bad) and "price" in alert(bad)
    rows_bad = manager.post("/products/save", {**base, "price": "4.50", "option_names": "Size", "variant.0.name": "Small",
                                               "variant.0.sku": "RC 1", "variant.0.price": "4,5"})
    assert rows_bad.status_code == 422 and "Variant 1 (Small): sku" in alert(rows_bad)
    assert "Variant 1 (Small): price" in alert(rows_bad)
    assert manager.repo().head() == head

    made = manager.post("/products/save", {**base, "price": "4.50"})
    assert made.status_code == 303
    text = manager.repo().read("products/rye-crackers.md").decode()
    assert 'price: \'4.50\'' in text or 'price: "4.50"' in text or "price: '4.50'" in text
    assert "oat-cookies.jpg" in text and manager.repo().history()[0].email == "shop@bakery.test"
    editor = manager.get("/products/edit?path=products/rye-crackers.md")
    assert "Not in the shop yet" in editor.text and 'name="on_hand.RC-1"' in editor.text

    # Stocked before its first publish, so it goes on sale with stock rather than sold out.
    stocked = manager.post("/stock", {"path": "products/rye-crackers.md", "on_hand.RC-1": "12"})
    assert "Stock%20updated%20for%20RC-1" in stocked.headers["location"]
    assert 'value="12"' in manager.get("/products/edit?path=products/rye-crackers.md").text
    never = manager.post("/stock", {"path": "products/rye-crackers.md", "on_hand.NOT-SAVED": "3"})
    assert "NOT-SAVED" in httpx.URL(never.headers["location"]).params["error"]

    job = manager.publish()
    assert job["status"] == "done", job
    shop = httpx.get(f"http://127.0.0.1:{site['port']}/products/rye-crackers/", headers={"Host": f"bakery.localhost:{site['port']}"})
    assert shop.status_code == 200 and "Rye Crackers" in shop.text

    api = httpx.get(f"http://127.0.0.1:{site['port']}/api/products/rye-crackers",
                    headers={"Host": f"bakery.localhost:{site['port']}"}).json()
    assert api["variants"][0]["available"] == 12
    wrong = manager.post("/stock", {"path": "products/rye-crackers.md", "on_hand.RC-1": "-3"})
    assert "whole number" in httpx.URL(wrong.headers["location"]).params["error"]


def test_product_preview_uses_the_product_template(admin):
    owner = admin()
    response = owner.post("/products/preview", {"path": "products/baguette.md", "name": "Baguette Tradition",
                                                      "price": "2.40", "images": ["baguette.jpg"],
                                                      "variants": "options:\n  - name: Pack\n    values: [Single]\n"
                                                                  "variants:\n  - sku: BG-1\n    options: {Pack: Single}\n",
                                                      "body": "Now with more crust."})
    assert response.status_code == 200
    assert "Now with more crust." in response.text and "2.40" in response.text


def test_the_preview_takes_images_from_the_installations_shared_cache(admin, site):
    """A preview needs the image's sizes: it reads them from the derivatives every build shares, and
    makes none of its own in the tenant's folder."""
    owner = admin()
    response = owner.post("/products/preview", {"path": "products/baguette.md", "name": "Baguette Tradition",
                                                      "price": "2.40", "images": ["baguette.jpg"],
                                                      "variants": "options:\n  - name: Pack\n    values: [Single]\n"
                                                                  "variants:\n  - sku: BG-1\n    options: {Pack: Single}\n",
                                                      "body": "Shared images."})
    assert response.status_code == 200 and "Shared images." in response.text
    assert list((site["data"] / "cache" / "images").glob("*/*/meta.json"))
    assert not (site["data"] / "tenants" / "bakery" / "cache" / "build" / "images").exists()


def test_history_and_undo_cover_products_and_settings(admin):
    owner = admin()
    history = owner.get("/history?path=products/baguette.md")
    assert history.status_code == 200 and "Create Rye" in history.text
    assert owner.get("/history?path=../../etc/passwd").status_code == 400
    assert owner.get("/history?path=media/baguette.jpg").status_code == 400


def test_long_lists_come_in_pages(admin):
    from content.gitrepo import Author

    owner = admin()
    owner.repo().write({f"posts/note-{i:03d}.md": f"---\ntitle: Note {i:03d}\n---\nZyxwv note.\n".encode() for i in range(120)},
                       Author("Bulk", "bulk@example.test"), "Many notes")
    first = owner.get("/pages?q=Zyxwv")
    assert first.text.count("/pages/edit?path=posts/note-") == 100
    assert "1–100 of 120." in first.text and 'rel="next"' in first.text
    second = owner.get("/pages?q=Zyxwv&n=2")
    assert second.text.count("/pages/edit?path=posts/note-") == 20 and 'rel="prev"' in second.text
    assert "posts/note-119.md" in second.text
    assert owner.get("/pages?q=Zyxwv&n=99").status_code == 200  # past the end: the last page
    # Taken away again: 120 more posts would leave the demo's Starter plan over its limit for later tests.
    owner.repo().write({f"posts/note-{i:03d}.md": None for i in range(120)}, Author("Bulk", "bulk@example.test"),
                       "Remove the notes")


def test_a_file_broken_through_git_opens_as_a_readable_error(admin):
    from content.gitrepo import Author

    owner = admin()
    owner.repo().write({"pages/broken.md": b"---\ntitle: [unclosed\n---\nText.\n",
                        "products/broken.md": b"---\nname: Broken\n"},
                       Author("Git User", "git@example.test"), "Broken by hand")
    for path in ("/pages/edit?path=pages/broken.md", "/products/edit?path=products/broken.md"):
        response = owner.get(path)
        assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
        assert "cannot be opened in the form" in response.text and "/history?path=" in response.text
    assert "not valid YAML (line 3: expected" in owner.get("/pages/edit?path=pages/broken.md").text
    for path, data in [("/users/role", {"user": "abc", "role": "editor"}),
                       ("/deploys/rollback", {"deploy": "1; DROP TABLE deploys"})]:
        response = owner.post(path, data)
        assert response.status_code == 400 and "must be a whole number" in response.text
    assert owner.get("/history").status_code == 400  # a missing parameter: a page, not a crash
    owner.repo().write({"pages/broken.md": None, "products/broken.md": None}, Author("Git User", "git@example.test"),
                       "Remove the broken files")


def test_products_come_in_pages_too(admin):
    from content.gitrepo import Author

    owner = admin()
    owner.repo().write({f"products/jar-{i:03d}.md": f"---\nname: Jam jar {i:03d}\nsku: JAR-{i:03d}\nprice: '3.00'\n---\n"
                        .encode() for i in range(105)}, Author("Bulk", "bulk@example.test"), "Many jars")
    first = owner.get("/products?q=jam%20jar")
    assert first.text.count("/products/edit?path=products/jar-") == 100 and "1–100 of 105." in first.text
    second = owner.get("/products?q=jam%20jar&n=2")
    assert second.text.count("/products/edit?path=products/jar-") == 5 and 'rel="prev"' in second.text
    owner.repo().write({f"products/jar-{i:03d}.md": None for i in range(105)}, Author("Bulk", "bulk@example.test"),
                       "Remove the jars")  # as above: the plan's product limit


def test_a_scheduled_post_goes_live_on_time_by_itself(admin, site):
    from datetime import datetime, timedelta, timezone

    import httpx

    owner = admin()
    soon = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
    saved = owner.post("/pages/save", {"path": "", "kind": "post", "title": "Midnight Loaves",
                                             "published_at": soon.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                                             "body": "Out of the oven at midnight.", "message": "Schedule it"})
    message = httpx.URL(saved.headers["location"]).params["saved"]
    assert "scheduled: it goes live on" in message
    assert "scheduled" in owner.get("/pages?q=Midnight").text
    url = f"http://127.0.0.1:{site['port']}/blog/midnight-loaves/"
    host = {"Host": f"bakery.localhost:{site['port']}"}
    assert httpx.get(url, headers=host).status_code == 404  # not before its time
    job = owner.wait_for_job(saved.headers["location"].replace("%20", " "))
    assert job["status"] == "done" and job["run_after"] <= job["started_at"]
    assert datetime.fromisoformat(job["started_at"]) >= soon
    assert "Out of the oven at midnight." in httpx.get(url, headers=host).text


def test_a_save_from_the_conflict_page_overwrites_only_after_merging(admin):
    """Someone saved while you edited: the conflict page holds your text, and pressing Save again
    must not silently replace theirs; it does so only when you say you merged their version."""
    owner, editor = admin(), admin("bakery", "editor@agency.test")
    form = editor.get("/pages/edit?path=pages/about.md").text
    base = re.search(r'name="base" value="([0-9a-f]+)"', form).group(1)
    owner.post("/pages/save", {"path": "pages/about.md", "title": "About us", "body": "Their words.",
                               "message": "Theirs"})
    mine = {"path": "pages/about.md", "title": "About", "body": "My words.", "message": "Mine", "base": base}
    conflict = editor.post("/pages/save", mine)
    assert conflict.status_code == 409 and "Their words." in conflict.text
    shown_base = re.search(r'name="base" value="([0-9a-f]+)"', conflict.text).group(1)
    theirs = re.search(r'name="theirs" value="([0-9a-f]+)"', conflict.text).group(1)
    assert shown_base == base and theirs == owner.repo().head()
    again = editor.post("/pages/save", {**mine, "base": shown_base, "theirs": theirs})  # Save, nothing ticked
    assert again.status_code == 409 and b"Their words." in owner.repo().read("pages/about.md")
    merged = editor.post("/pages/save", {**mine, "base": shown_base, "theirs": theirs, "merged": "yes",
                                         "body": "Their words. My words."})
    assert merged.status_code == 303 and b"Their words. My words." in owner.repo().read("pages/about.md")


def test_undo_needs_the_right_to_change_every_file_the_change_touched(admin):
    """Undoing a change is changing its files: an editor cannot undo an owner's price change by
    undoing a commit that also touched a page."""
    from content.gitrepo import Author

    owner, editor = admin(), admin("bakery", "editor@agency.test")
    repo = owner.repo()
    price = repo.read("products/baguette.md").replace(b'price: "2.40"', b'price: "0.01"', 1)
    sha = repo.write({"pages/about.md": repo.read("pages/about.md") + b"\nNew line.\n", "products/baguette.md": price},
                     Author("Owner", "owner@bakery.test"), "Prices and about")
    head = repo.head()
    refused = editor.post("/revert", {"sha": sha, "path": "pages/about.md"})
    assert refused.status_code == 403 and "products/baguette.md (products:write)" in refused.text
    assert repo.head() == head
    undone = owner.post("/revert", {"sha": sha, "path": "pages/about.md"})
    assert undone.status_code == 303 and repo.head() != head


def test_preview_cannot_run_code_from_a_theme_template(admin, tmp_path):
    """A template already in the repository (pushed before templates were sandboxed, or imported)
    is rendered sandboxed by the preview too: a 422 naming the template, not its code run."""
    from content.gitrepo import Author

    owner = admin()
    repo = owner.repo()
    marker = tmp_path / "pwned"
    escape = "{{ cycler.__init__.__globals__.os.makedirs(%r) }}" % str(marker)
    template = f'{{% extends "theme:page.html" %}}\n{{% block main %}}\n{escape}\n{{% endblock %}}\n'
    author = Author("Test", "test@example.test")
    repo.write({"theme/templates/page.html": template.encode()}, author, "A template from before the sandbox")
    try:
        response = owner.post("/pages/preview", {"path": "pages/about.md", "title": "About", "body": "Hello."})
    finally:
        repo.write({"theme/templates/page.html": None}, author, "Remove it")
    assert response.status_code == 422
    assert "theme/templates/page.html:3: access to attribute" in response.text
    assert "sandbox" in response.text
    assert not marker.exists()
