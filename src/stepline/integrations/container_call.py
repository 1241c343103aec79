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

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from stepline.integrations import CallContext, web
from stepline.integrations.web import MAX_RESPONSE_BYTES
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import HTTP_METHODS, ContainerCall

__all__ = ["MAX_RESPONSE_BYTES", "call", "join_url"]
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

    def sign(request: httpx.Request) -> None:
        _sign_function_url(request, ctx)

    return web.exchange(
        method, url, headers, query, content, ctx, family="CONTAINER_CALL", sign=sign
    )


def join_url(base: str, path: str) -> str:
    """The container's base URL with the step's path appended."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid(f"containerId {base!r} must be the container's http(s) base URL")
    if not path:
        return base
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def _sign_function_url(request: httpx.Request, ctx: CallContext) -> None:
    match = _FUNCTION_URL.match(request.url.host)
    if match is None:
        return
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = ctx.credentials() if ctx.credentials else boto3.Session().get_credentials()
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
