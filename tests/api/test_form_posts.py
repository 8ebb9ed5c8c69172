"""POST /api/forms/{name}: plain form posts and JSON, quiet refusals for robots, limits, origins."""

from __future__ import annotations

import json

import pytest

from content.registry import parse_features
from publish.catalog import import_snapshot

FIELD = {"required": False, "options": []}
CONTACT = {"title": "Contact us", "page": "/contact/", "success": "Thanks, we reply within a day.",
           "fields": [{**FIELD, "name": "name", "label": "Your name", "type": "text", "required": True},
                      {**FIELD, "name": "email", "label": "Email", "type": "email", "required": True},
                      {**FIELD, "name": "message", "label": "Message", "type": "textarea", "required": True},
                      {**FIELD, "name": "budget", "label": "Budget", "type": "select", "options": ["Small", "Large"]},
                      {**FIELD, "name": "quantity", "label": "Weekly loaves", "type": "number"},
                      {**FIELD, "name": "news", "label": "Newsletter", "type": "checkbox"}]}
GOOD = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello!\nTwo lines.", "budget": "Large"}


def publish_forms(world, slug: str, forms: dict) -> None:
    conn = world.tenants.open_db(slug)
    try:
        import_snapshot(conn, {"version": slug, "products": [], "forms": forms})
    finally:
        conn.close()


@pytest.fixture(name="site", scope="module")
def fx_site(world):
    publish_forms(world, "alpha", {"contact": CONTACT})
    publish_forms(world, "beta", {"wholesale": {**CONTACT, "page": "/wholesale/"}})
    world.tenants.create("nocms", "No CMS", parse_features("ecommerce"), starter="bakery")
    publish_forms(world, "nocms", {"contact": CONTACT})
    return world


@pytest.fixture(autouse=True)
def fx_fresh_limits(world):
    world.clear_login_failures()  # the rate limit counts in the same table; each test starts afresh


def origin(world, slug: str = "alpha") -> str:
    return f"http://{slug}.localhost:{world.base.rsplit(':', 1)[1]}"


def stored(world, slug: str = "alpha") -> list[dict]:
    conn = world.tenants.open_db(slug)
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM form_submissions ORDER BY id")]
    finally:
        conn.close()


def events(world, slug: str = "alpha") -> list[dict]:
    conn = world.tenants.open_db(slug)
    try:
        return [json.loads(r["data"]) for r in conn.execute("SELECT data FROM events WHERE kind = 'form.submitted' "
                                                            "ORDER BY id")]
    finally:
        conn.close()


def post(world, data=None, *, slug="alpha", form="contact", html=False, **kwargs):
    headers = {"Accept": "text/html,application/xhtml+xml"} if html else {}
    headers.update(kwargs.pop("headers", {}))
    with world.client(slug) as client:
        return client.post(f"/api/forms/{form}", data=data, headers=headers, **kwargs)


def test_a_plain_form_post_is_kept_and_redirects_to_the_thanks(site):
    before = len(stored(site))
    response = post(site, {**GOOD, "website": "", "_form": "contact", "unknown": "ignored"}, html=True,
                    headers={"Origin": origin(site)})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/contact/#contact-sent"
    row = stored(site)[-1]
    assert len(stored(site)) == before + 1
    assert (row["form"], row["page"], row["name"], row["email"], row["status"]) == (
        "contact", "/contact/", "Ada Lovelace", "ada@example.com", "new")
    assert json.loads(row["fields"]) == [{"name": "message", "label": "Message", "value": "Hello!\nTwo lines."},
                                         {"name": "budget", "label": "Budget", "value": "Large"}]
    # The event the staff email and webhooks read, committed with the row.
    assert events(site)[-1] == {
        "form": {"name": "contact", "title": "Contact us"},
        "submission": {"id": row["id"], "name": "Ada Lovelace", "email": "ada@example.com", "page": "/contact/",
                       "fields": [{"name": "message", "label": "Message", "value": "Hello!\nTwo lines."},
                                  {"name": "budget", "label": "Budget", "value": "Large"}]}}


def test_json_and_multipart_posts(site):
    with site.client("alpha") as client:
        response = client.post("/api/forms/contact", json={**GOOD, "quantity": 12, "news": True})
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "message": "Thanks, we reply within a day."}
        values = {f["name"]: f["value"] for f in json.loads(stored(site)[-1]["fields"])}
        assert values["quantity"] == "12" and values["news"] == "yes"
        response = client.post("/api/forms/contact", data={**GOOD, "name": "Multi Part"},
                               files={"attachment": ("x.txt", b"ignored")})
        assert response.status_code == 200, response.text
        assert stored(site)[-1]["name"] == "Multi Part"


@pytest.mark.parametrize("extra", [{"website": "http://spam.example"}, {"_elapsed": "800"}, {"_elapsed": "soon"}],
                         ids=["honeypot", "too fast", "nonsense time"])
def test_robots_are_refused_silently(site, extra):
    before = len(stored(site)), len(events(site))
    json_answer = post(site, {**GOOD, **extra})
    html_answer = post(site, {**GOOD, **extra}, html=True)
    assert json_answer.status_code == 200 and json_answer.json() == {"ok": True,
                                                                     "message": "Thanks, we reply within a day."}
    assert html_answer.status_code == 303 and html_answer.headers["location"] == "/contact/#contact-sent"
    assert (len(stored(site)), len(events(site))) == before


def test_a_person_taking_their_time_is_welcome(site):
    assert post(site, {**GOOD, "_elapsed": "45000"}).status_code == 200
    assert stored(site)[-1]["name"] == "Ada Lovelace"


def test_five_messages_per_address_in_ten_minutes(site):
    for n in range(5):
        assert post(site, {**GOOD, "name": f"Person {n}"}).status_code == 200
    refused = post(site, {**GOOD, "name": "Person 6"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 500
    assert "too many messages" in refused.json()["error"]["message"]
    page = post(site, {**GOOD, "name": "Person 6"}, html=True)
    assert page.status_code == 429 and "too many messages" in page.text.lower()
    assert stored(site)[-1]["name"] == "Person 4"
    assert post(site, {**GOOD}, slug="beta", form="wholesale").status_code == 200  # counted per site


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Referer": "https://evil.example/page"},
                                     {"Origin": "http://beta.localhost"}], ids=["origin", "null", "referer", "sibling"])
def test_posts_from_other_sites_are_refused(site, headers):
    before = len(stored(site))
    response = post(site, GOOD, headers=headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "cross_origin"
    assert len(stored(site)) == before


def test_the_sites_own_referer_is_fine(site):
    assert post(site, GOOD, headers={"Referer": origin(site) + "/contact/"}).status_code == 200


def test_without_the_cms_feature_the_route_is_off(site):
    response = post(site, GOOD, slug="nocms")
    assert response.status_code == 403 and response.json()["error"]["code"] == "feature_disabled"
    assert stored(site, "nocms") == []


def test_unknown_and_foreign_forms_are_not_found(site):
    for name in ("nope", "wholesale"):  # wholesale is beta's form, not alpha's
        response = post(site, GOOD, form=name)
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_form"
    assert post(site, GOOD, slug="beta", form="contact").status_code == 404


BAD = [
    ({"email": ""}, "email", "please fill in “Email”"),
    ({"email": "ada at example"}, "email", "“Email” is not an email address"),
    ({"message": "x" * 5001}, "message", "at most 5000 characters"),
    ({"name": "x" * 201}, "name", "at most 200 characters"),
    ({"budget": "Huge"}, "budget", "must be one of: Small, Large"),
    ({"quantity": "a dozen"}, "quantity", "must be a number"),
]


@pytest.mark.parametrize("change,field,message", BAD, ids=[b[1] + ":" + b[2][:12] for b in BAD])
def test_bad_fields_are_named(site, change, field, message):
    before = len(stored(site))
    response = post(site, {**GOOD, **change})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == field and message in error["message"]
    assert len(stored(site)) == before


def test_a_browser_gets_a_readable_page_naming_every_problem(site):
    response = post(site, {"name": "<b>Ada</b>", "email": "nope", "message": ""}, html=True)
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "The message was not sent" in response.text
    assert "is not an email address" in response.text and "Please fill in “Message”." in response.text
    assert "href='/contact/'" in response.text and "<b>" not in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_size_limits(site):
    response = post(site, {**GOOD, "padding": "x" * 40_000})
    assert response.status_code == 413 and response.json()["error"]["field"] == "body"
    response = post(site, content=b"name=a", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "body"
    response = post(site, content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "body"
    response = post(site, json={**GOOD, "budget": ["Small"]})
    assert response.status_code == 400 and response.json()["error"]["field"] == "budget"


@pytest.mark.parametrize("role", ["owner", "admin", "editor", "shop_manager"])
def test_staff_list_the_messages(site, role):
    post(site, {**GOOD, "name": "Listed"})
    with site.client("alpha", headers={"Authorization": f"Bearer {site.token('alpha', role)}"}) as client:
        response = client.get("/api/admin/forms/submissions", params={"form": "contact"})
        assert response.status_code == 200, response.text
        assert response.json()[0]["name"] == "Listed" and response.json()[0]["fields"][0]["name"] == "message"
        assert client.get("/api/admin/forms/submissions", params={"status": "bogus"}).status_code == 400
    with site.client("beta", headers={"Authorization": f"Bearer {site.token('beta', role)}"}) as client:
        assert all(r["name"] != "Listed" for r in client.get("/api/admin/forms/submissions").json())


def test_the_staff_list_needs_a_member(site):
    with site.client("alpha") as client:
        assert client.get("/api/admin/forms/submissions").status_code == 401
