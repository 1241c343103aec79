"""Postbox → SES v2 SendEmail (REFERENCE §4.9).

Address fields render to ``a@example.com, b@example.com`` or ``[a@example.com, b@example.com]``
(a rendered JSON array of strings is taken as well); each entry may be ``Name <addr>``.
``simple`` sends Subject and Text/Html bodies with their charsets (an empty body part is left
out); ``raw`` sends the rendered MIME message as is, with ``fromAddress`` and the destination
given to SES as well.

Output (REFERENCE is silent): ``{"MessageId": ...}``.
Errors: see ``aws_errors``; an unverified or blocked sender (``MessageRejected``, unverified
MAIL FROM domain, paused sending, suspended account) is ``STEP_FAILED_PRECONDITION``; a bad
address list is ``STEP_INVALID_ARGUMENT``.
IAM: ``ses:SendEmail`` (and ``ses:SendRawEmail``) on the sender identity.
"""

from __future__ import annotations

import json
from email.utils import parseaddr
from typing import Any

from stepline.integrations import CallContext, aws_errors
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import MessageData, Postbox, SimpleMessage

CHARSETS = {"UTF_8": "UTF-8", "ISO_8859_1": "ISO-8859-1", "Shift_JIS": "Shift_JIS"}


def call(step: Postbox, step_input: Any, ctx: CallContext) -> dict[str, Any]:
    """Send the e-mail and return its SES message id."""
    destination = {"ToAddresses": addresses(ctx.render(step.destination.to_addresses), "to")}
    if step.destination.cc_addresses is not None:
        cc = ctx.render(step.destination.cc_addresses)
        if cc not in ("", None, []):
            destination["CcAddresses"] = addresses(cc, "cc")
    if step.simple is not None:
        content: dict[str, Any] = {"Simple": simple_content(step.simple, ctx)}
    else:
        assert step.raw is not None  # the model requires exactly one of simple/raw
        data = ctx.render(step.raw.data)
        if not isinstance(data, str) or not data.strip():
            raise _invalid("raw.data must render to a non-empty MIME message")
        content = {"Raw": {"Data": data.encode()}}
    sesv2 = aws_errors.client(ctx, "sesv2")
    with aws_errors.translated(ctx.timeout, action=f"SendEmail from {step.from_address}"):
        reply = sesv2.send_email(
            FromEmailAddress=step.from_address, Destination=destination, Content=content
        )
    return {"MessageId": reply.get("MessageId", "")}


def addresses(value: Any, field: str) -> list[str]:
    """The addresses of a rendered address field: a comma list, bracketed or not, or an array."""
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = [item.strip().strip("\"'") for item in text.split(",")]
    else:
        raise _invalid(f"{field} addresses must render to a string, not {json.dumps(value)}")
    result = [item.strip() if isinstance(item, str) else item for item in items]
    result = [item for item in result if item != ""]
    if not result:
        raise _invalid(f"{field} addresses are empty")
    for item in result:
        if not isinstance(item, str) or not _is_address(item):
            raise _invalid(f"{field}: {json.dumps(item)} is not an e-mail address")
    return result


def _is_address(text: str) -> bool:
    _, address = parseaddr(text)
    local, _, domain = address.rpartition("@")
    return bool(local) and "." in domain and not domain.startswith(".")


def simple_content(message: SimpleMessage, ctx: CallContext) -> dict[str, Any]:
    """The SES ``Content.Simple`` of a simple message, rendered."""
    body: dict[str, Any] = {}
    for name, part in (("Text", message.body.text), ("Html", message.body.html)):
        rendered = _content(part, ctx)
        if rendered["Data"]:
            body[name] = rendered
    if not body:
        raise _invalid("simple.body has neither text nor html")
    return {"Subject": _content(message.subject, ctx), "Body": body}


def _content(part: MessageData, ctx: CallContext) -> dict[str, str]:
    data = ctx.render(part.data)
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return {"Data": text, "Charset": CHARSETS[part.charset]}


def _invalid(message: str) -> StepFailure:
    return StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"postbox: {message}")
