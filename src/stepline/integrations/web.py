"""Plain HTTP for the HTTPCall and ContainerCall adapters: one exchange, capped, mapped.

Every request, each redirect hop included, resolves its host once, checks every address it
resolves to, and is then sent to exactly those checked addresses (the first that accepts the
connection), with the original ``Host`` header and, over https, the original name for SNI and
certificate verification — so a name that resolves differently the second time (DNS rebinding)
cannot move the request elsewhere. An IP literal is checked as it is. Refused
(``STEP_PERMISSION_DENIED``) unless the host is in ``ctx.allow_private_hosts`` (``*``: any;
an allowed host is still resolved once and pinned):

- IPv4: ``0.0.0.0/8``, loopback ``127.0.0.0/8``, private ``10/8``, ``172.16/12``,
  ``192.168/16``, carrier-grade NAT ``100.64.0.0/10``, link-local ``169.254.0.0/16`` (instance
  metadata), ``192.0.0.0/24``, documentation ``192.0.2.0/24``, ``198.51.100.0/24``,
  ``203.0.113.0/24``, benchmarking ``198.18.0.0/15``, multicast ``224.0.0.0/4``, reserved
  ``240.0.0.0/4`` and broadcast;
- IPv6: ``::``, ``::1``, unique-local ``fc00::/7``, link-local ``fe80::/10``, site-local
  ``fec0::/10``, multicast ``ff00::/8``, discard ``100::/64``, Teredo ``2001::/32``,
  benchmarking ``2001:2::/48``, ORCHID ``2001:10::/28`` and ``2001:20::/28``, documentation
  ``2001:db8::/32`` and ``3fff::/20``, anything outside global unicast ``2000::/3``, and the
  IPv4-mapped, IPv4-compatible, NAT64 (``64:ff9b::/96``, ``64:ff9b:1::/48``) and 6to4
  (``2002::/16``) forms of a refused IPv4 address.

A host that does not resolve is ``STEP_INVALID_ARGUMENT``. At most 2 MB of a reply is read
(more → ``STEP_DATA_LIMIT_EXCEEDED``); the output is the body, JSON-decoded when it parses, else
text. JSON beyond :mod:`stepline.bounds` (nested deeper than 64 levels, a number literal over 100
characters or not finite) is ``STEP_DATA_LIMIT_EXCEEDED`` too.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx

from stepline import bounds
from stepline.integrations import CallContext
from stepline.yawl.errors import CALL_STATUSES, StepFailure, WorkflowErrorCode

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Explicit networks: ipaddress's is_private / is_global lists differ between Python versions.
_REFUSED_V4 = tuple(
    (ipaddress.IPv4Network(network), why)
    for network, why in (
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (instance metadata)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_REFUSED_V6 = tuple(
    (ipaddress.IPv6Network(network), why)
    for network, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "unique-local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001:2::/48", "benchmarking"),
        ("2001:10::/28", "ORCHID"),
        ("2001:20::/28", "ORCHID"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_LOW_32 = 0xFFFFFFFF


def exchange(
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    content: bytes,
    ctx: CallContext,
    *,
    family: str,
    sign: Callable[[httpx.Request], None] | None = None,
) -> Any:
    """One HTTP exchange; non-2xx → ``<family>_<status>`` (HTTP_CALL, CONTAINER_CALL).

    Every request, redirects included, is sent only to the addresses its host was checked to
    resolve to (:class:`_PinnedTransport`).
    """
    hooks: dict[str, list[Any]] = {"request": [sign] if sign is not None else []}
    try:
        with (
            httpx.Client(
                transport=_PinnedTransport(ctx.allow_private_hosts),
                timeout=ctx.timeout,
                follow_redirects=True,
                event_hooks=hooks,
            ) as client,
            client.stream(
                method, url, headers=headers, params=query or None, content=content
            ) as reply,
        ):
            data = _read_capped(reply, method, url)
    except httpx.TimeoutException as exc:
        raise StepFailure(WorkflowErrorCode.STEP_TIMEOUT, f"{method} {url}: timed out") from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"{method} {url}: {exc}"
        ) from exc
    except httpx.HTTPError as exc:
        raise StepFailure(
            WorkflowErrorCode(f"{family}_503"), f"{method} {url}: {type(exc).__name__}: {exc}"
        ) from exc
    if not 200 <= reply.status_code < 300:
        raise StepFailure(
            status_error(family, reply.status_code),
            f"{method} {url} answered {reply.status_code}: {data[:500].decode(errors='replace')}",
        )
    text = data.decode(errors="replace")
    try:
        return bounds.loads(text)
    except bounds.BoundsError as exc:
        raise StepFailure(
            WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED, f"{method} {url}: the JSON reply is {exc}"
        ) from exc
    except ValueError:
        return text


class _PinnedTransport(httpx.BaseTransport):
    """Sends each request only to the addresses :func:`check_host` resolved its host to.

    The connection goes to a checked IP address (the next one when it cannot be made); the
    request keeps its ``Host`` header, and TLS uses the host name for SNI and certificate
    verification. Each host has its own connection pool, so a connection verified for one name
    never carries a request for another that happens to share its address.
    """

    def __init__(self, allowed: frozenset[str]) -> None:
        self._allowed = allowed
        self._pools: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.raw_host.decode("ascii")
        *others, last = check_host(host, self._allowed)
        pool = self._pools.get(host)
        if pool is None:
            pool = self._pools[host] = httpx.HTTPTransport(verify=_tls())
        for address in others:
            try:
                return pool.handle_request(_pinned(request, host, address))
            except httpx.ConnectError:
                continue
        return pool.handle_request(_pinned(request, host, last))

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()


def _pinned(request: httpx.Request, host: str, address: str) -> httpx.Request:
    """``request`` addressed to ``address``, still naming ``host`` in Host and for TLS."""
    return httpx.Request(
        request.method,
        request.url.copy_with(host=address),
        headers=request.headers,  # its Host header is the original one
        stream=request.stream,
        extensions={**request.extensions, "sni_hostname": host},
    )


@cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context per process: building it (the CA bundle) takes ~50 ms, a
    client that reuses it under a millisecond."""
    return httpx.create_ssl_context()


def _read_capped(reply: httpx.Response, method: str, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in reply.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise StepFailure(
                WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
                f"{method} {url}: the response is larger than {MAX_RESPONSE_BYTES} bytes",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def status_error(family: str, status: int) -> WorkflowErrorCode:
    """The WorkflowError of a non-2xx status (statuses YaWL does not list → nearest generic)."""
    if status in CALL_STATUSES:
        return WorkflowErrorCode(f"{family}_{status}")
    if 400 <= status < 500:
        return WorkflowErrorCode(f"{family}_400")
    if 500 <= status < 600:
        return WorkflowErrorCode(f"{family}_500")
    return WorkflowErrorCode.STEP_INVALID_OUTPUT


def check_host(host: str, allowed: frozenset[str]) -> list[str]:
    """The addresses to connect to for ``host``: resolved once, each one checked.

    An IP literal is its own address. Unless the host is allowed (``*``: any), an address in a
    refused range (see the module docstring) is ``STEP_PERMISSION_DENIED``; callers connect
    to the returned addresses only, never to the name, so a later answer cannot differ.
    """
    addresses = _resolve(host)
    if "*" in allowed or host in allowed:
        return addresses
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        why = refusal(address)
        if why is not None:
            where = host if text == host else f"{host} resolves to {text}, which"
            raise StepFailure(
                WorkflowErrorCode.STEP_PERMISSION_DENIED,
                f"{where} is {why}: an address the runner may not call",
            )
    return addresses


def _resolve(host: str) -> list[str]:
    """The host's addresses in the resolver's order (an IP literal: itself)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"cannot resolve {host}: {exc}"
        ) from exc
    families = (socket.AF_INET, socket.AF_INET6)
    addresses = list(dict.fromkeys(str(i[4][0]) for i in infos if i[0] in families))
    if not addresses:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"cannot resolve {host}: no IP address"
        )
    return addresses


def refusal(address: IPAddress) -> str | None:
    """Why the runner may not call ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv4Address):
        return next((why for network, why in _REFUSED_V4 if address in network), None)
    address = ipaddress.IPv6Address(int(address))  # without a scope id
    why = next((why for network, why in _REFUSED_V6 if address in network), None)
    if why is not None:
        return why
    embedded = _embedded_ipv4(address)
    if embedded is None:
        return None if address in _GLOBAL_UNICAST else "reserved"
    form, candidates = embedded
    for inner in candidates:
        why = refusal(inner)
        if why is not None:
            return f"{why} (as {form} {inner})"
    return None


def _embedded_ipv4(
    address: ipaddress.IPv6Address,
) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The IPv4 address(es) an IPv6 address stands for, with the form's name, if any."""
    value = int(address)
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", [address.ipv4_mapped]
    if address.sixtofour is not None:
        return "6to4", [address.sixtofour]
    if address in _IPV4_COMPATIBLE:
        return "IPv4-compatible", [ipaddress.IPv4Address(value & _LOW_32)]
    if address in _NAT64:
        return "NAT64", [ipaddress.IPv4Address(value & _LOW_32)]
    if address in _LOCAL_NAT64:
        # RFC 6052 places the IPv4 address in the last 32 bits (a /96 prefix) or in bits
        # 48-63 and 72-87 (the /48 prefix itself); a position left all zero is not in use.
        in_48 = (value >> 64 & 0xFFFF) << 16 | (value >> 40 & 0xFFFF)
        used = [bits for bits in (value & _LOW_32, in_48) if bits] or [0]
        return "NAT64", [ipaddress.IPv4Address(bits) for bits in used]
    return None


def _with_query(url: str, query: dict[str, str]) -> httpx.URL:
    """The URL with the step's query parameters added to any it already carries."""
    return httpx.URL(url).copy_merge_params(query) if query else httpx.URL(url)
