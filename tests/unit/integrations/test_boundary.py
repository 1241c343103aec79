"""The stack's own resources are recognised in every form a step may name them."""

from __future__ import annotations

import pytest

from stepline.integrations.boundary import Reserved, refuse_own, resource_name
from stepline.yawl.errors import StepFailure, WorkflowErrorCode

STACK = Reserved("prod", frozenset({"payloads-bucket"}))


@pytest.mark.parametrize(
    "target",
    [
        "prod-Table-1A2B",
        "arn:aws:dynamodb:us-east-1:123456789012:table/prod-Table-1A2B",
        "arn:aws:lambda:us-east-1:123456789012:function:prod-StartFunction-X:live",
        "123456789012:function:prod-StartFunction-X",
        "https://sqs.us-east-1.amazonaws.com/123456789012/prod-StepsQueue-X",
        "arn:aws:sqs:us-east-1:123456789012:prod-StepsQueue-X",
        "prod-payloadbucket-x1",  # buckets are named in lower case
        "arn:aws:kinesis:us-east-1:123456789012:stream/prod-events",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod-page-tokens-AbC123",
        "payloads-bucket",
    ],
)
def test_a_target_named_after_the_stack_is_refused_before_any_call(target: str) -> None:
    with pytest.raises(StepFailure) as refused:
        refuse_own(STACK, "step", target)

    assert refused.value.code is WorkflowErrorCode.STEP_PERMISSION_DENIED
    assert target in refused.value.message


@pytest.mark.parametrize(
    "target",
    ["stepline-orders", "production-table", "arn:aws:sqs:us-east-1:1:prodq", "prodtable"],
)
def test_other_targets_pass(target: str) -> None:
    refuse_own(STACK, "step", target)


def test_without_a_stack_nothing_is_reserved() -> None:
    refuse_own(Reserved(), "step", "prod-Table-1A2B")


def test_the_name_inside_each_form_of_target() -> None:
    assert resource_name("arn:aws:s3:::bucket/key/deeper") == "bucket"
    assert resource_name("function:name") == "name"
    assert resource_name("/ru-central1/b1g/etn/stream") == "stream"
