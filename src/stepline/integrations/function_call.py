"""FunctionCall → Lambda Invoke (RequestResponse); the step input is the event."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepline.integrations import CallContext
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
    try:
        return json.loads(payload) if payload else None
    except ValueError as exc:
        raise StepFailure(
            WorkflowErrorCode.FUNCTION_CALL_INVALID_RESPONSE,
            f"function {step.function_id} did not answer with JSON: {payload[:200]!r}",
        ) from exc


def _describe_error(payload: bytes) -> str:
    """``errorType: errorMessage`` of a Lambda error reply (its stack trace stays in the logs)."""
    try:
        error = json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")[:2000]
    if isinstance(error, dict) and "errorMessage" in error:
        kind = error.get("errorType", "Error")
        return f"{kind}: {error['errorMessage']}"[:2000]
    return json.dumps(error)[:2000]
