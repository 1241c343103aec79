"""Every REST call of the API as data — method, path, parameters, body, how to read the
answer — so the sync and the async client share all but the sending.

Errors come back as the project's own classes (:mod:`stepline.errors`), chosen by the gRPC
code the API answered with, or by the HTTP status of what API Gateway answers itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar
from urllib.parse import quote

import httpx

from stepline.api import openapi as replies
from stepline.api.errors import HTTP_STATUS
from stepline.errors import Code, SteplineError, error_of

T = TypeVar("T")
PREFIX: Final = "/workflows/v1"
RETRIED: Final = frozenset({Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED})
"""Codes that mean "try again later": a call that is safe to repeat is sent again."""
# API Gateway itself answers with these statuses (a bad signature, no route, throttling, an
# outage) in its own shape, not the API's {code, message}: each means the code the API answers
# with that status (the first of the table), and 502/504 the gateway's own troubles.
_GATEWAY_STATUSES = (400, 401, 403, 404, 429, 503)
GATEWAY_CODES: Final[dict[int, Code]] = {
    int(status): code
    for code, status in reversed(HTTP_STATUS.items())
    if status in _GATEWAY_STATUSES
} | {502: Code.UNAVAILABLE, 504: Code.DEADLINE_EXCEEDED}


def error(code: int, message: str, details: list[dict[str, Any]] | None = None) -> SteplineError:
    """The project's error for a gRPC ``code`` (:func:`stepline.errors.error_of`)."""
    return error_of(code, message, details)


def failure(response: httpx.Response) -> SteplineError:
    """The error an unsuccessful answer stands for; ``http_status`` says what came back."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), int) and "message" in body:
        made = error(body["code"], str(body["message"]), body.get("details") or [])
    else:
        text = body.get("message") or body.get("Message") if isinstance(body, dict) else None
        code = GATEWAY_CODES.get(response.status_code, Code.UNKNOWN)
        made = error(code, f"HTTP {response.status_code}: {text or response.text[:200]}")
    made.http_status = response.status_code  # type: ignore[attr-defined]
    made.retry_after = _retry_after(response)  # type: ignore[attr-defined]
    return made


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List: its items and the token of the next (None: the last page)."""

    items: list[T]
    next_page_token: str | None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One REST call and how to read its answer."""

    method: str
    path: str
    read: Callable[[dict[str, Any]], T]
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    repeatable: bool = True
    """Whether sending it twice does what sending it once does (reads, Stop, a Start with an
    idempotency key): only such a call is sent again after a failure that may have reached
    the server."""


def _segment(value: str) -> str:
    return quote(value, safe="")


def _query(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


def _page(key: str, model: Callable[[Any], T]) -> Callable[[dict[str, Any]], Page[T]]:
    def read(body: dict[str, Any]) -> Page[T]:
        return Page([model(i) for i in body.get(key) or []], body.get("nextPageToken") or None)

    return read


# --- ExecutionService ---------------------------------------------------------------------


def start(workflow_id: str, input_json: str, *, idempotency_key: str | None = None) -> Call[str]:
    """Start: the new execution's id."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return Call(
        "POST",
        f"{PREFIX}/execution/start",
        lambda body: str(body["executionId"]),
        body={"workflowId": workflow_id, "input": {"inputJson": input_json}},
        headers=headers,
        repeatable=idempotency_key is not None,
    )


def input_json(value: Any) -> str:
    """An execution's input as JSON text (``None`` → ``{}``)."""
    return "{}" if value is None else json.dumps(value, separators=(",", ":"))


def get(execution_id: str) -> Call[replies.Execution]:
    """Get."""
    return Call(
        "GET",
        f"{PREFIX}/execution/{_segment(execution_id)}",
        lambda body: replies.Execution.model_validate(body["execution"]),
    )


def stop(execution_id: str, *, terminate: bool = False) -> Call[str]:
    """Stop (or Terminate): the execution's id. Repeatable: stopping a stopped one succeeds."""
    verb = "terminate" if terminate else "stop"
    return Call(
        "POST",
        f"{PREFIX}/execution/{_segment(execution_id)}/{verb}",
        lambda body: str(body.get("executionId", execution_id)),
        body={},
    )


def pause(execution_id: str, *, resume: bool = False) -> Call[None]:
    """Pause (or Resume; Stepline extensions). Repeatable: pausing a paused one succeeds."""
    verb = "resume" if resume else "pause"
    return Call(
        "POST", f"{PREFIX}/execution/{_segment(execution_id)}:{verb}", lambda _: None, body={}
    )


def redrive(execution_id: str) -> Call[int]:
    """Redrive (a Stepline extension): a FAILED or STOPPED execution goes on from where it
    ended; its redrive count. Not repeatable: sent again once the first took, it is refused
    (the execution is running then), though it never redrives twice."""
    return Call(
        "POST",
        f"{PREFIX}/execution/{_segment(execution_id)}:redrive",
        lambda body: int(body.get("redriveCount", 0)),
        body={},
        repeatable=False,
    )


def send_task(verb: str, body: dict[str, Any]) -> Call[None]:
    """sendTaskSuccess, sendTaskFailure or sendTaskHeartbeat (a Stepline extension). An
    answer is not repeatable: sent again once the first took, it is refused as already
    answered; a heartbeat is."""
    return Call(
        "POST",
        f"{PREFIX}/execution:{verb}",
        lambda _: None,
        body=body,
        repeatable=verb == "sendTaskHeartbeat",
    )


def history_page(
    execution_id: str, *, page_size: int | None, token: str | None
) -> Call[Page[replies.HistoryEntry]]:
    """One page of GetHistory."""
    return Call(
        "GET",
        f"{PREFIX}/execution/{_segment(execution_id)}/history",
        _page("entries", replies.HistoryEntry.model_validate),
        params=_query(pageSize=page_size, pageToken=token),
    )


def executions_page(
    workflow_id: str, *, filter_text: str | None, page_size: int | None, token: str | None
) -> Call[Page[replies.ExecutionPreview]]:
    """One page of List (a workflow's executions, newest first)."""
    return Call(
        "GET",
        f"{PREFIX}/execution",
        _page("executions", replies.ExecutionPreview.model_validate),
        params=_query(
            workflowId=workflow_id, filter=filter_text, pageSize=page_size, pageToken=token
        ),
    )


# --- WorkflowService ------------------------------------------------------------------------


def _operation_response(body: dict[str, Any]) -> replies.Workflow:
    response = {k: v for k, v in (body.get("response") or {}).items() if k != "@type"}
    return replies.Workflow.model_validate(response)


def create_workflow(fields: dict[str, Any]) -> Call[replies.Workflow]:
    """Create: the workflow made (the response of the finished Operation)."""
    return Call("POST", f"{PREFIX}/workflow", _operation_response, body=fields, repeatable=False)


def get_workflow(workflow_id: str) -> Call[replies.Workflow]:
    """WorkflowService.Get."""
    return Call(
        "GET",
        f"{PREFIX}/workflow/{_segment(workflow_id)}",
        lambda body: replies.Workflow.model_validate(body["workflow"]),
    )


def update_workflow(workflow_id: str, fields: dict[str, Any]) -> Call[replies.Workflow]:
    """Update of the named fields (they form the update mask): the workflow as it is now."""
    mask = ",".join(fields)
    return Call(
        "PATCH",
        f"{PREFIX}/workflow/{_segment(workflow_id)}",
        _operation_response,
        body={**fields, "updateMask": mask},
    )


def delete_workflow(workflow_id: str) -> Call[replies.Operation]:
    """Delete: its finished Operation."""
    return Call(
        "DELETE",
        f"{PREFIX}/workflow/{_segment(workflow_id)}",
        replies.Operation.model_validate,
        repeatable=False,
    )


def workflows_page(
    folder_id: str | None, *, filter_text: str | None, page_size: int | None, token: str | None
) -> Call[Page[replies.WorkflowPreview]]:
    """One page of WorkflowService.List (a folder's workflows, by name)."""
    return Call(
        "GET",
        f"{PREFIX}/workflow",
        _page("workflows", replies.WorkflowPreview.model_validate),
        params=_query(folderId=folder_id, filter=filter_text, pageSize=page_size, pageToken=token),
    )


def operations_page(
    workflow_id: str, *, filter_text: str | None, page_size: int | None, token: str | None
) -> Call[Page[replies.Operation]]:
    """One page of ListOperations (a workflow's, oldest first)."""
    return Call(
        "GET",
        f"{PREFIX}/workflow/{_segment(workflow_id)}/operations",
        _page("operations", replies.Operation.model_validate),
        params=_query(filter=filter_text, pageSize=page_size, pageToken=token),
    )


def get_operation(operation_id: str) -> Call[replies.Operation]:
    """OperationService.Get."""
    return Call("GET", f"/operations/{_segment(operation_id)}", replies.Operation.model_validate)
