"""Discounts in the admin, on the demo installation: the list in words and local time, creating and
editing in pounds and London time, refusals shown next to the form with what was typed kept, pause and
resume, and who may."""

from __future__ import annotations

import html
import re

from commerce_api.shop import discounts
from content.tenants import Tenants
from tessera.settings import ROOT
from tests.admin.conftest import alert, status


def row_of(listing, name: str) -> str:
    found = re.search(r"<tr>\s*<th scope=\"row\"><a href=\"[^\"]+\">" + re.escape(name) + r"</a>.*?</tr>",
                      listing.text, re.S)
    assert found, name
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def stored(site, code: str) -> discounts.Discount:
    conn = Tenants(site["data"], ROOT / "sites").open_db("bakery")
    try:
        return discounts.get(conn, conn.execute("SELECT id FROM discounts WHERE code = ?", (code,)).fetchone()[0])
    finally:
        conn.close()


def test_the_demo_code_is_listed_in_words(admin):
    listing = admin("bakery", "shop@bakery.test").get("/discounts")
    assert listing.status_code == 200
    assert 'aria-current="page">Discounts</a>' in listing.text
    assert row_of(listing, "WELCOME10") == \
        "WELCOME10 Welcome: 10 % off 10 % off the order orders of £20.00 or more always 0 active Pause WELCOME10"


def test_create_edit_pause_and_resume(admin, site):
    manager = admin("bakery", "shop@bakery.test")
    form = manager.get("/discounts/new")
    assert form.status_code == 200
    assert '<option value="dark-rye">Dark Rye</option>' in form.text  # the published catalog, by name
    assert '<legend>When (the shop\'s local time, Europe/London)</legend>' in form.text
    saved = manager.post("/discounts/save", {"code": "rye5", "title": "", "kind": "amount", "value": "5.00",
                                             "target": "products", "products": ["dark-rye", "seeded-spelt"],
                                             "min_subtotal": "", "min_quantity": "2", "starts_at": "2027-03-01 09:00",
                                             "ends_at": "2027-03-31 23:59", "usage_limit": "50",
                                             "per_email_limit": "1", "status": "active"})
    assert saved.status_code == 303, saved.text
    listing = manager.get(saved.headers["location"])
    assert status(listing) == "Saved RYE5."
    assert row_of(listing, "RYE5") == ("RYE5 £5.00 off Dark Rye, Seeded Spelt at least 2 items; 1 per email address "
                                       "2027-03-01 09:00 to 2027-03-31 23:59 0 of 50 active Pause RYE5")
    made = stored(site, "RYE5")
    assert made.value == 500 and made.products == {"dark-rye", "seeded-spelt"}
    assert made.starts_at == "2027-03-01T09:00:00+00:00" and made.ends_at == "2027-03-31T22:59:00+00:00"  # BST

    edit = manager.get(f"/discounts/{made.id}")
    assert 'value="5.00"' in edit.text and 'value="2027-03-31 23:59"' in edit.text
    assert '<option value="dark-rye" selected>' in edit.text
    changed = manager.post("/discounts/save", {"id": str(made.id), "code": "RYE5", "title": "Rye week",
                                               "kind": "percent", "value": "12.5", "target": "order",
                                               "products": ["dark-rye"], "starts_at": "", "ends_at": "",
                                               "usage_limit": "", "per_email_limit": "", "combines": "1",
                                               "status": "active"})
    assert changed.status_code == 303, changed.text
    again = stored(site, "RYE5")
    assert (again.kind, again.value, again.target, again.products, again.usage_limit, again.combines) == \
        ("percent", 1250, "order", frozenset(), None, True)

    paused = manager.post(f"/discounts/{made.id}/pause")
    assert paused.status_code == 303
    assert status(manager.get(paused.headers["location"])) == "RYE5 is paused: shoppers can no longer use it."
    assert stored(site, "RYE5").status == "paused"
    assert "Resume RYE5" in row_of(manager.get("/discounts"), "RYE5")
    manager.post(f"/discounts/{made.id}/resume")
    assert stored(site, "RYE5").status == "active"


def test_refusals_name_the_field_and_keep_what_was_typed(admin):
    owner = admin()
    typed = {"code": "SPRING", "title": "Spring", "kind": "amount", "value": "5,00", "target": "order",
             "min_subtotal": "30.00", "starts_at": "2027-04-01 10:00", "ends_at": "", "usage_limit": "10",
             "per_email_limit": "", "status": "active"}
    refused = owner.post("/discounts/save", typed)
    assert refused.status_code == 400
    assert html.unescape(alert(refused)) == 'Not saved: value: "5,00" is not a decimal price (use digits and a dot, e.g. "12.50")'
    assert 'name="value" value="5,00" inputmode="decimal" style="max-width:10rem" aria-describedby="value-help" ' \
           'aria-invalid="true"' in refused.text
    for kept in ('value="SPRING"', 'value="30.00"', 'value="2027-04-01 10:00"', 'value="10"'):
        assert kept in refused.text
    late = owner.post("/discounts/save", {**typed, "value": "5.00", "ends_at": "2027-03-01 10:00"})
    assert late.status_code == 400 and alert(late) == "Not saved: ends_at: must be after starts_at"
    taken = owner.post("/discounts/save", {**typed, "code": "welcome10", "value": "5.00"})
    assert taken.status_code == 409 and "the code WELCOME10 is taken" in alert(taken)
    nameless = owner.post("/discounts/save", {**typed, "code": "", "title": "", "value": "5.00"})
    assert "an automatic discount (no code) needs a title" in alert(nameless)


def test_editors_and_shops_without_ecommerce_have_no_discounts(admin):
    editor = admin("bakery", "editor@agency.test")
    assert "/discounts" not in editor.get("/").text
    assert editor.get("/discounts").status_code == 403
    refused = editor.post("/discounts/save", {"code": "EDITOR", "kind": "percent", "value": "50"})
    assert refused.status_code == 403
    assert editor.post("/discounts/1/pause").status_code == 403
    operator = admin("bakery", "admin@tessera.test")  # both demo sites have shops: make one without
    created = operator.post("/tenants/create", {"slug": "folio-only", "name": "Folio only", "starter": "studio",
                                                "features": ["cms"]})
    assert created.status_code == 303
    shopless = admin("folio-only", "admin@tessera.test")
    assert ">Discounts<" not in shopless.get("/").text
    assert shopless.get("/discounts").status_code == 403
