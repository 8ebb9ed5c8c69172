"""Custom domains: prove ownership with a DNS TXT record, then serve and certify the domain.

``add_domain`` refuses the platform's own names and gives the record to create; ``verify`` looks it up with a real DNS query (dnspython; the
resolver address is configurable so tests can run their own DNS server) and marks the domain
verified. Only verified domains resolve to a tenant, get a TLS certificate (the ``allowed`` check
behind Caddy's on-demand TLS) or become canonical.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.resolver

from content.errors import InvalidValue, TenantNotFound
from content import plans
from content.registry import Domain, Registry

from .errors import PublishError

CHALLENGE = "_tessera-challenge"


class DomainError(PublishError):
    code = "domain_error"


@dataclass(frozen=True)
class Challenge:
    record: str  # the name to create
    value: str  # the TXT value

    def __str__(self) -> str:
        return f'{self.record}. TXT "{self.value}"'


def challenge(domain: Domain) -> Challenge:
    return Challenge(f"{CHALLENGE}.{domain.name}", f"tessera-verify={domain.verification_token}")


def resolver_for(address: str | None) -> dns.resolver.Resolver:
    """The system resolver, or one at ``host[:port]`` (TESSERA_DNS_RESOLVER)."""
    if not address:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    host, _, port = address.partition(":")
    resolver.nameservers = [host]
    resolver.port = int(port or 53)
    resolver.lifetime = 3.0
    return resolver


def platform_hosts(base_domain: str, admin_host: str | None = None) -> tuple[str, str, str]:
    """The platform's own hosts: the base domain, its admin (``TESSERA_ADMIN_HOST``, by default
    ``admin.<base>``) and its API. They get ordinary certificates."""
    base = base_domain.lower().rstrip(".")
    return base, _normal(admin_host) if admin_host else f"admin.{base}", f"api.{base}"


def _normal(name: str) -> str:
    return name.strip().lower().rstrip(".")


def add_domain(registry: Registry, slug: str, name: str, base_domain: str, *, primary: bool = False,
               admin_host: str | None = None, within_plan: bool = True) -> Domain:
    """Register a custom domain for a tenant, never one of the platform's names.

    Everything under the base domain belongs to the platform (its admin, its API, every tenant's
    subdomain): a tenant that could claim ``admin.<base>`` or a neighbour's subdomain would be served
    there, and the TLS proxy would vouch for it.

    Past the plan's ``custom_domains`` the addition is refused (``plans.LimitReached``), unless
    ``within_plan`` is False (restoring a site as it was exported).
    """
    registry.get(slug)
    host, base = _normal(name), base_domain.lower().rstrip(".")
    if host in platform_hosts(base, admin_host):
        raise InvalidValue("domain", f"{host} is one of the platform's own addresses; add a domain you own, "
                                     "such as shop.example.com")
    if host.endswith("." + base):
        raise InvalidValue("domain", f"{host} is under the platform's domain {base}: every tenant already has "
                                     f"its {slug}.{base} address; add a domain you own, such as shop.example.com")
    def within(tenant, used: int) -> None:
        plans.check_feature(registry, tenant, "custom_domains")
        plans.check_one_more(registry, tenant, "custom_domains", used)

    return registry.add_domain(slug, host, primary=primary, within=within if within_plan else None)


def remove_domain(registry: Registry, slug: str, name: str) -> Domain:
    """Remove one of a tenant's domains; returns it as it was, so the caller can tell whether the site's
    address changes (a verified primary domain was canonical: the subdomain takes over)."""
    tenant, host = registry.get(slug), _normal(name)
    try:
        domain = registry.domain(host)
    except TenantNotFound:
        domain = None
    if domain is None or domain.tenant_id != tenant.id:
        raise TenantNotFound(f"no domain called {host!r} at {slug}; `tessera domain list {slug}` shows them")
    registry.remove_domain(slug, host)
    return domain


def verify(registry: Registry, slug: str, name: str, resolver: dns.resolver.Resolver) -> Domain:
    tenant = registry.get(slug)
    domain = registry.domain(name)
    if domain.tenant_id != tenant.id:
        raise DomainError(f"{name} belongs to another tenant")
    if domain.verified_at:
        return domain
    expected = challenge(domain)
    try:
        answer = resolver.resolve(expected.record, "TXT")
        values = {b"".join(r.strings).decode(errors="replace") for r in answer}
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        raise DomainError(f"no TXT record at {expected.record} yet; create {expected} and try again "
                          "(DNS changes can take a few minutes)") from None
    except dns.exception.DNSException as exc:
        raise DomainError(f"the DNS lookup for {expected.record} failed: {exc}") from None
    if expected.value not in values:
        raise DomainError(f"the TXT record at {expected.record} does not contain {expected.value!r}")
    return registry.verify_domain(name)


def allowed(registry: Registry, host: str, base_domain: str, admin_host: str | None = None) -> bool:
    """May the TLS proxy get a certificate for ``host`` on demand? Tenant subdomains and verified custom
    domains only: the platform's own hosts have ordinary certificates, and no other name under the base
    domain is anyone's."""
    host, base = _normal(host), base_domain.lower().rstrip(".")
    if host in platform_hosts(base, admin_host):
        return False
    if host.endswith("." + base):
        label = host[: -len(base) - 1]
        return "." not in label and registry.find(label) is not None
    return registry.tenant_for_domain(host) is not None


def caddyfile(base_domain: str, api: str, *, local: bool = False, ports: tuple[int, int] | None = None,
              admin_host: str | None = None, more: tuple[str, ...] = ()) -> str:
    """A Caddyfile for the whole platform, everything proxied to Tessera at ``api`` (host:port) and
    ``more`` (the other nodes: any node answers any request, forwarding it to the tenant's node;
    Caddy spreads requests over the nodes that answer ``/healthz``).

    The platform's own hosts (the base domain, ``admin.`` and ``api.``) are named, so Caddy gets their
    certificates when it starts, like for any site. Every other name (tenant subdomains, verified custom
    domains) gets a certificate on its first visit, only after Tessera's ask endpoint said yes; the ask
    endpoint never says yes for the platform's hosts, so they must not fall to the on-demand block.
    ``local`` uses Caddy's internal CA instead of a public one (to try HTTPS on one machine).
    """
    extra = "\tlocal_certs\n\tskip_install_trust\n" if local else ""
    if ports:
        extra += f"\thttp_port {ports[0]}\n\thttps_port {ports[1]}\n"
    spread = ("\n\t\tlb_policy least_conn\n\t\thealth_uri /healthz\n\t\thealth_interval 5s"
              "\n\t\tfail_duration 10s") if more else ""
    proxy = f"""\tencode zstd gzip
\treverse_proxy {" ".join((api, *more))} {{
\t\theader_up X-Forwarded-Proto https{spread}
\t}}"""
    return f"""# Caddy in front of Tessera: HTTPS for the platform, every tenant subdomain and every verified custom domain.
{{
{extra}\ton_demand_tls {{
\t\task http://{api}/api/tls/ask
\t}}
}}

# The platform's own hosts: the sign-in and admin, the API. Ordinary certificates, obtained at start.
{", ".join(platform_hosts(base_domain, admin_host))} {{
{proxy}
}}

# Tenants' subdomains and verified custom domains: a certificate on first visit, if Tessera says yes.
https:// {{
\ttls {{
\t\ton_demand
\t}}
{proxy}
}}

http:// {{
\tredir https://{{host}}{{uri}} permanent
}}
"""
