"""The one mapping of botocore failures to WorkflowErrors, and the per-attempt read timeout."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from stepline.integrations import aws_errors
from stepline.yawl.errors import StepFailure, WorkflowErrorCode

Code = WorkflowErrorCode


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Op")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDeniedException", 400, Code.STEP_PERMISSION_DENIED),
        ("AccessDenied", 403, Code.STEP_PERMISSION_DENIED),
        ("UnrecognizedClientException", 400, Code.STEP_PERMISSION_DENIED),
        ("SomethingForbidden", 403, Code.STEP_PERMISSION_DENIED),
        ("ThrottlingException", 400, Code.STEP_QUOTA_EXCEEDED),
        ("ProvisionedThroughputExceededException", 400, Code.STEP_QUOTA_EXCEEDED),
        ("SlowDown", 503, Code.STEP_QUOTA_EXCEEDED),
        ("TooManyRequests", 429, Code.STEP_QUOTA_EXCEEDED),
        ("ValidationException", 400, Code.STEP_INVALID_ARGUMENT),
        ("ResourceNotFoundException", 400, Code.STEP_INVALID_ARGUMENT),
        ("NoSuchKey", 404, Code.STEP_INVALID_ARGUMENT),
        ("AnythingElse", 400, Code.STEP_INVALID_ARGUMENT),
        ("ConditionalCheckFailedException", 400, Code.STEP_FAILED_PRECONDITION),
        ("MessageRejected", 400, Code.STEP_FAILED_PRECONDITION),
        ("ItemCollectionSizeLimitExceededException", 400, Code.STEP_DATA_LIMIT_EXCEEDED),
        ("ServiceUnavailable", 503, Code.STEP_QUOTA_EXCEEDED),
        ("InternalServerError", 500, Code.STEP_QUOTA_EXCEEDED),
        ("WhoKnows", 502, Code.STEP_QUOTA_EXCEEDED),
    ],
)
def test_client_errors_map_to_workflow_codes(code: str, status: int, expected: Code) -> None:
    failure = aws_errors.step_failure(client_error(code, status), action="Op x")
    assert failure.code == expected
    assert failure.message == f"Op x: {code}: {code} happened"
    assert failure.retryable


def test_unavailable_code_is_chosen_by_the_caller() -> None:
    failure = aws_errors.step_failure(
        client_error("InternalServerError", 500), unavailable=Code.YDB_CALL_SERVICE_UNAVAILABLE
    )
    assert failure.code == Code.YDB_CALL_SERVICE_UNAVAILABLE


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (EndpointConnectionError(endpoint_url="http://x"), Code.STEP_QUOTA_EXCEEDED),
        (ReadTimeoutError(endpoint_url="http://x"), Code.STEP_TIMEOUT),
        (NoCredentialsError(), Code.STEP_PERMISSION_DENIED),
        (ParamValidationError(report="bad"), Code.STEP_INVALID_ARGUMENT),
    ],
)
def test_botocore_errors_map_to_workflow_codes(exc: Exception, expected: Code) -> None:
    assert aws_errors.step_failure(exc).code == expected


def test_translated_raises_step_failure_from_the_botocore_error() -> None:
    error = client_error("ThrottlingException", 400)
    with pytest.raises(StepFailure) as caught, aws_errors.translated(5, action="Op"):
        raise error
    assert caught.value.code == Code.STEP_QUOTA_EXCEEDED
    assert caught.value.__cause__ is error


def test_translated_lets_step_failures_through() -> None:
    failure = StepFailure(Code.STEP_DATA_LIMIT_EXCEEDED, "big")
    with pytest.raises(StepFailure) as caught, aws_errors.translated(5):
        raise failure
    assert caught.value is failure


def test_calls_inside_translated_carry_the_attempt_timeout_as_read_timeout() -> None:
    config = Config(retries={"total_max_attempts": 1})
    sqs = aws_errors.with_timeout_hook(boto3.client("sqs", region_name="us-east-1", config=config))
    seen: list[Any] = []

    def capture(request: Any, **_: Any) -> Any:
        seen.append(request.context.get("read_timeout"))
        raise EndpointConnectionError(endpoint_url=request.url)

    sqs.meta.events.register("before-send", capture)
    with pytest.raises(StepFailure), aws_errors.translated(2.5):
        sqs.list_queues()
    with pytest.raises(EndpointConnectionError):
        sqs.list_queues()
    assert seen[0] == 2.5
    assert seen[-1] is None
