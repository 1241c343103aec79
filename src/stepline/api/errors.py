"""Domain errors of the API and their gRPC codes and HTTP statuses.

Every error raised from the core for bad input or a missing resource is an :class:`ApiError`;
one exception handler (:mod:`stepline.api.http`) renders it as ``{code, message, details}``.
Errors that a later retry may cure (RESOURCE_EXHAUSTED, UNAVAILABLE) also carry a
``Retry-After`` header (:data:`RETRY_AFTER_SECONDS`).
"""

from __future__ import annotations

from enum import IntEnum
from http import HTTPStatus
from typing import Any, Final


class Code(IntEnum):
    """gRPC status codes used by the API (google.rpc.Code numbers)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


HTTP_STATUS: dict[Code, HTTPStatus] = {
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


RETRY_AFTER_SECONDS: Final[dict[Code, int]] = {
    Code.RESOURCE_EXHAUSTED: 1,
    Code.UNAVAILABLE: 2,
}
"""The ``Retry-After`` of the codes a retry may cure: AWS throttling eases within a second or
so (the SDK has already backed off once); an outage or a lost connection takes longer."""


class ApiError(Exception):
    """An error the API reports to its caller with a gRPC code and a message."""

    code: Code = Code.INTERNAL

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    @property
    def http_status(self) -> int:
        """The HTTP status that carries this error."""
        return int(HTTP_STATUS.get(self.code, HTTPStatus.INTERNAL_SERVER_ERROR))

    @property
    def retry_after(self) -> int | None:
        """Seconds the caller should wait before retrying; None when a retry would not help."""
        return RETRY_AFTER_SECONDS.get(self.code)

    def to_body(self) -> dict[str, Any]:
        """The JSON error body: ``{code, message, details}``."""
        return {"code": int(self.code), "message": self.message, "details": self.details}


class InvalidArgument(ApiError):
    """The request is malformed; the message names the field and the problem."""

    code = Code.INVALID_ARGUMENT


class NotFound(ApiError):
    """The named resource does not exist."""

    code = Code.NOT_FOUND


class AlreadyExists(ApiError):
    """The resource (or the idempotency key) is already taken."""

    code = Code.ALREADY_EXISTS


class FailedPrecondition(ApiError):
    """The resource is in a state that does not allow the call."""

    code = Code.FAILED_PRECONDITION


class Aborted(ApiError):
    """A concurrent change won the race; the caller may retry."""

    code = Code.ABORTED


class Unauthenticated(ApiError):
    """The caller is not authenticated."""

    code = Code.UNAUTHENTICATED


class PermissionDenied(ApiError):
    """The caller may see the resource but lacks the role the call needs; the message names it."""

    code = Code.PERMISSION_DENIED


class ResourceExhausted(ApiError):
    """Too many requests right now (AWS throttled Stepline); retry after ``Retry-After``."""

    code = Code.RESOURCE_EXHAUSTED


class Unavailable(ApiError):
    """Stepline cannot reach or use AWS right now; retry after ``Retry-After``."""

    code = Code.UNAVAILABLE


class Internal(ApiError):
    """An unexpected failure inside Stepline."""

    code = Code.INTERNAL
