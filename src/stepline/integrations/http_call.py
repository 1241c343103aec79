"""HTTPCall → an HTTP request with httpx; non-2xx answers become HTTP_CALL_<status>."""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from stepline.integrations import CallContext
from stepline.yawl.errors import CALL_STATUSES, StepFailure, WorkflowErrorCode
from stepline.yawl.integration import HTTPCall

MAX_RESPONSE_BYTES = 2 * 1024 * 1024


def call(step: HTTPCall, step_input: Any, ctx: CallContext) -> Any:
    """Send the request and return the body, parsed when it is JSON."""
    url = _text(ctx.render(step.url), "url")
    check_target(url, ctx.allow_private_hosts)
    headers = {k: _text(ctx.render(v), f"headers.{k}") for k, v in step.headers.items()}
    query = {k: _text(ctx.render(v), f"query.{k}") for k, v in step.query.items()}
    body = ctx.render(step.body) if step.body else ""
    if not isinstance(body, str):
        body = json.dumps(body)
        headers.setdefault("content-type", "application/json")
    return request(step.method, url, headers, query, body, ctx.timeout, "HTTP_CALL")


def request(
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    body: str,
    timeout: float,
    prefix: str,
) -> Any:
    """One HTTP exchange; shared with ContainerCall (``prefix`` names the error family)."""
    import httpx

    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream(
                method, url, headers=headers, params=query, content=body.encode() if body else None
            ) as reply,
        ):
            data = b""
            for chunk in reply.iter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise StepFailure(
                        WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
                        f"{method} {url}: response above {MAX_RESPONSE_BYTES} bytes",
                    )
    except httpx.TimeoutException as exc:
        raise StepFailure(WorkflowErrorCode.STEP_TIMEOUT, f"{method} {url}: timed out") from exc
    except httpx.HTTPError as exc:
        raise StepFailure(_status_code(prefix, 503), f"{method} {url}: {exc}") from exc
    if not 200 <= reply.status_code < 300:
        raise StepFailure(
            _status_code(prefix, reply.status_code),
            f"{method} {url} answered {reply.status_code}: {data[:500].decode(errors='replace')}",
        )
    text = data.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _status_code(prefix: str, status: int) -> WorkflowErrorCode:
    if status not in CALL_STATUSES:
        status = 500 if status >= 500 else 400
    return WorkflowErrorCode(f"{prefix}_{status}")


def _text(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return json.dumps(value)
    raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"{field} must render to a string")


def check_target(url: str, allowed: frozenset[str]) -> None:
    """Refuse loopback, link-local and private targets unless their host is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"url {url!r} is not http(s)")
    host = parts.hostname
    if "*" in allowed or host in allowed:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise StepFailure(WorkflowErrorCode.HTTP_CALL_502, f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_loopback
            or address.is_link_local
            or address.is_private
            or address.is_reserved
        ):
            raise StepFailure(
                WorkflowErrorCode.STEP_PERMISSION_DENIED,
                f"{host} resolves to {address}, a private address; list it in AllowedPrivateHosts",
            )
