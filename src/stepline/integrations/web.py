"""Plain HTTP for the HTTPCall and ContainerCall adapters: one exchange, capped, mapped.

Loopback, private, link-local and reserved targets are refused (``STEP_PERMISSION_DENIED``)
unless their host is in ``ctx.allow_private_hosts`` (``*``: any) — checked on every request,
redirects included. At most 2 MB of a reply is read (more → ``STEP_DATA_LIMIT_EXCEEDED``); the
output is the body, JSON-decoded when it parses, else text. JSON beyond :mod:`stepline.bounds`
(nested deeper than 64 levels, a number literal over 100 characters or not finite) is
``STEP_DATA_LIMIT_EXCEEDED`` too.
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

    Every request, redirects included, is checked against private targets before it is sent.
    """

    def check(request: httpx.Request) -> None:
        check_host(request.url.host, ctx.allow_private_hosts)
        if sign is not None:
            sign(request)

    hooks: dict[str, list[Any]] = {"request": [check]}
    try:
        with (
            httpx.Client(
                timeout=ctx.timeout, follow_redirects=True, event_hooks=hooks, verify=_tls()
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


def check_host(host: str, allowed: frozenset[str]) -> None:
    """Refuse loopback, private, link-local and reserved targets unless the host is allowed."""
    if "*" in allowed or host in allowed:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"cannot resolve {host}: {exc}"
        ) from exc
    for text in addresses:
        address = ipaddress.ip_address(str(text).split("%", 1)[0])
        if (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_reserved
            or address.is_multicast
            or address.is_unspecified
        ):
            raise StepFailure(
                WorkflowErrorCode.STEP_PERMISSION_DENIED,
                f"{host} resolves to {address}, a private address the runner may not call",
            )


def _with_query(url: str, query: dict[str, str]) -> httpx.URL:
    """The URL with the step's query parameters added to any it already carries."""
    return httpx.URL(url).copy_merge_params(query) if query else httpx.URL(url)
