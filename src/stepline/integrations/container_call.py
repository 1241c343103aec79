"""ContainerCall → an HTTP request to the container's endpoint with httpx (REFERENCE §4.10).

``containerId`` is the container's base URL — an App Runner / ECS service URL or a Lambda
function URL (``https://<id>.lambda-url.<region>.on.aws``; such requests are signed with SigV4
for the ``lambda`` service using the runner's credentials, so function URLs with AuthType
AWS_IAM work); ``path`` is appended to it, ``query``/``headers`` values and ``method`` are
rendered. A rendered ``body`` that is not a string is sent as JSON. Redirects are followed.
Loopback, private and link-local targets are refused (``STEP_PERMISSION_DENIED``) unless their
host is in ``ctx.allow_private_hosts`` (``*``: any).

Output: the response body, parsed when it is JSON, else text (as HTTPCall); at most 2 MB is read
(more → ``STEP_DATA_LIMIT_EXCEEDED``).

Errors: a non-2xx reply → ``CONTAINER_CALL_<status>`` for the 53 statuses YaWL lists; a status it
does not list maps to the nearest generic one — other 4xx → ``CONTAINER_CALL_400``, other 5xx →
``CONTAINER_CALL_500``, anything else that is not 2xx (1xx, 3xx left after redirects, ≥600) →
``STEP_INVALID_OUTPUT``. A timeout → ``STEP_TIMEOUT``; a connection that cannot be made or breaks
→ ``CONTAINER_CALL_503`` (what a proxy in front of the container would answer); a bad
``containerId``/``path``/``method`` → ``STEP_INVALID_ARGUMENT``.
IAM: ``lambda:InvokeFunctionUrl`` on the functions called through AWS_IAM function URLs.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from stepline.integrations import CallContext
from stepline.yawl.errors import CALL_STATUSES, StepFailure, WorkflowErrorCode
from stepline.yawl.integration import HTTP_METHODS, ContainerCall

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
_FUNCTION_URL = re.compile(r"^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$")


def call(step: ContainerCall, step_input: Any, ctx: CallContext) -> Any:
    """Send the request to the container and return its (JSON-decoded when possible) body."""
    url = join_url(step.container_id, _text(ctx.render(step.path), "path"))
    method = _text(ctx.render(step.method), "method").upper()
    if method not in HTTP_METHODS:
        raise _invalid(f"method {method!r} is not one of {', '.join(HTTP_METHODS)}")
    headers = {k: _text(ctx.render(v), f"headers.{k}") for k, v in step.headers.items()}
    query = {k: _text(ctx.render(v), f"query.{k}") for k, v in step.query.items()}
    body = ctx.render(step.body) if step.body else ""
    if not isinstance(body, str):
        body = json.dumps(body, ensure_ascii=False)
        if not any(name.lower() == "content-type" for name in headers):
            headers["content-type"] = "application/json"
    content = body.encode() if body else b""
    return send(method, url, headers, query, content, ctx)


def join_url(base: str, path: str) -> str:
    """The container's base URL with the step's path appended."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid(f"containerId {base!r} must be the container's http(s) base URL")
    if not path:
        return base
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def send(
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    content: bytes,
    ctx: CallContext,
) -> Any:
    """One HTTP exchange with the container, errors mapped to WorkflowErrors."""

    def check(request: httpx.Request) -> None:
        check_host(request.url.host, ctx.allow_private_hosts)
        _sign_function_url(request)

    hooks: dict[str, list[Any]] = {"request": [check]}
    try:
        with (
            httpx.Client(timeout=ctx.timeout, follow_redirects=True, event_hooks=hooks) as client,
            client.stream(method, url, headers=headers, params=query, content=content) as reply,
        ):
            data = _read_capped(reply, method, url)
    except httpx.TimeoutException as exc:
        raise StepFailure(WorkflowErrorCode.STEP_TIMEOUT, f"{method} {url}: timed out") from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise _invalid(f"{method} {url}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise StepFailure(
            WorkflowErrorCode.CONTAINER_CALL_503, f"{method} {url}: {type(exc).__name__}: {exc}"
        ) from exc
    if not 200 <= reply.status_code < 300:
        raise StepFailure(
            status_error(reply.status_code),
            f"{method} {url} answered {reply.status_code}: {data[:500].decode(errors='replace')}",
        )
    text = data.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


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


def status_error(status: int) -> WorkflowErrorCode:
    """The WorkflowError of a non-2xx status (statuses YaWL does not list → nearest generic)."""
    if status in CALL_STATUSES:
        return WorkflowErrorCode(f"CONTAINER_CALL_{status}")
    if 400 <= status < 500:
        return WorkflowErrorCode.CONTAINER_CALL_400
    if 500 <= status < 600:
        return WorkflowErrorCode.CONTAINER_CALL_500
    return WorkflowErrorCode.STEP_INVALID_OUTPUT


def check_host(host: str, allowed: frozenset[str]) -> None:
    """Refuse loopback, private, link-local and reserved targets unless the host is allowed."""
    if "*" in allowed or host in allowed:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise StepFailure(
            WorkflowErrorCode.CONTAINER_CALL_503, f"cannot resolve {host}: {exc}"
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


def _sign_function_url(request: httpx.Request) -> None:
    match = _FUNCTION_URL.match(request.url.host)
    if match is None:
        return
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        return  # an AuthType NONE function URL needs no signature
    signed = AWSRequest(
        method=request.method,
        url=str(request.url),
        data=request.content,
        headers={"host": request.url.host},
    )
    SigV4Auth(credentials, "lambda", match.group(1)).add_auth(signed)
    for name, value in signed.headers.items():
        request.headers[name] = value


def _text(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool) or value is None:
        return json.dumps(value)
    raise _invalid(f"{field} must render to a string, not {json.dumps(value)[:80]}")


def _invalid(message: str) -> StepFailure:
    return StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"containerCall: {message}")
