"""Failures of the storage adapters, free of botocore types, and the one translation into them.

Every boto3 call of the store runs inside :func:`translated`, so nothing botocore raises gets
past ``store/``:

* throttling (DynamoDB ``ProvisionedThroughputExceededException``, ``ThrottlingException``,
  ``RequestLimitExceeded``; S3 ``SlowDown`` and any S3 503; SQS ``ThrottlingException``,
  ``RequestThrottled``, ``OverLimit``; Secrets Manager ``ThrottlingException``; any 429)
  → :class:`Throttled`;
* unavailability (``InternalServerError``, ``ServiceUnavailable`` and any other 5xx; a
  connection that could not be made or was lost; a connect or read timeout) → :class:`Unavailable`;
* anything else (access denied, validation, a missing resource, no credentials: a bug or a
  misconfiguration, which a retry does not change) → :class:`Refused`.

Conditional writes keep their meaning: ``ConditionalCheckFailedException`` is
:class:`ConditionFailed`, and a cancelled transaction is a :class:`TransactionConflict` unless
its only failures are throttling (see :func:`transaction_failure`).

Every store failure is a :class:`~stepline.errors.SteplineError`; its code says what it is
(ABORTED for a lost condition, RESOURCE_EXHAUSTED / UNAVAILABLE for AWS trouble, INTERNAL
otherwise), but its message is for the logs: the core turns the ones a caller should hear about
into domain errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from stepline.errors import Code, SteplineError

THROTTLING_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "OverLimit",
        "KmsThrottled",
        "KMSThrottlingException",
    }
)
"""AWS error codes that mean "too many requests" (DynamoDB, S3, SQS, Secrets Manager, KMS)."""

UNAVAILABLE_CODES: Final = frozenset(
    {
        "InternalServerError",
        "InternalServerErrorException",
        "InternalFailure",
        "InternalError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""AWS error codes that mean "the service failed or timed out; the same request may succeed"."""

THROTTLED_REASONS: Final = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
"""CancellationReasons codes of a transaction that was throttled rather than refused."""

CONDITION_FAILED: Final = "ConditionalCheckFailed"


class StoreError(SteplineError):
    """Base of every storage failure."""

    code = Code.INTERNAL


class ConditionFailed(StoreError):
    """A conditional write lost: the item was not in the expected state."""

    code = Code.ABORTED


class TransactionConflict(StoreError):
    """A transaction was cancelled; ``reasons`` holds one code per operation ('None' = fine)."""

    code = Code.ABORTED

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons

    def failed_at(self, index: int) -> bool:
        """Whether the operation at ``index`` failed its condition."""
        return index < len(self.reasons) and self.reasons[index] == CONDITION_FAILED


class ItemTooLarge(StoreError):
    """A write would make an item larger than DynamoDB's 400 KB; nothing was written.

    It recurs on every attempt: the data must shrink (or go to the payload bucket).
    """

    def __init__(self, size: int) -> None:
        super().__init__(f"an item of {size} bytes is over DynamoDB's {ITEM_LIMIT} byte limit")
        self.size = size


ITEM_LIMIT: Final = 400 * 1024


class AwsFailure(StoreError):
    """An AWS request of the store failed; ``service`` and ``reason`` say which and why."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class Transient(AwsFailure):
    """AWS could not serve the request now; the same request may succeed later."""


class Throttled(Transient):
    """AWS refused the request for its rate or throughput (after the SDK's own retries)."""

    code = Code.RESOURCE_EXHAUSTED


class Unavailable(Transient):
    """AWS failed (5xx) or was not reached in time: no connection, a lost one, a timeout."""

    code = Code.UNAVAILABLE


class Refused(AwsFailure):
    """AWS refused the request for a reason a retry does not change: a bug or misconfiguration."""


def aws_failure(exc: Exception, service: str) -> AwsFailure:
    """The store error a botocore failure of a ``service`` request stands for."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotocoreConnectionError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        kind = _client_error_kind(code, status if isinstance(status, int) else 0, service)
        return kind(service, f"{exc.operation_name}: {code} ({status}): {error.get('Message', '')}")
    if isinstance(exc, BotocoreConnectionError | HTTPClientError):
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError.
        return Unavailable(service, f"{type(exc).__name__}: {exc}")
    return Refused(service, f"{type(exc).__name__}: {exc}")


def _client_error_kind(code: str, status: int, service: str) -> type[AwsFailure]:
    # S3 answers 503 (SlowDown, or ServiceUnavailable: "reduce your request rate") to a high
    # request rate; elsewhere a 503 is an outage.
    if code in THROTTLING_CODES or status == 429 or (service == "s3" and status == 503):
        return Throttled
    if code in UNAVAILABLE_CODES or status >= 500:
        return Unavailable
    return Refused


def transaction_failure(reasons: list[str]) -> StoreError:
    """A cancelled transaction: a conflict, unless throttling is all that went wrong.

    A failed condition anywhere keeps it a :class:`TransactionConflict`, whatever else failed.
    """
    if CONDITION_FAILED not in reasons and THROTTLED_REASONS.intersection(reasons):
        return Throttled("dynamodb", f"TransactWriteItems: cancelled {reasons}")
    return TransactionConflict(reasons)


@contextmanager
def translated(service: str) -> Iterator[None]:
    """Run boto3 calls of ``service``; their botocore failures are raised as :class:`AwsFailure`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise aws_failure(exc, service) from exc
