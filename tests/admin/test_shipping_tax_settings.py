"""Settings → Shipping and Settings → Tax: the flat rate of a shop without shipping.yaml, the button
that starts zones from it (one commit: shipping.yaml added, site.yaml's block gone), shipping.yaml
edited as text beside its summary, refused saves that name the line and keep what was typed, and the
tax form that keeps the file's own rates. The tests run in order on one demo installation."""

from __future__ import annotations

import html
import re
import textwrap

import pytest
import yaml

from commerce_api.admin import shipping_summary, tax
from content.gitrepo import Author, Repository
from tests.admin.conftest import alert, status

EXAMPLE = textwrap.dedent("""\
    zones:
      - name: United Kingdom
        id: uk
        countries: [GB]
        exclude_postcodes: ["BT*"]
        methods:
          - name: Royal Mail Tracked 48
            id: tracked-48
            free_over: "50.00"
            estimate: "2–3 working days"
            weight_bands:
              - {up_to: 1000, price: "3.95"}
              - {up_to: 5000, price: "7.95"}
            excludes: {products: [], categories: [cakes]}
      - name: Everywhere else
        countries: ["*"]
        methods:
          - name: International
            subtotal_bands:
              - {from: "0", price: "12.00"}
              - {from: "100.00", price: "6.00"}
    local_delivery:
      - name: Bakery van, Leith and Edinburgh
        id: van
        countries: [GB]
        postcodes: ["EH1", "EH6", "EH7 4*"]
        price: "3.50"
        min_order: "15.00"
        free_over: "40.00"
        estimate: "Next morning, 7–10am"
    pickup:
      - name: Rye & Crumb, Leith Walk
        id: leith-walk
        address: "112 Leith Walk, Edinburgh EH6 5DT"
        country: GB
        hours:
          mon: "08:00-16:00"
          sat: ["08:00-12:00", "13:00-15:00"]
        slot_minutes: 30
        capacity: 5
        preparation_minutes: 120
        cutoff: "14:00"
        closed: [2026-12-25, 2026-12-26]
        days_ahead: 7
    """)


def textarea(response, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', response.text, re.S)
    assert found, f"no textarea {name}"
    return html.unescape(found.group(1))


def field(response, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', response.text)
    assert found, f"no field {name}"
    return html.unescape(found.group(1))


def flat_rate(site, tax: dict | None = None) -> None:
    """Make the bakery a shop from before shipping zones (a flat rate in site.yaml, no shipping.yaml),
    whatever its starter ships with."""
    repo = Repository(site["data"] / "tenants" / "bakery" / "repo.git")
    data = yaml.safe_load(repo.read("site.yaml"))
    data["shipping"] = {"flat_rate": "4.95", "free_over": "40.00", "countries": ["GB"]}
    data["tax"] = tax or {"rate": 0, "inclusive": True, "label": "VAT"}
    changes = {"site.yaml": yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()}
    if repo.read("shipping.yaml") is not None:
        changes["shipping.yaml"] = None
    repo.write(changes, Author("Tests", "tests@example.test"), "A flat rate, as before shipping zones")


def site_yaml(owner) -> dict:
    return yaml.safe_load(owner.repo().read("site.yaml"))


@pytest.fixture(name="flat_rate_shop", scope="module")
def fx_flat_rate_shop(site):
    """The bakery as a shop from before shipping zones: a flat rate in site.yaml, no shipping.yaml."""
    flat_rate(site)


def test_a_flat_rate_shop_edits_its_rate_and_a_refused_value_stays_in_the_form(admin, flat_rate_shop):
    owner = admin()
    page = owner.get("/settings/shipping")
    assert page.status_code == 200
    assert field(page, "flat_rate") == "4.95" and field(page, "free_over") == "40.00" and field(page, "countries") == "GB"
    assert "Start zones from these settings" in page.text
    assert 'name="csrf_token"' in page.text and '<label for="s-flat">' in page.text
    head = owner.repo().head()

    bad = owner.post("/settings/shipping/flat-rate", {"flat_rate": "free", "free_over": "40.00", "countries": "gb, ie"})
    assert bad.status_code == 422 and "site.yaml" in alert(bad) and "flat_rate" in alert(bad)
    assert field(bad, "flat_rate") == "free" and field(bad, "countries") == "gb, ie"  # nothing typed is lost
    assert owner.repo().head() == head

    done = owner.post("/settings/shipping/flat-rate", {"flat_rate": "3.50", "free_over": "30.00", "countries": "gb, ie"})
    assert done.status_code == 303
    assert site_yaml(owner)["shipping"] == {"flat_rate": "3.50", "free_over": "30.00", "countries": ["GB", "IE"]}
    assert "redirects" in site_yaml(owner)  # the rest of site.yaml is kept


def test_the_site_form_no_longer_touches_shipping_or_tax(admin, flat_rate_shop):
    owner = admin()
    before = site_yaml(owner)
    page = owner.get("/settings")
    assert 'name="flat_rate"' not in page.text and 'name="tax_rate"' not in page.text
    assert f'href="{owner.base}/settings/shipping"' in page.text and f'href="{owner.base}/settings/tax"' in page.text
    form = dict(re.findall(r'name="(colour_[a-z]+)" type="color" value="([^"]+)"', page.text))
    done = owner.post("/settings/site", {"name": "Rye & Crumb Bakery", "theme": "storefront", **form,
                                         "logo": "bakery-front.jpg", "payment_instructions": "Pay by transfer.",
                                         "message": "Instructions"})
    assert done.status_code == 303, done.text
    after = site_yaml(owner)
    assert after["shipping"] == before["shipping"] and after["tax"] == before["tax"]
    assert after["payment_instructions"] == "Pay by transfer."


def test_starting_zones_writes_the_same_rules_as_shipping_yaml_in_one_commit(admin, flat_rate_shop):
    owner = admin()
    repo = owner.repo()
    assert repo.read("shipping.yaml") is None
    started = owner.post("/settings/shipping/start", {"base": repo.head()})
    assert started.status_code == 303, started.text
    assert "Collection from the shop is off until" in status(owner.get(started.headers["location"]))
    written = repo.read("shipping.yaml").decode()
    assert yaml.safe_load(written) == {"zones": [{
        "name": "Standard delivery", "id": "standard", "countries": ["GB", "IE"],
        "methods": [{"name": "Delivery", "id": "delivery", "price": "3.50", "free_over": "30.00"}]}]}
    pickup = yaml.safe_load("\n".join(line.removeprefix("# ") for line in written.splitlines()
                                      if line.startswith(("# pickup", "#   ", "#     "))))
    assert pickup["pickup"][0]["country"] == "GB" and pickup["pickup"][0]["hours"]["mon"] == "09:00-17:00"
    assert "shipping" not in site_yaml(owner) and "redirects" in site_yaml(owner)
    last = repo.history()[0]
    assert last.message == "Start shipping zones from the flat rate"
    assert repo.history(path="shipping.yaml")[0].sha == repo.history(path="site.yaml")[0].sha == last.sha

    page = owner.get("/settings/shipping")
    assert 'name="flat_rate"' not in page.text and "Start zones" not in page.text
    assert textarea(page, "yaml") == repo.read("shipping.yaml").decode()
    assert "Standard delivery" in page.text and "£3.50" in page.text and "free over £30.00" in page.text
    assert "No collection points." in page.text
    again = owner.post("/settings/shipping/start", {})
    assert again.status_code == 303 and "exists already" in again.headers["location"].replace("%20", " ")


def test_a_file_that_is_not_yaml_is_refused_with_its_line_and_the_text_is_kept(admin, flat_rate_shop):
    owner = admin()
    head = owner.repo().head()
    typed = "zones:\n  - name: UK\n    countries: [GB\n    methods: []\n"
    refused = owner.post("/settings/shipping/save", {"yaml": typed, "message": "Broken", "base": head})
    assert refused.status_code == 422
    assert re.search(r"Line \d+", alert(refused)) and "invalid YAML" in alert(refused)
    assert textarea(refused, "yaml") == typed  # every character the person typed, back in the box
    assert field(refused, "message") == "Broken"
    assert 'aria-invalid="true"' in refused.text
    assert owner.repo().head() == head

    not_a_mapping = owner.post("/settings/shipping/save", {"yaml": "- just\n- a list\n", "base": head})
    assert not_a_mapping.status_code == 422 and "Line 1" in alert(not_a_mapping)
    assert textarea(not_a_mapping, "yaml") == "- just\n- a list\n"
    empty = owner.post("/settings/shipping/save", {"yaml": "  \n", "base": head})
    assert empty.status_code == 422 and "empty" in alert(empty)
    assert owner.repo().head() == head


def test_a_saved_file_is_summarised_in_words(admin, flat_rate_shop):
    owner = admin()
    repo = owner.repo()
    saved = owner.post("/settings/shipping/save", {"yaml": EXAMPLE.replace("\n", "\r\n"), "message": "Zones and pickup",
                                               "base": repo.head()})
    assert saved.status_code == 303, alert(saved) or saved.text
    assert repo.read("shipping.yaml").decode() == EXAMPLE
    assert repo.history()[0].message == "Zones and pickup"
    page = owner.get("/settings/shipping").text
    summary = page[page.index('id="summary-h"'):page.index('id="format"')]
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", summary)).split())
    for words in ["United Kingdom Countries: GB; not BT*",
                  "Royal Mail Tracked 48 by weight up to 1 kg: £3.95 up to 5 kg: £7.95 2–3 working days "
                  "free over £50.00; not for categories cakes",
                  "Everywhere else Countries: everywhere else",
                  "International by order value from £0.00: £12.00 from £100.00: £6.00",
                  "Bakery van, Leith and Edinburgh GB: EH1, EH6, EH7 4* £3.50 Next morning, 7–10am "
                  "free over £40.00; orders from £15.00",
                  "Rye & Crumb, Leith Walk 112 Leith Walk, Edinburgh EH6 5DT (GB). Price: free.",
                  "Monday 08:00–16:00 Saturday 08:00–12:00, 13:00–15:00",
                  "Closed on Tuesday, Wednesday, Thursday, Friday, Sunday.",
                  "Slots 30 minutes, 5 orders per slot",
                  "Ready after 120 minutes; orders after 14:00 cannot be collected the same day",
                  "Offered 7 days ahead", "Closed dates 2026-12-25, 2026-12-26"]:
        assert words in text, words
    assert summary.count('<th scope="col">') >= 8 and summary.count('<th scope="row">') >= 5


def test_people_who_may_only_read_settings_see_no_save_and_cannot_save(admin, flat_rate_shop):
    editor = admin("bakery", "editor@agency.test")
    head = editor.repo().head()
    page = editor.get("/settings/shipping")
    assert page.status_code == 200 and "Save shipping" not in page.text and " readonly" in page.text
    assert editor.post("/settings/shipping/save", {"yaml": "zones: []\n"}).status_code == 403
    assert editor.post("/settings/tax/save", {"label": "Mine"}).status_code == 403
    tax_page = editor.get("/settings/tax")
    assert tax_page.status_code == 200 and "Save tax settings" not in tax_page.text
    owner = admin()
    assert owner.post("/settings/shipping/save", {"yaml": "zones: []\n"}, csrf=False).status_code == 403
    assert owner.post("/settings/tax/save", {"label": "Forged"}, csrf=False).status_code == 403
    assert editor.repo().head() == head


def test_the_tax_form_shows_the_dated_starter_table_and_saves_the_legacy_rate(admin, flat_rate_shop):
    owner = admin()
    page = owner.get("/settings/tax")
    assert page.status_code == 200
    details = re.search(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", page.text, re.S)
    assert details.group(1) == "EU VAT rates as of 1 January 2026 — check before relying on them"
    assert "Germany (DE)" in details.group(2) and "<td>19 %</td><td>7 %</td>" in details.group(2)
    for label in ("t-origin", "t-rate", "t-label"):
        assert f'<label for="{label}">' in page.text
    assert "Only meaningful when the shop sells from an EU country" in page.text
    assert '<option value="DE">Germany (EU)</option>' in page.text and '<option value="GB">United Kingdom</option>' in page.text

    bad = owner.post("/settings/tax/save", {"origin": "", "rate": "lots", "label": "Sales tax", "prices_include_tax": "1"})
    assert bad.status_code == 422 and "percentage from 0 to 100" in alert(bad)
    assert field(bad, "rate") == "lots" and field(bad, "label") == "Sales tax"
    unknown = owner.post("/settings/tax/save", {"origin": "ZZ", "rate": "", "label": "VAT"})
    assert unknown.status_code == 422 and "choose a country from the list" in alert(unknown)

    done = owner.post("/settings/tax/save", {"origin": "", "rate": "20", "label": "VAT", "shipping": "1",
                                        "message": "Charge VAT"})
    assert done.status_code == 303, alert(done) or done.text
    # The file's own key for inclusive prices is kept; defaults the file did not have are not added.
    assert site_yaml(owner)["tax"] == {"rate": 20, "inclusive": False, "label": "VAT"}
    assert owner.repo().history()[0].message == "Charge VAT"


def test_tax_settings_keep_the_files_own_rates_and_keys():
    tax_block = {"rate": 19, "inclusive": True, "label": "VAT", "rates": {"GB": {"standard": 20, "reduced": 5}}}
    sent = {"origin": "DE", "prices_include_tax": True, "oss": True, "shipping": True, "label": "MwSt", "rate": ""}
    assert tax.updated(tax_block, sent) == {"inclusive": True, "label": "MwSt", "rates": {"GB": {"standard": 20,
                                                                                                 "reduced": 5}},
                                            "origin": "DE", "oss": True}
    written = {"origin": "DE", "prices_include_tax": False, "oss": True, "shipping": False, "label": "VAT"}
    back_to_legacy = {"origin": "", "prices_include_tax": False, "oss": False, "shipping": True, "label": "", "rate": "7"}
    assert tax.updated(written, back_to_legacy) == {"prices_include_tax": False, "oss": False, "shipping": True,
                                                    "label": "VAT", "rate": 7}
    assert tax.fields_of({"inclusive": False})["prices_include_tax"] is False
    assert [c for c, _ in tax.countries({"rates": {"US": {"standard": 0}, "US-NY": {"standard": 8.875}}})].count("US") == 1


def test_the_legacy_flat_rate_as_shipping_yaml():
    site = {"name": 'Rye "&" Crumb', "shipping": {"flat_rate": 4.95, "countries": ["gb"]}, "tax": {"origin": "DE"}}
    written = shipping_summary.from_legacy(site, country="DE").decode()
    assert yaml.safe_load(written) == {"zones": [{"name": "Standard delivery", "id": "standard", "countries": ["GB"],
                                                  "methods": [{"name": "Delivery", "id": "delivery", "price": "4.95"}]}]}
    assert "#     address: \"Rye '&' Crumb, street, town\"" in written and "#     country: DE" in written
    nothing = yaml.safe_load(shipping_summary.from_legacy({}))
    assert nothing["zones"][0]["countries"] == ["*"] and nothing["zones"][0]["methods"][0]["price"] == "0"
