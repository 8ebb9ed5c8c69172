"""Custom domains against a real DNS server on loopback (answering with dnspython's wire format)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import dns.message
import dns.rdatatype
import dns.rrset
import httpx
import pytest

from content.errors import InvalidValue, TenantNotFound
from publish.domains import (DomainError, add_domain, allowed, caddyfile, challenge, platform_hosts,
                             remove_domain, resolver_for, verify)
from tests.api.conftest import free_port
from tests.conftest import TinyDNS


@pytest.fixture(name="dns_server")
def fx_dns_server():
    server = TinyDNS()
    yield server
    server.sock.close()


def test_verify_with_a_real_dns_query(platform, dns_server):
    _, tenants = platform
    registry = tenants.registry
    added = registry.add_domain("bakery", "shop.rye.example", primary=True)
    resolver = resolver_for(dns_server.address)
    with pytest.raises(DomainError, match="no TXT record at _tessera-challenge.shop.rye.example"):
        verify(registry, "bakery", "shop.rye.example", resolver)
    dns_server.records["_tessera-challenge.shop.rye.example"] = ["tessera-verify=someone-elses-token"]
    with pytest.raises(DomainError, match="does not contain"):
        verify(registry, "bakery", "shop.rye.example", resolver)
    assert registry.tenant_for_domain("shop.rye.example") is None
    dns_server.records["_tessera-challenge.shop.rye.example"].append(challenge(added).value)
    assert verify(registry, "bakery", "shop.rye.example", resolver).verified_at
    assert registry.tenant_for_domain("shop.rye.example").slug == "bakery"
    with pytest.raises(DomainError, match="another tenant"):
        verify(registry, "studio", "shop.rye.example", resolver)


@pytest.mark.parametrize("name", [
    "localhost", "admin.localhost", "api.localhost", "Admin.Localhost.",  # the platform's own hosts
    "studio.localhost",  # another tenant's subdomain
    "bakery.localhost", "new.localhost", "www.shop.localhost",  # anything under the base domain
])
def test_custom_domains_never_take_a_platform_name(platform, name):
    _, tenants = platform
    with pytest.raises(InvalidValue, match=r"^domain: .*localhost"):
        add_domain(tenants.registry, "bakery", name, "localhost")
    assert tenants.registry.domains("bakery") == []


def test_platform_hosts():
    assert platform_hosts("Sites.Example") == ("sites.example", "admin.sites.example", "api.sites.example")


def test_a_custom_domain_is_added_and_removed(platform):
    _, tenants = platform
    registry = tenants.registry
    added = add_domain(registry, "bakery", " Shop.Rye.Example. ", "localhost", primary=True)
    assert (added.name, added.is_primary) == ("shop.rye.example", True)
    with pytest.raises(TenantNotFound, match="no domain called 'shop.rye.example' at studio"):
        remove_domain(registry, "studio", "shop.rye.example")  # someone else's: untouched
    removed = remove_domain(registry, "bakery", "SHOP.rye.example")
    assert removed.name == "shop.rye.example" and removed.is_primary
    assert registry.domains("bakery") == []
    with pytest.raises(TenantNotFound, match="no domain called 'shop.rye.example'"):
        remove_domain(registry, "bakery", "shop.rye.example")


def test_tls_ask_allows_only_known_names(platform):
    _, tenants = platform
    registry = tenants.registry
    registry.add_domain("studio", "photos.lumen.example")
    assert allowed(registry, "bakery.localhost", "localhost")
    assert not allowed(registry, "ghost.localhost", "localhost")
    assert not allowed(registry, "photos.lumen.example", "localhost")  # not verified yet
    registry.verify_domain("photos.lumen.example")
    assert allowed(registry, "photos.lumen.example", "localhost")
    assert not allowed(registry, "evil.example", "localhost")
    # The platform's own hosts have ordinary certificates; the ask endpoint never vouches for them, nor for a
    # deeper name under the base domain, even one that slipped into the registry before names were checked.
    registry.conn.execute("INSERT INTO domains (tenant_id, name, is_primary, verification_token, created_at, "
                          "verified_at) VALUES (?, 'deep.studio.localhost', 0, 't', 'now', 'now')",
                          (registry.get("studio").id,))
    registry.conn.commit()
    for host in ("localhost", "admin.localhost", "api.localhost", "deep.studio.localhost"):
        assert not allowed(registry, host, "localhost"), host


def test_caddyfile_asks_tessera_before_issuing(platform):
    text = caddyfile("sites.example", "127.0.0.1:8000")
    assert "ask http://127.0.0.1:8000/api/tls/ask" in text and "on_demand" in text
    assert "reverse_proxy 127.0.0.1:8000" in text
    # The platform's own hosts are named, with ordinary certificates: the ask endpoint refuses them.
    platform_block = text.split("sites.example, admin.sites.example, api.sites.example {\n", 1)[1].split("\n}\n")[0]
    assert "on_demand" not in platform_block and "reverse_proxy 127.0.0.1:8000" in platform_block
    assert "https:// {\n\ttls {\n\t\ton_demand" in text


def test_a_caddyfile_for_several_nodes_spreads_requests_over_those_that_answer(tmp_path):
    from click.testing import CliRunner

    from tessera.cli import main

    result = CliRunner().invoke(main, ["caddyfile", "--upstream", "node1:8000", "--upstream", "node2:8000"],
                                env={"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_BASE_DOMAIN": "sites.example"})
    assert result.exit_code == 0, result.output
    assert result.output.count("reverse_proxy node1:8000 node2:8000 {") == 2
    assert "health_uri /healthz" in result.output and "ask http://node1:8000/api/tls/ask" in result.output
    config = tmp_path / "Caddyfile"
    config.write_text(result.output)
    adapted = subprocess.run(["caddy", "adapt", "--config", str(config), "--adapter", "caddyfile"],
                             capture_output=True, text=True)
    assert adapted.returncode == 0, adapted.stderr  # Caddy itself reads it
    refused = CliRunner().invoke(main, ["caddyfile", "--upstream", "node 1"], env={"TESSERA_DATA_DIR": str(tmp_path)})
    assert refused.exit_code != 0 and "HOST:PORT" in refused.output


def test_ask_endpoint_over_http(edge):
    base, tenants = edge
    ok = httpx.get(base + "/api/tls/ask", params={"domain": "bakery.localhost"})
    assert ok.status_code == 200
    assert httpx.get(base + "/api/tls/ask", params={"domain": "nobody.example"}).status_code == 404


@pytest.mark.parametrize("upstream", ["serve:8000", "10.0.0.5:8000", "tessera-serve-1"])
def test_ask_endpoint_answers_caddy_at_whatever_address_it_reaches_tessera(edge, upstream):
    """Caddy asks at its upstream's address (`ask http://serve:8000/...` in a compose file, another
    machine's address on two), and sends that as the Host: the answer is about the domain asked for,
    never a refusal of the Host as an unknown site, or no tenant would ever get a certificate."""
    base, tenants = edge
    ok = httpx.get(base + "/api/tls/ask", params={"domain": "bakery.localhost"}, headers={"Host": upstream})
    assert (ok.status_code, ok.text) == (200, "ok")
    refused = httpx.get(base + "/api/tls/ask", params={"domain": "nobody.example"}, headers={"Host": upstream})
    assert (refused.status_code, refused.text) == (404, "unknown domain")


from tests.publish.test_edge import fx_edge  # noqa: E402,F401  (the served platform, for the HTTP test)


def test_domain_commands(tmp_path, dns_server, monkeypatch):
    from click.testing import CliRunner

    from tessera.cli import main

    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TESSERA_DNS_RESOLVER", dns_server.address)
    run = lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)
    run("tenant", "create", "rye", "--name", "Rye", "--from", "studio")
    added = run("domain", "add", "rye", "www.rye.example", "--primary")
    assert added.exit_code == 0 and "_tessera-challenge.www.rye.example. TXT" in added.output
    value = added.output.split('TXT "')[1].split('"')[0]
    failed = run("domain", "verify", "rye", "www.rye.example")
    assert failed.exit_code == 1 and "no TXT record" in failed.output
    dns_server.records["_tessera-challenge.www.rye.example"] = [value]
    verified = run("domain", "verify", "rye", "www.rye.example")
    assert verified.exit_code == 0 and "Republished rye with https://www.rye.example" in verified.output
    page = (tmp_path / "data" / "buckets" / "rye" / "current" / "about" / "index.html").read_text()
    assert '<link rel="canonical" href="https://www.rye.example/about/">' in page
    assert "www.rye.example" in run("domain", "list", "rye").output

    refused = run("domain", "add", "rye", "admin.localhost")
    assert refused.exit_code == 1 and "admin.localhost is one of the platform's own addresses" in refused.output
    assert run("domain", "add", "rye", "other.localhost").exit_code == 1
    assert "Usage:" in run("domain", "remove", "--help").output
    unknown = run("domain", "remove", "rye", "nowhere.example")
    assert unknown.exit_code == 1 and "no domain called 'nowhere.example' at rye" in unknown.output
    removed = run("domain", "remove", "rye", "www.rye.example")
    assert removed.exit_code == 0, removed.output
    assert "rye's address is http://rye.localhost:8000 again" in removed.output
    assert "Republished rye" in removed.output
    page = (tmp_path / "data" / "buckets" / "rye" / "current" / "about" / "index.html").read_text()
    assert '<link rel="canonical" href="http://rye.localhost:8000/about/">' in page
    assert "www.rye.example" not in run("domain", "list", "rye").output


def test_removing_the_primary_domain_of_an_unpublished_site_says_to_publish(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tessera.cli import main

    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path / "data"))
    run = lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)
    run("tenant", "create", "rye", "--name", "Rye", "--from", "studio")
    run("domain", "add", "rye", "www.rye.example", "--primary")
    from content.registry import Registry

    registry = Registry(tmp_path / "data" / "platform.db")
    registry.verify_domain("www.rye.example")
    registry.close()
    removed = run("domain", "remove", "rye", "www.rye.example")
    assert removed.exit_code == 0, removed.output
    assert "Publish it with `tessera publish rye`" in removed.output
    assert not (tmp_path / "data" / "buckets" / "rye" / "current").exists()
    # an unverified or secondary domain never was the address: removing it changes nothing else
    run("domain", "add", "rye", "shop.rye.example")
    quiet = run("domain", "remove", "rye", "shop.rye.example")
    assert quiet.exit_code == 0 and "Removed shop.rye.example from rye." in quiet.output
    assert "address" not in quiet.output


@pytest.mark.skipif(shutil.which("caddy") is None or shutil.which("curl") is None,
                    reason="Debian's caddy and curl are needed (CI installs them)")
def test_caddy_serves_the_platform_and_verified_domains_over_tls_and_refuses_unknown_ones(edge, tmp_path):
    base, tenants = edge
    api = base.removeprefix("http://")
    tenants.registry.add_domain("bakery", "www.crumb.example")
    tenants.registry.verify_domain("www.crumb.example")
    http_port, https_port = free_port(), free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(caddyfile("localhost", api, local=True, ports=(http_port, https_port)).replace(
        "{\n", "{\n\tadmin off\n\tstorage file_system " + str(tmp_path / "caddy") + "\n", 1))
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.Popen(["caddy", "run", "--config", str(config), "--adapter", "caddyfile"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root = tmp_path / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def curl(host: str, path: str = "/") -> subprocess.CompletedProcess:
        # Certificates are checked against Caddy's own CA (no -k): a handshake that needs -k is a broken site.
        trust = ["--cacert", str(root)] if root.exists() else ["-k"]
        return subprocess.run(["curl", "-s", *trust, "--max-time", "20", "--resolve", f"{host}:{https_port}:127.0.0.1",
                               "-o", "-", "-w", "\n%{http_code}", f"https://{host}:{https_port}{path}"],
                              capture_output=True, text=True)

    try:
        deadline = time.monotonic() + 30
        result = curl("www.crumb.example")
        while not (root.exists() and result.stdout.endswith("200")) and time.monotonic() < deadline:
            time.sleep(0.5)
            result = curl("www.crumb.example")
        assert result.stdout.endswith("200") and "Rye &amp; Crumb" in result.stdout, result
        assert curl("bakery.localhost").stdout.endswith("200")
        refused = curl("unknown.example")
        assert refused.returncode != 0 or not refused.stdout.endswith("200")  # no certificate, no site
        # The platform's own hosts: ordinary certificates (not on demand), proxied to Tessera. Caddy
        # obtains them in the background from its start: on a busy machine one may still be coming.
        def ready(host: str, path: str = "/") -> subprocess.CompletedProcess:
            deadline = time.monotonic() + 30
            answer = curl(host, path)
            while answer.returncode == 35 and time.monotonic() < deadline:  # no certificate yet
                time.sleep(0.5)
                answer = curl(host, path)
            return answer

        front = ready("localhost")
        assert front.returncode == 0 and front.stdout.endswith("200") and "<h1>Tessera</h1>" in front.stdout, front
        health = ready("api.localhost", "/healthz")
        assert health.returncode == 0 and health.stdout.endswith("200") and '"ok"' in health.stdout, health
        admin = ready("admin.localhost", "/login")
        assert admin.returncode == 0, admin  # the handshake verifies: admin.<base> has its certificate
        body, status = admin.stdout.rsplit("\n", 1)
        assert status == "200" and "Sign in" in body, admin  # and the admin's sign-in answers there
        plain = subprocess.run(["curl", "-s", "--max-time", "10", "--resolve", f"admin.localhost:{http_port}:127.0.0.1",
                                "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                                f"http://admin.localhost:{http_port}/login"], capture_output=True, text=True)
        assert plain.stdout.startswith("30") and "https://admin.localhost" in plain.stdout, plain
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
