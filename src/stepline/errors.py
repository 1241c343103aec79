"""The one root of Stepline's errors, its gRPC codes, and the domain errors of the core.

Every error Stepline raises on purpose is a :class:`SteplineError`: a gRPC :class:`Code`, a
message and ``details``. The domain errors below are what the core raises for bad input, a
missing resource or a lost race, and what the API reports to its caller; the storage failures
(:mod:`stepline.store.errors`) and an invalid specification (:mod:`stepline.yawl.problems`)
share the root. Neutral ground: every layer imports it, and it imports none of them; how a code
travels over HTTP is the edge's business (:mod:`stepline.api.errors`).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class Code(IntEnum):
    """gRPC status codes used by Stepline (google.rpc.Code numbers)."""

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


class SteplineError(Exception):
    """An error of Stepline's own: a gRPC ``code``, a ``message`` and ``details``."""

    code: Code = Code.INTERNAL

    def __init__(self, message: str = "", *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidArgument(SteplineError):
    """The request is malformed; the message names the field and the problem."""

    code = Code.INVALID_ARGUMENT


class NotFound(SteplineError):
    """The named resource does not exist."""

    code = Code.NOT_FOUND


class AlreadyExists(SteplineError):
    """The resource (or the idempotency key) is already taken."""

    code = Code.ALREADY_EXISTS


class FailedPrecondition(SteplineError):
    """The resource is in a state that does not allow the call."""

    code = Code.FAILED_PRECONDITION


class Aborted(SteplineError):
    """A concurrent change won the race; the caller may retry."""

    code = Code.ABORTED


class Unauthenticated(SteplineError):
    """The caller is not authenticated."""

    code = Code.UNAUTHENTICATED


class PermissionDenied(SteplineError):
    """The caller may see the resource but lacks the role the call needs; the message names it."""

    code = Code.PERMISSION_DENIED


class ResourceExhausted(SteplineError):
    """Too many requests right now (AWS throttled Stepline); retry after a while."""

    code = Code.RESOURCE_EXHAUSTED


class Unavailable(SteplineError):
    """Stepline cannot reach or use AWS right now; retry after a while."""

    code = Code.UNAVAILABLE


class Internal(SteplineError):
    """An unexpected failure inside Stepline."""

    code = Code.INTERNAL


def error_of(code: int, message: str, details: list[dict[str, Any]] | None = None) -> SteplineError:
    """The domain error of a gRPC ``code`` (what a client makes of an API's answer); a plain
    SteplineError carrying the code where no class here has it."""
    try:
        known = Code(code)
    except ValueError:
        known = Code.UNKNOWN
    kind = next((c for c in SteplineError.__subclasses__() if c.code is known), None)
    if kind is not None and __name__ == kind.__module__:
        return kind(message, details=details)
    made = SteplineError(message, details=details)
    made.code = known
    return made
