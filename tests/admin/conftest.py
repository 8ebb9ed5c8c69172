"""The admin over real HTTP against the demo installation: a real SMTP server (aiosmtpd) takes the
invitations, a loopback DNS server answers domain checks, and the job runner publishes for real."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from content.gitrepo import Repository
from tests.conftest import TinyDNS, demo_site, smtp_server

PASSWORD = "tessera-demo"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


@pytest.fixture(name="mailbox", scope="module")
def fx_mailbox():
    with smtp_server() as box:
        yield box


@pytest.fixture(name="dns", scope="module")
def fx_dns():
    server = TinyDNS()
    yield server
    server.sock.close()


@pytest.fixture(name="site", scope="module")
def fx_site(tmp_path_factory, mailbox, dns):
    with demo_site(tmp_path_factory, {"TESSERA_SMTP_URL": mailbox.url, "TESSERA_DNS_RESOLVER": dns.address}) as site:
        yield site


class SiteClient(httpx.Client):
    """An HTTP client on the admin origin whose paths are relative to one site's admin."""

    def __init__(self, url, **kwargs) -> None:
        super().__init__(**kwargs)
        self._url = url

    def request(self, method: str, url, **kwargs) -> httpx.Response:
        return super().request(method, self._url(str(url)), **kwargs)


class Admin:
    """A signed-in browser-like client: session cookie, CSRF token from the pages, HTML accepted."""

    def __init__(self, site: dict, tenant: str | None, email: str) -> None:
        self.site, self.tenant = site, tenant
        self.host = f"admin.localhost:{site['port']}"  # the admin's own origin, never a tenant's host
        self.base = f"/sites/{tenant}" if tenant else ""
        self.http = SiteClient(self.url, base_url=f"http://127.0.0.1:{site['port']}",
                               headers={"Host": self.host, "Accept": "text/html"}, timeout=60)
        self.csrf = ""
        if email:
            response = self.sign_in(email, PASSWORD)
            assert response.status_code == 303, response.text
            self.get("/")

    def url(self, path: str) -> str:
        """A page of this client's site (``/pages``), unless already a full admin path (``/sites/...``)."""
        return path if path.startswith(("/sites/", "http")) else self.base + path

    def sign_in(self, email: str, password: str) -> httpx.Response:
        """The sign-in form, as a browser sends it: with the token from the form and its cookie."""
        token = LOGIN_TOKEN.search(self.http.get("/login").text).group(1)
        return self.http.post("/login", data={"email": email, "password": password, "login_token": token})

    def get(self, path: str, **kwargs) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        if found := CSRF.search(response.text):
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return self.http.post(path, data=data, **kwargs)

    def repo(self) -> Repository:
        return Repository(self.site["data"] / "tenants" / self.tenant / "repo.git")

    def wait_for_job(self, location: str, timeout: float = 120) -> dict:
        """Wait for the job named in a redirect's message ("... (job 12) ...") and return it."""
        job_id = int(re.search(r"job(?:%20| )(\d+)", location).group(1))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.http.get("/api/admin/jobs", headers={"Accept": "application/json"}).json()
            job = next(j for j in jobs if j["id"] == job_id)
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not finish")

    def publish(self) -> dict:
        return self.wait_for_job(self.post("/publish").headers["location"])


@pytest.fixture(name="admin")
def fx_admin(site):
    def sign_in(tenant: str | None = "bakery", email: str = "owner@bakery.test") -> Admin:
        return Admin(site, tenant, email)

    return sign_in


def alert(response: httpx.Response) -> str:
    found = re.search(r'<(p|div)\b[^>]*role="alert"[^>]*>(.*?)</\1>', response.text, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split()) if found else ""


def status(response: httpx.Response) -> str:
    found = re.search(r'role="status"[^>]*>(.*?)</p>', response.text, re.S)
    return found.group(1).strip() if found else ""
