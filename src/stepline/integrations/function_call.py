"""FunctionCall → Lambda Invoke (RequestResponse); the step input is the event.

The answer is parsed within :mod:`stepline.bounds` (nesting depth, number literals): one beyond
them, like one that is not JSON, fails with FUNCTION_CALL_INVALID_RESPONSE.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepline import bounds
from stepline.integrations import CallContext
from stepline.integrations.boundary import refuse_own
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import FunctionCall

_CODES = {
    "TooManyRequestsException": WorkflowErrorCode.STEP_QUOTA_EXCEEDED,
    "AccessDeniedException": WorkflowErrorCode.STEP_PERMISSION_DENIED,
    "ResourceNotFoundException": WorkflowErrorCode.STEP_INVALID_ARGUMENT,
    "InvalidParameterValueException": WorkflowErrorCode.STEP_INVALID_ARGUMENT,
    "RequestTooLargeException": WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
}


def call(step: FunctionCall, step_input: Any, ctx: CallContext) -> Any:
    """Invoke the function and return its parsed JSON answer."""
    refuse_own(ctx.reserved, "functionCall", step.function_id)
    try:
        reply = ctx.client("lambda").invoke(
            FunctionName=step.function_id,
            InvocationType="RequestResponse",
            Payload=json.dumps(step_input).encode(),
        )
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        mapped = _CODES.get(code, WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE)
        raise StepFailure(mapped, f"Invoke {step.function_id}: {code}: {exc}") from exc
    except BotoCoreError as exc:
        raise StepFailure(
            WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE, f"Invoke {step.function_id}: {exc}"
        ) from exc
    payload = reply["Payload"].read()
    if reply.get("FunctionError"):
        raise StepFailure(
            WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE,
            f"function {step.function_id} failed: {_describe_error(payload)}",
        )
    return parse_answer(step.function_id, payload)


def parse_answer(function_id: str, payload: bytes) -> Any:
    """A function's answer as JSON data; FUNCTION_CALL_INVALID_RESPONSE when it is not JSON
    or is beyond the bounds of :mod:`stepline.bounds`."""
    if not payload:
        return None
    try:
        return bounds.loads(payload)
    except bounds.BoundsError as exc:
        raise StepFailure(
            WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE,
            f"function {function_id} answered JSON beyond Stepline's bounds: {exc}",
        ) from exc
    except ValueError as exc:
        raise StepFailure(
            WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE,
            f"function {function_id} did not answer with JSON: {payload[:200]!r}",
        ) from exc


def _describe_error(payload: bytes) -> str:
    """``errorType: errorMessage`` of a Lambda error reply (its stack trace stays in the logs)."""
    try:
        error = bounds.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")[:2000]
    if isinstance(error, dict) and "errorMessage" in error:
        kind = error.get("errorType", "Error")
        return f"{kind}: {error['errorMessage']}"[:2000]
    return json.dumps(error)[:2000]
