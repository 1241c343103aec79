"""HTTPCall → an HTTP request with httpx; non-2xx answers become HTTP_CALL_<status>.

The url, header and query values and the body are rendered; a body that renders to a non-string
is sent as JSON. In AWS, loopback, link-local (169.254.169.254 included) and private targets are
refused unless the stack's ``AllowedPrivateHosts`` lists them; the dev stack allows them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from stepline.integrations import CallContext, web
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import HTTPCall


def call(step: HTTPCall, step_input: Any, ctx: CallContext) -> Any:
    """Send the request and return the body, parsed when it is JSON."""
    url = _text(ctx.render(step.url), "url")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"url {url!r} is not http(s)")
    headers = {k: _text(ctx.render(v), f"headers.{k}") for k, v in step.headers.items()}
    query = {k: _text(ctx.render(v), f"query.{k}") for k, v in step.query.items()}
    body = ctx.render(step.body) if step.body else ""
    if not isinstance(body, str):
        body = json.dumps(body, ensure_ascii=False)
        if not any(name.lower() == "content-type" for name in headers):
            headers["content-type"] = "application/json"
    content = body.encode() if body else b""
    return web.exchange(step.method, url, headers, query, content, ctx, family="HTTP_CALL")


def _text(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return json.dumps(value)
    raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"{field} must render to a string")
