"""The admin's main paths in Chromium: edit and publish and see it live, upload an image and sell a
new product with it, the live preview, and every admin page checked by axe and captured as a
screenshot (artifacts/screenshots/)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.browser.test_admin import admin, repo, sign_in

SHOTS = Path(os.environ.get("TESSERA_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")) / "screenshots"


def storefront(site, path: str) -> str:
    return f"http://bakery.localhost:{site['port']}{path}"


def wait_for_publish(page) -> None:
    """The dashboard's job list updates itself while a job runs; wait until the newest one is done."""
    page.locator("#jobs li").first.filter(has_text=re.compile(r": done|: failed")).wait_for(timeout=120_000)
    assert ": done" in page.locator("#jobs li").first.inner_text()


def test_edit_a_page_publish_and_see_it_on_the_storefront(site, page):
    sign_in(page, site)
    page.goto(admin(site, "/pages/edit?path=pages/delivery.md"))
    body = page.get_by_label("Text (Markdown)")
    body.fill(body.input_value() + "\n\nSaturday deliveries start in December.\n")
    page.get_by_label("What did you change?").fill("Saturday deliveries")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    page.get_by_role("link", name="Dashboard").click()
    before = page.locator("#last-publish").inner_text()
    page.get_by_role("button", name="Publish now").click()
    wait_for_publish(page)  # live progress, without reloading
    job_line = page.locator("#jobs li").first.inner_text()
    assert not re.search(r"\b[0-9a-f]{10}\b|\d{4}-\d\d-\dT", job_line), job_line  # no hashes or ISO times
    newest = re.search(r"deploy (\d+)", job_line).group(1)
    # The "Last publish" card follows without a reload.
    page.locator("#last-publish").filter(has_text=f"Deploy {newest}: live").wait_for(timeout=10_000)
    assert page.locator("#last-publish").inner_text() != before
    page.goto(storefront(site, "/delivery/"))
    assert page.get_by_text("Saturday deliveries start in December.").is_visible()


def test_live_preview_follows_typing(site, page):
    sign_in(page, site)
    page.goto(admin(site, "/pages/edit?path=pages/about.md"))
    frame = page.frame_locator("iframe.preview")
    frame.get_by_role("heading", level=1).first.wait_for()
    page.get_by_label("Text (Markdown)").fill("A *brand new* line for the preview.")
    frame.get_by_text("brand new").wait_for()
    assert frame.locator("em").first.inner_text() == "brand new"
    assert b"brand new" not in repo(site).read("pages/about.md")  # nothing saved by previewing


def test_upload_an_image_and_sell_a_new_product_with_it(site, page, tmp_path):
    photo = tmp_path / "Seeded Rolls.png"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (190, 140, 80)).save(buffer, "PNG")
    photo.write_bytes(buffer.getvalue())

    sign_in(page, site)
    page.get_by_role("link", name="Media").click()
    page.get_by_label("Images (choose, or drop them here)").set_input_files(str(photo))
    page.get_by_label("Alt text: what the image shows").fill("Six seeded rolls on a board")
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("status").filter(has_text="Uploaded seeded-rolls.png").wait_for()
    thumbnail = page.get_by_role("img", name="Six seeded rolls on a board")
    thumbnail.scroll_into_view_if_needed()
    thumbnail.wait_for()  # the thumbnail decoded and shown
    for _ in range(100):  # a lazy thumbnail loads once it is near the screen
        if thumbnail.evaluate("img => img.complete && img.naturalWidth") == 240:
            break
        page.wait_for_timeout(100)
    assert thumbnail.evaluate("img => img.naturalWidth") == 240

    page.get_by_role("link", name="Products").click()
    page.get_by_role("link", name="New product").click()
    page.get_by_label("Name").fill("Seeded Rolls")
    page.get_by_label("Sku (for a product without variants)").fill("SR-6")
    page.get_by_label("Price", exact=True).fill("3.60")
    page.get_by_label("Categories (comma separated)").fill("bread")
    page.get_by_role("checkbox", name="seeded-rolls.png").check()
    page.get_by_label("Description (Markdown)").fill("Six soft rolls with sunflower and pumpkin seeds.")
    page.frame_locator("iframe.preview").get_by_text("Six soft rolls").wait_for()  # previewed before saving
    page.get_by_label("What did you change?").fill("Add seeded rolls")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    # Stocked before its first publish, so it goes on sale with stock rather than sold out.
    assert page.get_by_text("Not in the shop yet").is_visible()
    page.get_by_label("On hand for SR-6").fill("8")
    page.get_by_role("button", name="Save stock").click()
    page.get_by_role("status").filter(has_text="Stock updated for SR-6.").wait_for()

    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("button", name="Publish now").click()
    wait_for_publish(page)

    page.goto(storefront(site, "/products/seeded-rolls/"))
    assert page.get_by_role("heading", name="Seeded Rolls").is_visible()
    image = page.get_by_role("img", name="Six seeded rolls on a board").first
    assert "seeded-rolls" in (image.get_attribute("src") or "")
    page.get_by_role("button", name=re.compile("Add to basket", re.I)).wait_for()
    assert page.get_by_role("button", name=re.compile("Add to basket", re.I)).is_enabled()  # in stock, live


ADMIN_PAGES = [
    ("dashboard", "/"), ("pages", "/pages"), ("page-editor", "/pages/edit?path=pages/about.md"),
    ("new-post", "/pages/edit?kind=post"), ("history", "/history?path=pages/about.md"), ("media", "/media"),
    ("products", "/products"), ("product-editor", "/products/edit?path=products/baguette.md"),
    ("new-product", "/products/edit"), ("orders", "/orders"), ("users", "/users"), ("settings", "/settings"),
    ("deploys", "/deploys"), ("account", "/tokens"), ("forgot", "/forgot"),
]


@pytest.mark.parametrize("name, path", ADMIN_PAGES, ids=[n for n, _ in ADMIN_PAGES])
def test_admin_page_has_no_serious_accessibility_violations(site, axe_admin, name, path):
    from axe_playwright_python.sync_playwright import Axe

    axe_admin.goto(admin(site, path))
    axe_admin.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    axe_admin.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)
    violations = [(v["id"], [n["target"] for n in v["nodes"]][:3])
                  for v in Axe().run(axe_admin).response["violations"] if v["impact"] in ("serious", "critical")]
    assert violations == [], violations


def test_signed_out_pages_have_no_serious_accessibility_violations(site, browser):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context()
    page = context.new_page()
    for name, url in [("login", admin(site, "/login")), ("platform-login", f"http://admin.localhost:{site['port']}/login")]:
        page.goto(url)
        page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)
        violations = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        assert violations == [], (name, violations)
    page.get_by_label("Email").fill("editor@agency.test")
    page.get_by_label("Password").fill("tessera-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your sites").wait_for()
    page.get_by_role("link", name="Studio Lumen").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    assert page.url.startswith(f"http://admin.localhost:{site['port']}/sites/studio/")
    context.close()


@pytest.fixture(name="axe_admin", scope="module")
def fx_axe_admin(site, browser):
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site)
    yield page
    context.close()


def test_drop_an_image_on_the_library_then_insert_it_into_a_page(site, page):
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (90, 120, 60)).save(buffer, "PNG")
    sign_in(page, site)
    page.goto(admin(site, "/media"))
    dropped = page.evaluate_handle("""bytes => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], "Herb Garden.png", {type: "image/png"}));
        return data;
    }""", list(buffer.getvalue()))
    page.dispatch_event("#upload", "drop", {"dataTransfer": dropped})
    assert page.evaluate("document.getElementById('m-file').files[0].name") == "Herb Garden.png"
    assert page.evaluate("document.activeElement.id") == "m-alt"  # the drop moves on to the alt text
    page.keyboard.type("Pots of herbs on a window sill")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="Uploaded herb-garden.png").wait_for()

    page.goto(admin(site, "/pages/edit?path=pages/wholesale.md"))
    page.get_by_label("Image", exact=True).select_option("herb-garden.png")
    page.get_by_role("button", name="Insert image").click()
    assert "![herb garden](media/herb-garden.png)" in page.get_by_label("Text (Markdown)").input_value()
    shown = page.frame_locator("iframe.preview").locator("img[alt='herb garden']").first
    shown.wait_for()
    # Not published yet, shown anyway: inlined, decoded.
    assert shown.evaluate("img => img.complete && img.naturalWidth > 0 && img.currentSrc.startsWith('data:image/webp')")


def test_menus_follow_the_role_and_direct_urls_are_refused(site, page):
    sign_in(page, site, email="editor@agency.test")
    menu = page.get_by_role("navigation", name="Admin")
    assert menu.get_by_role("link", name="Pages and posts").is_visible()
    assert menu.get_by_role("link", name="Orders").count() == 0 and menu.get_by_role("link", name="Users").count() == 0
    response = page.goto(admin(site, "/orders"))
    assert response.status == 403 and page.get_by_role("heading", name="Not allowed").is_visible()
    page.goto(admin(site, "/"))
    page.get_by_label("Site").select_option("studio")  # the switcher: the other site this account edits
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    assert page.url.startswith(f"http://admin.localhost:{site['port']}/sites/studio/")
    studio_menu = page.get_by_role("navigation", name="Admin")
    assert studio_menu.get_by_role("link", name="Orders").count() == 0  # an editor on this site too
    assert page.goto(f"http://admin.localhost:{site['port']}/sites/studio/orders").status == 403


def test_a_script_typed_into_fields_never_runs(site, page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    sign_in(page, site)
    page.goto(admin(site, "/pages/edit?kind=page"))
    page.get_by_label("Title", exact=True).fill(f"Hello {payload}")
    page.get_by_label(re.compile("^Slug")).fill("hello-xss")
    page.get_by_label("Excerpt").fill(payload)
    page.get_by_label("Tags (comma separated)").fill(payload)
    page.get_by_label("Text (Markdown)").fill(payload)
    page.get_by_label("What did you change?").fill(payload)
    page.frame_locator("iframe.preview").get_by_role("heading", name=re.compile("Hello")).first.wait_for()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    assert page.get_by_label("Title", exact=True).input_value() == f"Hello {payload}"  # kept as text
    for path in ("/pages?q=hello", "/", "/history?path=pages/hello-xss.md"):
        page.goto(admin(site, path))
        page.wait_for_load_state("networkidle")
    assert page.get_by_text(payload).first.is_visible()  # shown as the characters typed
    assert dialogs == []
