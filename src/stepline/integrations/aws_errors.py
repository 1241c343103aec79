"""Calling AWS from an adapter: botocore failures become WorkflowErrors, calls get a deadline.

Mapping (REFERENCE §6; the choices for codes YaWL has no exact twin for are Stepline's):

* access denied, missing/invalid credentials, KMS access errors → ``STEP_PERMISSION_DENIED``;
* throttling, request-rate and throughput limits (incl. S3 ``SlowDown``) → ``STEP_QUOTA_EXCEEDED``;
* a failed condition, a disabled/suspended resource or unverified SES identity →
  ``STEP_FAILED_PRECONDITION``;
* an item or request too large → ``STEP_DATA_LIMIT_EXCEEDED``;
* validation, not-found and any other 4xx → ``STEP_INVALID_ARGUMENT``;
* a read or connect timeout → ``STEP_TIMEOUT``;
* unavailable, internal errors, any 5xx, a lost connection → ``unavailable``: for DynamoDB
  ``YDB_CALL_SERVICE_UNAVAILABLE``, elsewhere ``STEP_QUOTA_EXCEEDED`` ("the service cannot take
  the request now"), both retryable and both what a retry policy against overload lists.

botocore has no per-call timeout, only the client's; :func:`client` installs a hook that puts
the attempt's remaining time into the request context (botocore's per-request ``read_timeout``),
and :func:`translated` sets that time for the calls made inside it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from stepline.integrations import CallContext
from stepline.yawl.errors import StepFailure, WorkflowErrorCode

_PERMISSION = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "KMSAccessDeniedException",
        "KmsAccessDenied",
        "KMSInvalidStateException",
        "AllAccessDisabled",
        "NotAuthorized",
        "Forbidden",
    }
)
_QUOTA = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "LimitExceededException",
        "KMSThrottlingException",
        "KmsThrottled",
        "OverLimit",
        "TransactionInProgressException",
    }
)
_PRECONDITION = frozenset(
    {
        "ConditionalCheckFailedException",
        "PreconditionFailed",
        "InvalidObjectState",
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "KMSDisabledException",
        "KmsDisabled",
        "ResourceInUseException",
    }
)
_TOO_LARGE = frozenset(
    {
        "ItemCollectionSizeLimitExceededException",
        "EntityTooLarge",
        "RequestEntityTooLarge",
        "BatchRequestTooLong",
    }
)
_UNAVAILABLE = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

_READ_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "stepline_aws_read_timeout", default=None
)
_HOOK_ID = "stepline-attempt-read-timeout"


def step_failure(
    exc: Exception,
    *,
    action: str = "",
    unavailable: WorkflowErrorCode = WorkflowErrorCode.STEP_QUOTA_EXCEEDED,
) -> StepFailure:
    """The WorkflowError a botocore failure stands for (``action`` prefixes the message)."""
    prefix = f"{action}: " if action else ""
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        mapped = _client_error_code(code, _status(exc), unavailable)
        return StepFailure(mapped, f"{prefix}{code}: {_error_message(exc)}")
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return StepFailure(WorkflowErrorCode.STEP_TIMEOUT, f"{prefix}{exc}")
    if isinstance(exc, NoCredentialsError):
        return StepFailure(WorkflowErrorCode.STEP_PERMISSION_DENIED, f"{prefix}{exc}")
    if isinstance(exc, ParamValidationError):
        return StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"{prefix}{exc}")
    # EndpointConnectionError, ConnectionClosedError and the rest of BotoCoreError.
    return StepFailure(unavailable, f"{prefix}{exc}")


def _client_error_code(code: str, status: int, unavailable: WorkflowErrorCode) -> WorkflowErrorCode:
    for names, mapped in (
        (_PERMISSION, WorkflowErrorCode.STEP_PERMISSION_DENIED),
        (_QUOTA, WorkflowErrorCode.STEP_QUOTA_EXCEEDED),
        (_PRECONDITION, WorkflowErrorCode.STEP_FAILED_PRECONDITION),
        (_TOO_LARGE, WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED),
        (_UNAVAILABLE, unavailable),
    ):
        if code in names:
            return mapped
    if status == 403:
        return WorkflowErrorCode.STEP_PERMISSION_DENIED
    if status == 429:
        return WorkflowErrorCode.STEP_QUOTA_EXCEEDED
    if status >= 500:
        return unavailable
    return WorkflowErrorCode.STEP_INVALID_ARGUMENT


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or "Unknown")


def _error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "") or exc)


def _status(exc: ClientError) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0


def client(ctx: CallContext, service: str) -> Any:
    """``ctx.client(service)`` with the hook that applies the attempt's timeout to each call."""
    return with_timeout_hook(ctx.client(service))


def with_timeout_hook(aws: Any) -> Any:
    """The boto3 client, with the hook that gives its calls the timeout set by `translated`."""
    events = getattr(getattr(aws, "meta", None), "events", None)
    if events is not None:
        events.register("before-call", _apply_read_timeout, unique_id=_HOOK_ID)
    return aws


def _apply_read_timeout(context: dict[str, Any] | None = None, **_: Any) -> None:
    seconds = _READ_TIMEOUT.get()
    if seconds is not None and context is not None:
        context["read_timeout"] = seconds


@contextmanager
def translated(
    timeout: float,
    *,
    action: str = "",
    unavailable: WorkflowErrorCode = WorkflowErrorCode.STEP_QUOTA_EXCEEDED,
) -> Iterator[None]:
    """Run AWS calls with a read timeout of ``timeout`` s; raise botocore errors as StepFailure."""
    token = _READ_TIMEOUT.set(max(timeout, 0.001))
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise step_failure(exc, action=action, unavailable=unavailable) from exc
    finally:
        _READ_TIMEOUT.reset(token)
