"""How an error travels over HTTP: the one table from gRPC code to HTTP status and Retry-After.

Errors are :class:`stepline.errors.SteplineError` (a code, a message and details); one
exception handler (:mod:`stepline.api.http`) renders them as ``{code, message, details}`` with
the status of :data:`HTTP_STATUS`. Errors that a later retry may cure (RESOURCE_EXHAUSTED,
UNAVAILABLE) also carry a ``Retry-After`` header (:data:`RETRY_AFTER_SECONDS`). The domain
errors are re-exported here for the handlers; new code takes them from :mod:`stepline.errors`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

from stepline.errors import (
    Aborted,
    AlreadyExists,
    Code,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    SteplineError,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "HTTP_STATUS",
    "RETRY_AFTER_SECONDS",
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "Code",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "body",
    "http_status",
    "retry_after",
]

ApiError = SteplineError
"""The former name of the error root, kept for old imports; new code uses SteplineError."""

HTTP_STATUS: Final[dict[Code, HTTPStatus]] = {
    Code.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    Code.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    Code.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    Code.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    Code.NOT_FOUND: HTTPStatus.NOT_FOUND,
    Code.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    Code.ABORTED: HTTPStatus.CONFLICT,
    Code.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    Code.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    Code.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    Code.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
}
"""The HTTP status of each code the API answers with (any other code: 500)."""

RETRY_AFTER_SECONDS: Final[dict[Code, int]] = {
    Code.RESOURCE_EXHAUSTED: 1,
    Code.UNAVAILABLE: 2,
}
"""The ``Retry-After`` of the codes a retry may cure: AWS throttling eases within a second or
so (the SDK has already backed off once); an outage or a lost connection takes longer."""


def http_status(error: SteplineError) -> int:
    """The HTTP status that carries ``error``."""
    return int(HTTP_STATUS.get(error.code, HTTPStatus.INTERNAL_SERVER_ERROR))


def retry_after(error: SteplineError) -> int | None:
    """Seconds the caller should wait before retrying; None when a retry would not help."""
    return RETRY_AFTER_SECONDS.get(error.code)


def body(error: SteplineError) -> dict[str, Any]:
    """The JSON error body: ``{code, message, details}``."""
    return {"code": int(error.code), "message": error.message, "details": error.details}
