"""The store's one translation of botocore failures: throttled, unavailable, refused, conflicts."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.response import StreamingBody
from botocore.stub import Stubber

from stepline.store.errors import (
    ConditionFailed,
    Refused,
    Throttled,
    TransactionConflict,
    Transient,
    Unavailable,
    aws_failure,
)
from stepline.store.payloads import Payloads
from stepline.store.queue import RunnerHop, StepMessage, StepsQueue
from stepline.store.table import Table, put_op
from stepline.store.tokens import PageTokens

KEY = {"PK": "WF#x", "SK": "HEAD"}
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/steps"
NETWORK_FAILURES = [
    EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
]


def client_error(code: str, status: int, operation: str = "GetItem", **extra: Any) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return ClientError(response, operation)


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(
        service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    return client, Stubber(client)


class Failing:
    """A stand-in client whose every operation raises one exception."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise self.exc

        return fail


# --- the mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("dynamodb", "ProvisionedThroughputExceededException", 400),
        ("dynamodb", "ThrottlingException", 400),
        ("dynamodb", "RequestLimitExceeded", 400),
        ("s3", "SlowDown", 503),
        ("s3", "ServiceUnavailable", 503),  # S3: "reduce your request rate"
        ("sqs", "ThrottlingException", 400),
        ("sqs", "RequestThrottled", 403),
        ("sqs", "OverLimit", 403),
        ("secretsmanager", "ThrottlingException", 400),
        ("lambda", "SomethingNew", 429),
    ],
)
def test_throttling_codes_become_throttled(service: str, code: str, status: int) -> None:
    failure = aws_failure(client_error(code, status), service)

    assert type(failure) is Throttled
    assert isinstance(failure, Transient)
    assert failure.service == service
    assert code in failure.reason


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("dynamodb", "InternalServerError", 500),
        ("dynamodb", "ServiceUnavailable", 503),
        ("s3", "InternalError", 500),
        ("sqs", "InternalFailure", 500),
        ("secretsmanager", "InternalServiceError", 500),
        ("dynamodb", "WhoKnows", 502),
        ("s3", "RequestTimeout", 400),
    ],
)
def test_aws_side_failures_become_unavailable(service: str, code: str, status: int) -> None:
    assert type(aws_failure(client_error(code, status), service)) is Unavailable


@pytest.mark.parametrize("exc", NETWORK_FAILURES, ids=lambda e: type(e).__name__)
def test_connection_errors_and_timeouts_become_unavailable(exc: Exception) -> None:
    failure = aws_failure(exc, "dynamodb")

    assert type(failure) is Unavailable
    assert type(exc).__name__ in failure.reason


@pytest.mark.parametrize(
    "exc",
    [
        client_error("AccessDeniedException", 400),
        client_error("ValidationException", 400),
        client_error("ResourceNotFoundException", 400),
        client_error("NoSuchKey", 404),
        NoCredentialsError(),
    ],
    ids=lambda e: type(e).__name__ + str(getattr(e, "response", {}).get("Error", {}).get("Code")),
)
def test_bugs_and_misconfiguration_are_refused_not_transient(exc: Exception) -> None:
    failure = aws_failure(exc, "dynamodb")

    assert type(failure) is Refused
    assert not isinstance(failure, Transient)


# --- the table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_table_get_throttled_raises_throttled_from_the_client_error(code: str) -> None:
    client, stub = stubbed("dynamodb")
    stub.add_client_error("get_item", service_error_code=code, http_status_code=400)

    with stub, pytest.raises(Throttled) as raised:
        Table(client, "t").get(KEY)

    assert raised.value.service == "dynamodb"
    assert isinstance(raised.value.__cause__, ClientError)


def test_table_query_unavailable_raises_unavailable() -> None:
    client, stub = stubbed("dynamodb")
    stub.add_client_error("query", service_error_code="InternalServerError", http_status_code=500)

    with stub, pytest.raises(Unavailable):
        Table(client, "t").query(key_condition="PK = :pk", values={":pk": "x"})


@pytest.mark.parametrize("exc", NETWORK_FAILURES, ids=lambda e: type(e).__name__)
def test_table_calls_that_cannot_reach_dynamodb_raise_unavailable(exc: Exception) -> None:
    table = Table(Failing(exc), "t")  # type: ignore[arg-type]

    with pytest.raises(Unavailable):
        table.get(KEY)
    with pytest.raises(Unavailable):
        table.put(KEY)
    with pytest.raises(Unavailable):
        table.update(KEY, "SET a = :a", values={":a": 1})
    with pytest.raises(Unavailable):
        table.delete(KEY)
    with pytest.raises(Unavailable):
        table.transact([put_op(KEY)])
    with pytest.raises(Unavailable):
        table.query(key_condition="PK = :pk", values={":pk": "x"})


def test_a_failed_condition_stays_condition_failed() -> None:
    client, stub = stubbed("dynamodb")
    stub.add_client_error(
        "put_item", service_error_code="ConditionalCheckFailedException", http_status_code=400
    )

    with stub, pytest.raises(ConditionFailed):
        Table(client, "t").put(KEY)


def test_a_throttled_conditional_write_is_throttled_not_a_failed_condition() -> None:
    client, stub = stubbed("dynamodb")
    stub.add_client_error(
        "update_item",
        service_error_code="ProvisionedThroughputExceededException",
        http_status_code=400,
    )

    with stub, pytest.raises(Throttled):
        Table(client, "t").update(KEY, "SET a = :a", values={":a": 1})


def _cancelled(*reasons: str) -> Any:
    client, stub = stubbed("dynamodb")
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": r} for r in reasons]},
    )
    return client, stub


@pytest.mark.parametrize(
    "reasons",
    [("None", "ThrottlingError"), ("ProvisionedThroughputExceeded", "None")],
)
def test_a_transaction_cancelled_by_throttling_alone_is_throttled(reasons: tuple[str, ...]) -> None:
    client, stub = _cancelled(*reasons)

    with stub, pytest.raises(Throttled):
        Table(client, "t").transact([put_op(KEY), put_op(KEY | {"SK": "OTHER"})])


@pytest.mark.parametrize(
    "reasons",
    [
        ("None", "ConditionalCheckFailed"),
        ("ConditionalCheckFailed", "ThrottlingError"),
        ("TransactionConflict", "None"),
    ],
)
def test_a_transaction_with_a_failed_condition_or_conflict_stays_a_conflict(
    reasons: tuple[str, ...],
) -> None:
    client, stub = _cancelled(*reasons)

    with stub, pytest.raises(TransactionConflict) as raised:
        Table(client, "t").transact([put_op(KEY), put_op(KEY | {"SK": "OTHER"})])

    assert raised.value.reasons == list(reasons)
    failed = [i for i in range(len(reasons)) if raised.value.failed_at(i)]
    assert failed == [i for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"]


def test_a_refused_table_request_is_refused() -> None:
    client, stub = stubbed("dynamodb")
    stub.add_client_error(
        "get_item", service_error_code="AccessDeniedException", http_status_code=400
    )

    with stub, pytest.raises(Refused):
        Table(client, "t").get(KEY)


# --- payloads, queue, runner hop, page tokens ------------------------------------------------


def test_payload_put_slowed_down_is_throttled() -> None:
    client, stub = stubbed("s3")
    stub.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)

    with stub, pytest.raises(Throttled) as raised:
        Payloads(client, "b").put("k", "{}")

    assert raised.value.service == "s3"


def test_payload_get_that_fails_is_unavailable() -> None:
    client, stub = stubbed("s3")
    stub.add_client_error("get_object", service_error_code="InternalError", http_status_code=500)

    with stub, pytest.raises(Unavailable):
        Payloads(client, "b").get("s3://b/k")


def test_payload_body_read_that_times_out_is_unavailable() -> None:
    class SlowBody(io.BytesIO):
        def read(self, *_: Any) -> bytes:
            raise ReadTimeoutError(endpoint_url="https://b.s3.amazonaws.com/k")

    client, stub = stubbed("s3")
    stub.add_response("get_object", {"Body": StreamingBody(SlowBody(b"{}"), 2)})

    with stub, pytest.raises(Unavailable):
        Payloads(client, "b").get("s3://b/k")


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("RequestThrottled", 403), ("OverLimit", 403)],
)
def test_queue_send_throttled_is_throttled(code: str, status: int) -> None:
    client, stub = stubbed("sqs")
    stub.add_client_error("send_message", service_error_code=code, http_status_code=status)

    with stub, pytest.raises(Throttled) as raised:
        StepsQueue(client, URL).send(StepMessage("e", 0))

    assert raised.value.service == "sqs"


def test_queue_send_that_cannot_connect_is_unavailable() -> None:
    queue = StepsQueue(Failing(EndpointConnectionError(endpoint_url=URL)), URL)  # type: ignore[arg-type]

    with pytest.raises(Unavailable):
        queue.send(StepMessage("e", 0))


def test_runner_hop_refused_falls_back_to_the_queue_whose_throttling_is_throttled() -> None:
    lam, lam_stub = stubbed("lambda")
    lam_stub.add_client_error(
        "invoke", service_error_code="TooManyRequestsException", http_status_code=429
    )
    sqs, sqs_stub = stubbed("sqs")
    sqs_stub.add_client_error(
        "send_message", service_error_code="ThrottlingException", http_status_code=400
    )

    with lam_stub, sqs_stub, pytest.raises(Throttled):
        RunnerHop(lam, "runner", StepsQueue(sqs, URL)).send(StepMessage("e", 0))
    lam_stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, Throttled),
        ("InternalServiceError", 500, Unavailable),
        ("AccessDeniedException", 400, Refused),
    ],
)
def test_page_token_secret_read_failures_are_translated(
    code: str, status: int, expected: type[Exception]
) -> None:
    client, stub = stubbed("secretsmanager")
    stub.add_client_error("get_secret_value", service_error_code=code, http_status_code=status)

    with stub, pytest.raises(expected):
        PageTokens.from_secret(client, "arn:aws:secretsmanager:us-east-1:1:secret:x")


def test_page_tokens_from_a_secret_verify_their_own_tokens() -> None:
    client, stub = stubbed("secretsmanager")
    stub.add_response(
        "get_secret_value",
        {"SecretString": "k" * 32, "ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"},
    )

    with stub:
        tokens = PageTokens.from_secret(client, "arn:aws:secretsmanager:us-east-1:1:secret:x")

    assert tokens.verify(tokens.issue({"a": 1}, "s"), "s") == {"a": 1}
