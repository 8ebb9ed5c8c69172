"""One HTTP POST to an address a tenant chose, without letting that address reach inside our network.

The host is resolved once; every address it resolves to must be on the public internet (or inside a
network the operator allowed), and the connection goes to the address that was checked, never to a
second lookup's answer (DNS rebinding). TLS still verifies the certificate against the host name.
Redirects are never followed, the whole exchange has one deadline, and only the start of the answer
is read. This module must never log or return the request's headers: they carry a signature.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not public, whatever ``is_global`` says on this Python: carrier-grade NAT, cloud metadata, NAT64.
_ALSO_REFUSED = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/10", "169.254.0.0/16", "fd00::/8", "fc00::/7",
                                                         "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16"))
READ_AT_MOST = 4096


class Refused(Exception):
    """The address may not be reached (private, loopback, metadata...); the message says which and why."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most READ_AT_MOST bytes
    location: str = ""


def _embedded(ip: IPAddress) -> IPAddress | None:
    """The IPv4 address inside an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def allowed(ip: IPAddress, allow: tuple[str, ...]) -> bool:
    return any(ip in ipaddress.ip_network(net, strict=False) for net in allow)


def why_not(ip: IPAddress, allow: tuple[str, ...] = ()) -> str | None:
    """Why ``ip`` may not be reached (None: it may): unless allowed, only public unicast addresses."""
    inner = _embedded(ip)
    if allowed(ip, allow) or (inner is not None and allowed(inner, allow)):
        return None
    if inner is not None:  # an IPv6 wrapping of an IPv4 address reaches that address: judge it
        return why_not(inner)
    if ip.is_loopback:
        return "a loopback address"
    if str(ip) in ("169.254.169.254", "fd00:ec2::254"):
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private or any(ip in net for net in _ALSO_REFUSED if net.version == ip.version) or not ip.is_global:
        return "a private or reserved address"
    if ip.version == 6 and ip not in _GLOBAL_UNICAST:  # IPv4-compatible, SIIT, site-local...: never needed
        return "a reserved address"
    return None


_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal address is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OSError(f"{host} could not be resolved ({exc})") from None
    found: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        if ip not in found:
            found.append(ip)
    return found


def checked(host: str, port: int, allow: tuple[str, ...]) -> list[IPAddress]:
    """The addresses to connect to; Refused if ANY of them is off limits (one bad answer is enough
    for a rebinding attacker, so a mixed answer is refused whole)."""
    addresses = resolve(host, port)
    for ip in addresses:
        reason = why_not(ip, allow)
        if reason:
            shown = host if host == str(ip) else f"{host} resolves to {ip},"
            raise Refused(f"refused: {shown} {reason}; endpoints must be on the public internet "
                          f"(an operator may allow a network with TESSERA_WEBHOOK_ALLOW)")
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


class _Pinned(http.client.HTTPConnection):
    """Plain HTTP to a checked address; the Host header still names the host."""

    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.ip), self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to a checked address; SNI and certificate verification use the host name."""

    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.ip = ip

    def connect(self) -> None:
        raw = socket.create_connection((str(self.ip), self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str], *, allow: tuple[str, ...], timeout: float = 10.0) -> Answer:
    """POST ``body`` to ``url``; Refused for an address off limits, OSError (or ssl.SSLError,
    http.client.HTTPException) for a network failure, TimeoutError past ``timeout`` in all."""
    parts = urlsplit(url)
    host, scheme = parts.hostname or "", parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    addresses = checked(host, port, allow)
    if scheme != "https" and not all(allowed(ip, allow) for ip in addresses):
        raise Refused("refused: plain http is only for networks the operator allowed (TESSERA_WEBHOOK_ALLOW); "
                      "use https")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last: Exception | None = None
    for ip in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        kind = _PinnedTLS if scheme == "https" else _Pinned
        conn = kind(host, port, ip, timeout=remaining)
        # Per-operation timeouts would let a server dripping a byte every few seconds hold us for
        # ever: one timer shuts the socket at the deadline, whatever stage the exchange is in.
        fired = threading.Event()
        timer = threading.Timer(remaining, _shut, (conn, fired))
        timer.start()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = Answer(response.status, response.read(READ_AT_MOST), response.getheader("Location") or "")
            if fired.is_set():  # what was read before the cut is half an answer, not an answer
                raise TimeoutError(f"no answer within {timeout:g} s")
            return answer
        except (ConnectionRefusedError, socket.timeout) as exc:
            last = exc  # the next address may answer
        except (OSError, http.client.HTTPException) as exc:
            if fired.is_set() or time.monotonic() >= deadline:
                raise TimeoutError(f"no answer within {timeout:g} s") from None
            raise exc
        finally:
            timer.cancel()
            conn.close()
    if time.monotonic() >= deadline or isinstance(last, socket.timeout):
        raise TimeoutError(f"no answer within {timeout:g} s")
    raise last or OSError("could not connect")


def _shut(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    fired.set()
    try:
        if conn.sock is not None:
            conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
