"""Postbox → SES v2 SendEmail on moto, and the address list forms of REFERENCE §4.9."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from stepline.integrations import postbox
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import Postbox
from tests.unit.integrations.conftest import MakeContext, stubbed

Code = WorkflowErrorCode
SENDER = "robot@example.com"


def simple_step(to: str = "a@example.com", cc: str | None = None, **body: str) -> Postbox:
    destination = {"toAddresses": to} | ({"ccAddresses": cc} if cc is not None else {})
    return Postbox.model_validate(
        {
            "fromAddress": SENDER,
            "destination": destination,
            "simple": {
                "subject": {"data": "Hi \\(.name)", "charset": "UTF_8"},
                "body": {
                    "text": {"data": body.get("text", "Hello \\(.name)"), "charset": "UTF_8"},
                    "html": {"data": body.get("html", "<b>\\(.name)</b>"), "charset": "ISO_8859_1"},
                },
            },
        }
    )


@pytest.fixture
def verified(aws: None) -> None:
    boto3.client("ses").verify_email_identity(EmailAddress=SENDER)


def sent() -> list[dict[str, Any]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def test_simple_message_is_sent_with_rendered_subject_and_bodies(
    verified: None, make_ctx: MakeContext
) -> None:
    data = {"name": "Ann", "to": "ann@example.com, bob@example.com"}
    output = postbox.call(simple_step("\\(.to)", cc="[c@example.com]"), data, make_ctx(data))
    [message] = sent()
    assert output == {"MessageId": message.id}
    assert message.destinations["ToAddresses"] == ["ann@example.com", "bob@example.com"]
    assert message.destinations["CcAddresses"] == ["c@example.com"]
    assert message.subject == "Hi Ann"
    assert message.body == "<b>Ann</b>"


def test_simple_content_maps_charsets_and_leaves_out_empty_parts(make_ctx: MakeContext) -> None:
    step = simple_step(text="")
    assert step.simple is not None
    content = postbox.simple_content(step.simple, make_ctx({"name": "Ann"}))
    assert content == {
        "Subject": {"Data": "Hi Ann", "Charset": "UTF-8"},
        "Body": {"Html": {"Data": "<b>Ann</b>", "Charset": "ISO-8859-1"}},
    }


def test_raw_message_is_sent_as_rendered(verified: None, make_ctx: MakeContext) -> None:
    raw = "From: robot@example.com\nTo: a@example.com\nSubject: \\(.s)\n\nbody"
    step = Postbox.model_validate(
        {
            "fromAddress": SENDER,
            "destination": {"toAddresses": "a@example.com"},
            "raw": {"data": raw},
        }
    )
    output = postbox.call(step, {}, make_ctx({"s": "raw"}))
    [message] = sent()
    assert output["MessageId"] == message.id
    assert "Subject: raw" in message.raw_data


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@x.io", ["a@x.io"]),
        ("a@x.io, b@y.org", ["a@x.io", "b@y.org"]),
        ("[a@x.io, b@y.org]", ["a@x.io", "b@y.org"]),
        ('["a@x.io", "b@y.org"]', ["a@x.io", "b@y.org"]),
        (["a@x.io", "Bob <b@y.org>"], ["a@x.io", "Bob <b@y.org>"]),
        (" a@x.io ,, ", ["a@x.io"]),
    ],
)
def test_address_lists_accept_the_documented_forms(value: Any, expected: list[str]) -> None:
    assert postbox.addresses(value, "to") == expected


@pytest.mark.parametrize("value", ["", "[]", "not-an-address", "a@b", 5, ["a@x.io", 3]])
def test_bad_address_lists_are_invalid_arguments(value: Any) -> None:
    with pytest.raises(StepFailure) as caught:
        postbox.addresses(value, "to")
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


def test_unverified_sender_is_a_failed_precondition(aws: None, make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        postbox.call(simple_step(), {}, make_ctx({"name": "Ann"}))
    assert caught.value.code == Code.STEP_FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("aws_code", "status", "expected"),
    [
        ("MessageRejected", 400, Code.STEP_FAILED_PRECONDITION),
        ("MailFromDomainNotVerifiedException", 400, Code.STEP_FAILED_PRECONDITION),
        ("AccountSuspendedException", 400, Code.STEP_FAILED_PRECONDITION),
        ("AccessDeniedException", 403, Code.STEP_PERMISSION_DENIED),
        ("TooManyRequestsException", 429, Code.STEP_QUOTA_EXCEEDED),
        ("LimitExceededException", 400, Code.STEP_QUOTA_EXCEEDED),
        ("BadRequestException", 400, Code.STEP_INVALID_ARGUMENT),
    ],
)
def test_send_errors_map_to_workflow_codes(
    aws_code: str, status: int, expected: Code, make_ctx: MakeContext
) -> None:
    client = stubbed("sesv2", "send_email", aws_code, status)
    with pytest.raises(StepFailure) as caught:
        postbox.call(simple_step(), {}, make_ctx({"name": "Ann"}, client=client))
    assert caught.value.code == expected
