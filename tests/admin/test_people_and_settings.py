"""Users, invitations by email (a real SMTP server takes them), API tokens, settings (a commit to
site.yaml), domains checked over real DNS, payments keys write-only, deploys and rollback, orders."""

from __future__ import annotations

import re

import httpx

from tests.admin.conftest import alert, status


def test_an_invitation_is_mailed_and_its_link_works_once(admin, mailbox, site):
    # The demo bakery is on Business: its three staff leave room to invite someone (the seat limit itself:
    # test_seats_domains_publishes_admin.py).
    owner = admin()
    sent = owner.post("/users/invite", {"email": "new.baker@example.test", "role": "editor"})
    assert sent.status_code == 303 and "Invitation%20sent" in sent.headers["location"]
    [mail] = [m for m in mailbox.messages if m["To"] == "new.baker@example.test"]
    body = mail.get_payload(decode=True).decode()
    assert "Rye & Crumb Bakery" in mail["Subject"]
    link = re.search(r"http://admin\.localhost:\d+/sites/bakery/invite\?token=\S+", body).group(0)
    assert link.startswith(f"http://admin.localhost:{site['port']}/sites/bakery/invite?token=")
    path = link.split(str(site["port"]), 1)[1]
    assert "new.baker@example.test" in owner.get("/users").text  # listed as waiting

    guest = admin("bakery", "")
    form = guest.get(path)
    assert form.status_code == 200 and "Choose a password" in form.text
    token = path.split("token=", 1)[1]
    short = guest.http.post("/invite/accept", data={"token": token, "name": "New Baker", "password": "short"})
    assert short.status_code == 422 and "password" in alert(short).lower()
    joined = guest.http.post("/invite/accept", data={"token": token, "name": "New Baker",
                                                           "password": "a long enough password"})
    assert joined.status_code == 303 and "tessera_session" in joined.headers["set-cookie"]
    assert "new.baker@example.test (editor)" in guest.get("/").text
    reused = admin("bakery", "").http.get(path)
    assert reused.status_code == 401 and "expired, was used or was withdrawn" in reused.text
    elsewhere = admin("studio", "").http.get(path.replace("/sites/bakery/", "/sites/studio/"))  # means nothing there
    assert elsewhere.status_code == 401


def test_roles_change_and_the_last_owner_stays(admin):
    owner = admin()
    shop_id = member_ids(owner.get("/users").text)["shop@bakery.test"]
    assert owner.post("/users/role", {"user": shop_id, "role": "admin"}).status_code == 303
    assert "Admin" in owner.get("/users").text
    owner.post("/users/role", {"user": shop_id, "role": "shop_manager"})
    admin_ = admin("bakery", "shop@bakery.test")
    assert "Users" not in re.search(r'<nav aria-label="Admin">(.*?)</nav>', admin_.get("/").text, re.S).group(1)


def member_ids(page: str) -> dict[str, str]:
    """email → user id, from the role forms of a Users page."""
    found = re.findall(r'name="user" value="(\d+)">\s*<label class="skip" for="role-\d+">Role for ([^<]+)</label>', page)
    return {email: user_id for user_id, email in found}


def test_an_admin_cannot_make_or_unmake_owners(admin):
    owner = admin()
    manager_id = member_ids(owner.get("/users").text)["shop@bakery.test"]
    owner.post("/users/role", {"user": manager_id, "role": "admin"})
    made_admin = admin("bakery", "shop@bakery.test")
    page = made_admin.get("/users").text
    assert '<option value="owner"' not in page  # the role is not even offered
    refused = made_admin.post("/users/invite", {"email": "x@example.test", "role": "owner"})
    assert "only an owner" in httpx.URL(refused.headers["location"]).params["error"]
    demoted = made_admin.post("/users/role", {"user": member_ids(page)["owner@bakery.test"], "role": "editor"})
    assert "only an owner" in httpx.URL(demoted.headers["location"]).params["error"]
    users = owner.get("/users").text
    assert "x@example.test" not in users and ">Owner</td>" in users
    owner.post("/users/role", {"user": manager_id, "role": "shop_manager"})


def test_api_tokens_are_shown_once_and_revocable(admin, site):
    owner = admin()
    page = owner.post("/tokens/new", {"name": "deploy script"})
    token = re.search(r'<code class="copy">(tsr_[^<]+)</code>', page.text).group(1)
    api = httpx.get(f"http://127.0.0.1:{site['port']}/api/auth/me", headers={
        "Host": f"bakery.localhost:{site['port']}", "Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    listing = owner.get("/tokens").text
    assert token not in listing and "deploy script" in listing
    token_id = re.search(r'name="id" value="(\d+)"><button type="submit" class="danger">Revoke<span class="skip"> deploy script',
                         listing).group(1)
    owner.post("/tokens/revoke", {"id": token_id})
    again = httpx.get(f"http://127.0.0.1:{site['port']}/api/auth/me", headers={
        "Host": f"bakery.localhost:{site['port']}", "Authorization": f"Bearer {token}"})
    assert again.status_code == 401


def test_settings_are_a_commit_and_bad_values_are_refused(admin):
    owner = admin()
    head = owner.repo().head()
    form = {"name": "Rye & Crumb", "tagline": "Bread", "theme": "storefront", "colour_primary": "#112233",
            "colour_accent": "#c98a2e", "colour_background": "#fbf7f1", "colour_text": "#2b211a", "logo": "bakery-front.jpg",
            "payment_instructions": "Pay by transfer.", "message": "New colours"}
    bad = owner.post("/settings/site", {**form, "name": ""})  # shipping: shipping.yaml (test_shipping_content_check.py)
    assert "site.yaml" in httpx.URL(bad.headers["location"]).params["error"]
    assert owner.repo().head() == head
    assert "primary colour must look like #" in httpx.URL(owner.post("/settings/site", {
        **form, "colour_primary": "red"}).headers["location"]).params["error"]
    # Colours people cannot read are refused with their contrast, and nothing is saved.
    pale = httpx.URL(owner.post("/settings/site", {**form, "colour_text": "#a09080"}).headers["location"]).params["error"]
    assert "text #a09080 on background #fbf7f1 has a contrast of 2.89:1; text needs at least 4.5:1" in pale
    assert owner.repo().head() == head
    done = owner.post("/settings/site", form)
    assert done.status_code == 303 and "saved" in done.headers["location"]
    saved = owner.repo().read("site.yaml").decode()
    assert "primary: '#112233'" in saved and "Pay by transfer." in saved
    assert "redirects:" in saved and "navigation:" in saved and "tax:" in saved  # keys the form does not show are kept
    assert owner.repo().history()[0].message == "New colours"


def test_payment_keys_are_write_only(admin):
    owner = admin()
    secret, webhook = "sk_test_51Abcdefghijklmnopqrstuv9876", "whsec_abcdefghijklmnop1234"
    owner.post("/settings/payments", {"provider": "stripe", "stripe_secret_key": secret,
                                            "stripe_webhook_secret": webhook})
    page = owner.get("/settings").text
    assert secret not in page and webhook not in page
    assert "sk_test_…9876" in page
    kept = owner.post("/settings/payments", {"provider": "stripe", "stripe_secret_key": "",
                                                   "stripe_webhook_secret": ""})
    assert "Stripe" in httpx.URL(kept.headers["location"]).params["saved"]
    bad = owner.post("/settings/payments", {"provider": "stripe", "stripe_secret_key": "pk_live_oops"})
    assert "sk_" in httpx.URL(bad.headers["location"]).params["error"]
    owner.post("/settings/payments", {"provider": "manual"})
    assert "manual (bank transfer" in owner.get("/settings").text


def test_domains_show_the_record_and_verify_over_dns(admin, dns):
    owner = admin()
    added = owner.post("/settings/domains", {"action": "add", "domain": "Shop.Rye.Example"})
    assert added.status_code == 303
    page = owner.get("/settings").text
    record = re.search(r'<code class="copy">(_tessera-challenge\.shop\.rye\.example)</code> TXT <code class="copy">'
                       r'(tessera-verify=[^<]+)</code>', page)
    assert record
    early = owner.post("/settings/domains", {"action": "verify", "domain": "shop.rye.example"})
    assert "no TXT record" in httpx.URL(early.headers["location"]).params["error"]
    dns.records[record.group(1)] = [record.group(2)]
    ok = httpx.URL(owner.post("/settings/domains", {"action": "verify", "domain": "shop.rye.example"})
                   .headers["location"]).params
    assert "is verified" in ok.get("saved", ""), (dict(ok), dns.errors)
    primary = owner.post("/settings/domains", {"action": "primary", "domain": "shop.rye.example"})
    assert "shop.rye.example (primary)" in owner.get("/settings").text
    job = owner.wait_for_job(primary.headers["location"])  # canonical URLs follow the new address
    assert job["status"] == "done", job
    assert "https://shop.rye.example/" in (owner.site["data"] / "tenants" / "bakery" / "build" / "sitemap.xml").read_text()
    stranger = admin("studio", "owner@studio.test")
    taken = stranger.post("/settings/domains", {"action": "remove", "domain": "shop.rye.example"})
    assert "no domain" in httpx.URL(taken.headers["location"]).params["error"]


def test_deploy_history_and_rollback(admin, site):
    owner = admin("studio", "owner@studio.test")
    owner.post("/pages/save", {"path": "pages/about.md", "title": "About", "body": "Rolled forward.",
                                     "message": "Forward"})
    assert owner.publish()["status"] == "done"
    host = {"Host": f"studio.localhost:{site['port']}"}
    assert "Rolled forward." in httpx.get(f"http://127.0.0.1:{site['port']}/about/", headers=host).text
    page = owner.get("/deploys").text
    previous = re.findall(r'name="deploy" value="(\d+)"', page)[0]
    rolled = owner.post("/deploys/rollback", {"deploy": previous})
    job = owner.wait_for_job(rolled.headers["location"])
    assert job["status"] == "done" and "rolled studio back" in job["log"]
    assert "Rolled forward." not in httpx.get(f"http://127.0.0.1:{site['port']}/about/", headers=host).text
    assert f"(back to {previous})" in owner.get("/deploys").text


def test_orders_filter_by_payment_and_date_and_refund(admin, site):
    owner = admin()
    api = f"http://127.0.0.1:{site['port']}"
    host = {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host, json={"sku": "CB-4", "quantity": 1})
    order = httpx.post(f"{api}/api/checkout", headers={**host, "Idempotency-Key": "admin-refund-1"}, json={
        "cart_token": cart["token"], "email": "shopper@example.test",
        "shipping_address": {"name": "Ann Shopper", "line1": "1 Main St", "city": "Leith", "postal_code": "EH6 6AA",
                             "country": "GB"}}).json()["order"]
    number = order["number"]
    assert f"/orders/{number}" not in owner.get("/orders?payment=paid").text
    pending = owner.get("/orders?payment=pending").text
    assert f"/orders/{number}" in pending
    csv_link = re.search(r'href="(/sites/bakery/api/admin/orders\.csv\?[^"]+)"', pending).group(1).replace("&amp;", "&")
    assert csv_link == "/sites/bakery/api/admin/orders.csv?payment_status=pending"
    rows = owner.http.get(csv_link).text.splitlines()
    assert rows[0].startswith("number,") and all(",pending," in row for row in rows[1:]) and len(rows) > 1
    assert f"/orders/{number}" not in owner.get("/orders?until=2020-01-01").text
    assert owner.get("/orders?since=yesterday").status_code == 400
    owner.post(f"/orders/{number}/paid")
    detail = owner.get(f"/orders/{number}").text
    assert "Refund" in detail
    refunded = owner.post(f"/orders/{number}/refund")
    assert "Refunded" in httpx.URL(refunded.headers["location"]).params["saved"]
    assert f"/orders/{number}" in owner.get("/orders?payment=refunded").text
    again = owner.post(f"/orders/{number}/refund")
    assert "nothing to refund" in httpx.URL(again.headers["location"]).params["error"]


def _order(site, key: str) -> int:
    api, host = f"http://127.0.0.1:{site['port']}", {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host, json={"sku": "CB-4", "quantity": 1})
    return httpx.post(f"{api}/api/checkout", headers={**host, "Idempotency-Key": key}, json={
        "cart_token": cart["token"], "email": "shopper@example.test",
        "shipping_address": {"name": "Ann Shopper", "line1": "1 Main St", "city": "Leith", "postal_code": "EH6 6AA",
                             "country": "GB"}}).json()["order"]["number"]


def _state(owner, number: int) -> str:
    """The order's status and payment as its page's badges show them, in words."""
    page = owner.get(f"/orders/{number}").text
    status, payment = re.search(r'<span class="badge badge-\w+">(\w+)</span>\s*<span class="badge badge-\w+">'
                                r'Payment (\w+)</span>', page).groups()
    return f"<p><strong>{status}</strong>, payment {payment}"


def test_tracking_numbers_and_notes_never_change_an_orders_status(admin, site):
    owner = admin()
    pending = _order(site, "status-form-1")
    page = owner.get(f"/orders/{pending}").text
    form = page[page.index("/status\">"):]
    form = form[:form.index("</form>")]
    # No status is preselected: the first button (what Enter presses) keeps the status.
    assert "<select" not in form and re.search(r'<button type="submit" name="status" value=""[ >]', form)
    assert form.index('value=""') < form.index('name="status" value="cancelled"')
    owner.post(f"/orders/{pending}/status", {"note": "Called the customer", "tracking_number": ""})
    assert _state(owner, pending).startswith("<p><strong>pending</strong>, payment pending")
    assert "<li>Called the customer</li>" in owner.get(f"/orders/{pending}").text  # a note is shown, not lost
    owner.post(f"/orders/{pending}/paid")
    owner.post(f"/orders/{pending}/status", {"tracking_number": "RM123456785GB", "note": "", "status": ""})
    assert _state(owner, pending).startswith("<p><strong>processing</strong>, payment paid")
    assert "Tracking: RM123456785GB" in owner.get(f"/orders/{pending}").text

    # Cancelling a paid order asks first, and says the money is not returned.
    asked = owner.post(f"/orders/{pending}/status", {"status": "cancelled", "note": "", "tracking_number": ""})
    assert asked.status_code == 200 and "nothing is refunded" in asked.text
    assert _state(owner, pending).startswith("<p><strong>processing</strong>")
    confirmed = owner.post(f"/orders/{pending}/status", {"status": "cancelled", "confirm": "yes", "note": "",
                                                         "tracking_number": ""})
    assert confirmed.status_code == 303
    assert _state(owner, pending) == "<p><strong>cancelled</strong>, payment paid"

    unpaid = _order(site, "status-form-2")  # an unpaid order is simply cancelled: nothing to say about money
    owner.post(f"/orders/{unpaid}/status", {"status": "cancelled", "note": "", "tracking_number": ""})
    assert _state(owner, unpaid) == "<p><strong>cancelled</strong>, payment cancelled"


def test_colours_the_site_never_set_stay_the_themes(admin):
    from content.gitrepo import Author

    owner = admin("studio", "owner@studio.test")
    repo = owner.repo()
    trimmed = "\n".join(line for line in repo.read("site.yaml").decode().splitlines() if "background:" not in line)
    repo.write({"site.yaml": trimmed.encode() + b"\n"}, Author("Ines", "owner@studio.test"), "Theme background")
    page = owner.get("/settings").text
    assert 'name="colour_background" type="color" value="#000000"' in page
    form = dict(re.findall(r'name="(colour_[a-z]+)" type="color" value="([^"]+)"', page))
    done = owner.post("/settings/site", {"name": "Studio Lumen", "theme": "folio", **form, "message": "Rename"})
    assert done.status_code == 303, done.text
    after = owner.repo().read("site.yaml").decode()
    assert "background:" not in after and "#000000" not in after


def test_a_forgotten_password_is_reset_by_mail_once(admin, mailbox):
    guest = admin("bakery", "")
    before = len(mailbox.messages)
    unknown = guest.http.post("/forgot/send", data={"email": "nobody@example.test"})
    known = guest.http.post("/forgot/send", data={"email": "shop@bakery.test"})
    assert unknown.status_code == known.status_code == 200
    assert status(unknown) == status(known) and "If an account with that email" in status(known)  # says nothing
    # Other mail (order emails from the outbox) may arrive meanwhile: count the password emails.
    resets = [m for m in mailbox.messages[before:] if "password" in m["Subject"].lower()]
    assert len(resets) == 1 and resets[0]["To"] == "shop@bakery.test"
    body = resets[0].get_payload(decode=True).decode()
    link = httpx.URL(re.search(r"https?://admin\.localhost:\d+/sites/\w+/reset\?token=\S+", body).group(0))
    assert link.host == "admin.localhost"  # the admin's own origin, never a tenant's domain
    path = link.raw_path.decode()
    token = path.split("token=")[1]
    signed_in = admin("bakery", "shop@bakery.test")  # a session from before the reset

    form = guest.http.get(path)
    assert form.status_code == 200 and "shop@bakery.test" in form.text
    weak = guest.http.post("/reset/save", data={"token": token, "password": "short"})
    assert weak.status_code == 422 and "10 characters" in alert(weak)
    done = guest.http.post("/reset/save", data={"token": token, "password": "a brand new password"})
    assert done.status_code == 303 and "Password%20changed" in done.headers["location"]
    assert guest.http.get(path).status_code == 401  # once only
    assert signed_in.get("/").status_code == 303  # the old session ended
    fresh = admin("bakery", "")
    assert fresh.sign_in("shop@bakery.test", "a brand new password").status_code == 303
    assert admin("bakery", "").sign_in("shop@bakery.test", "tessera-demo").status_code == 401

    for _ in range(3):  # three mails an hour at most, and the answer stays the same
        guest.http.post("/forgot/send", data={"email": "shop@bakery.test"})
    assert len([m for m in mailbox.messages[before:] if m["To"] == "shop@bakery.test"
                and "password" in m["Subject"].lower()]) == 3


def test_changing_the_password_signs_out_everywhere(admin):
    owner = admin("studio", "owner@studio.test")
    wrong = owner.post("/account/password", {"current_password": "nope", "new_password": "whatever it is now"})
    assert "current password is wrong" in httpx.URL(wrong.headers["location"]).params["error"]
    done = owner.post("/account/password", {"current_password": "tessera-demo",
                                                  "new_password": "studio password two"})
    assert done.headers["location"].startswith("/sites/studio/login")
    assert owner.get("/").status_code == 303
    again = admin("studio", "")
    assert again.sign_in("owner@studio.test", "studio password two").status_code == 303
    again.get("/")
    again.post("/account/password", {"current_password": "studio password two", "new_password": "tessera-demo"})


def test_a_pickup_order_shows_who_collects_not_an_empty_address(admin, site):
    owner = admin()
    api, host = f"http://127.0.0.1:{site['port']}", {"Host": f"bakery.localhost:{site['port']}"}
    cart = httpx.post(f"{api}/api/carts", headers=host).json()
    httpx.post(f"{api}/api/carts/{cart['token']}/items", headers=host, json={"sku": "AF-6", "quantity": 1})
    options = httpx.get(f"{api}/api/carts/{cart['token']}/shipping-options", headers=host).json()["options"]
    slot = next(o for o in options if o["id"] == "pickup/leith")["slots"][0]
    placed = httpx.post(f"{api}/api/checkout", headers={**host, "Idempotency-Key": "admin-pickup-1"}, json={
        "cart_token": cart["token"], "email": "collector@example.test", "shipping_method": "pickup/leith",
        "pickup_slot": slot["start"], "shipping_address": {"name": "Cleo Collector"}})
    assert placed.status_code == 201, placed.text
    page = owner.get(f"/orders/{placed.json()['order']['number']}").text
    assert "Cleo Collector" in page and "Rye &amp; Crumb, Leith" in page and slot["label"] in page
    assert "<address>" not in page
