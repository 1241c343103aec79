"""ExecutionService use cases: Start, Stop, Terminate, Get, GetHistory, List."""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from stepline import bounds
from stepline.access import Principal, Role
from stepline.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from stepline.models import StartExecutionRequest
from stepline.service import filters, guard, ids
from stepline.service.deps import Services
from stepline.service.paging import Page, page_size, resume_key
from stepline.statuses import ACTIVE, ExecutionStatus
from stepline.store import listing
from stepline.store.errors import StoreError, Transient
from stepline.store.executions import IdempotencyKeyUsed, NotActive
from stepline.store.payloads import INLINE_LIMIT, PayloadGone
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord, IdempotencyRecord, history_expiry
from stepline.store.tokens import scope_digest

MAX_INPUT_BYTES = 2 * 1024 * 1024
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
MAX_IDEMPOTENCY_KEY = 256
# GetHistory entries per response, in bytes of JSON: a Lambda response holds at most 6 MB, and a
# page of large steps stops early (with a page token, even when no page size was asked for).
HISTORY_RESPONSE_BUDGET = 4 * 1024 * 1024
ENTRY_RENDERING_ALLOWANCE = 256
"""Bytes an entry's rendered JSON may have beyond its stored JSON (timestamps, duration)."""


@dataclass(frozen=True)
class StartCommand:
    """A validated Start: which workflow, the input as JSON text, and who asks."""

    workflow_id: str
    input_json: str
    caller: str
    idempotency_key: str | None = None
    parent: str | None = None
    """The execution whose Workflow step starts this one (it is told when this one ends)."""
    principal: Principal | None = None
    """The signed caller of an API call, who needs the executor role; None: not an API call
    (a child execution, a trigger, the public start-by-link API), not checked."""


def input_from_request(request: StartExecutionRequest) -> str:
    """The execution input as JSON text; missing input means ``{}``."""
    given = request.input
    if given is None or (given.input_json is None and "input_value" not in given.model_fields_set):
        return "{}"
    if given.input_json is not None:
        return check_input_json(given.input_json, "input.inputJson")
    return check_input_json(json.dumps(given.input_value, ensure_ascii=False), "input.inputValue")


def check_input_json(text: str, field: str) -> str:
    """Refuse input that is not JSON, exceeds the 2 MB limit or the bounds of
    :mod:`stepline.bounds` (nesting depth, number literals); empty text means ``{}``."""
    if not text.strip():
        return "{}"
    size = len(text.encode())
    if size > MAX_INPUT_BYTES:
        raise InvalidArgument(f"{field}: {size} bytes exceeds the limit of {MAX_INPUT_BYTES} bytes")
    try:
        bounds.loads(text)
    except bounds.BoundsError as exc:
        raise InvalidArgument(f"{field}: {exc}") from exc
    except ValueError as exc:
        raise InvalidArgument(f"{field}: not valid JSON ({exc})") from exc
    return text


def start(svc: Services, command: StartCommand) -> str:
    """Create a QUEUED execution pinned to the workflow's current spec and enqueue it."""
    ids.check_workflow_id(command.workflow_id)
    if command.idempotency_key is not None:
        _check_idempotency_key(command.idempotency_key)
    # The execution pins the spec version read here: an edit or a delete that lands a moment
    # later does not touch it (versions are immutable and outlive their workflow).
    return _start_once(svc, command)


def _check_idempotency_key(key: str) -> None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidArgument(
            f"Idempotency-Key: must be 1-{MAX_IDEMPOTENCY_KEY} printable characters"
        )


def _start_once(svc: Services, command: StartCommand) -> str:
    workflow = svc.workflows.get(command.workflow_id)
    missing = NotFound(f"workflowId: workflow {command.workflow_id} not found")
    if workflow is None:
        raise missing
    guard.require_workflow(
        svc,
        command.principal,
        workflow.id,
        workflow.folder_id,
        Role.EXECUTOR,
        hidden=lambda: missing,
    )
    if workflow.status != "ACTIVE":
        raise FailedPrecondition(
            f"workflowId: workflow {workflow.id} is {workflow.status}, not ACTIVE"
        )
    now = svc.clock()
    execution_id = ids.new_execution_id(workflow.id)
    inline: str | None = command.input_json
    ref: str | None = None
    if len(command.input_json.encode()) > INLINE_LIMIT:
        inline, ref = (
            None,
            svc.payloads.put(f"executions/{execution_id}/input.json", command.input_json),
        )
    record = ExecutionRecord(
        id=execution_id,
        workflow_id=workflow.id,
        spec_version=workflow.spec_version,
        status=ExecutionStatus.QUEUED,
        started_at=now,
        input_json=inline,
        input_ref=ref,
        parent=command.parent,
        folder_id=workflow.folder_id,
        # Pinned like the spec version: an edit of the workflow does not touch executions
        # already started (docs/security.md, "A workflow's own role").
        service_account_id=workflow.service_account_id,
        log_options=workflow.log_options,
        expires_at=history_expiry(
            now,
            retention_days=svc.settings.history_retention_days,
            max_execution_hours=svc.settings.max_execution_hours,
        ),
    )
    idempotency = _idempotency_record(command, execution_id, int(now.timestamp()))
    try:
        svc.executions.create(record, idempotency=idempotency, now_epoch=int(now.timestamp()))
    except IdempotencyKeyUsed as used:
        return _replay(svc, used.record, idempotency)
    try:
        svc.runner.send(StepMessage(execution_id, 0))
    except Transient:
        if command.idempotency_key is None:  # with one, the client's retry sends it again
            _abandon(svc, record)
        raise
    return execution_id


def _abandon(svc: Services, record: ExecutionRecord) -> None:
    """The new execution could be handed to no runner (AWS trouble; the caller gets a 429 or
    503 and retries): end it FAILED rather than leave it QUEUED with no message to move it."""
    error = {
        "message": "the execution could not be handed to the runner; start it again",
        "errorCode": "STEP_INTERNAL",
    }
    with suppress(StoreError):
        svc.executions.end(record, ExecutionStatus.FAILED, svc.clock(), error=error)


def _idempotency_record(
    command: StartCommand, execution_id: str, now_epoch: int
) -> IdempotencyRecord | None:
    if command.idempotency_key is None:
        return None
    scope = f"{command.caller}\x1f{command.idempotency_key}"
    if command.caller.startswith("anonymous@"):  # start by link without credentials
        scope = f"{command.workflow_id}\x1f{scope}"
    body = f"{command.workflow_id}\x1f{command.input_json}"
    return IdempotencyRecord(
        digest=hashlib.sha256(scope.encode()).hexdigest(),
        body_hash=hashlib.sha256(body.encode()).hexdigest(),
        execution_id=execution_id,
        expires_at=now_epoch + IDEMPOTENCY_TTL_SECONDS,
    )


def _replay(svc: Services, used: IdempotencyRecord, ours: IdempotencyRecord | None) -> str:
    if ours is None or used.body_hash != ours.body_hash:
        raise AlreadyExists(
            "Idempotency-Key: already used with a different request body in the last 24 hours"
        )
    existing = svc.executions.get(used.execution_id)
    if existing is not None and existing.status == ExecutionStatus.QUEUED:
        # The first call may have died between its write and its send; a duplicate message is
        # harmless (the runner drops messages behind the log), a missing one is not.
        svc.queue.send(StepMessage(existing.id, 0))
    return used.execution_id


def stop(
    svc: Services, execution_id: str, *, terminate: bool, principal: Principal | None = None
) -> dict[str, Any]:
    """QUEUED/RUNNING/PAUSED → STOPPED; again on STOPPED is fine; ended otherwise is refused."""
    ids.check_execution_id(execution_id)
    record = guarded_head(svc, execution_id, principal, Role.EXECUTOR)
    if record.status in ACTIVE:
        try:
            svc.executions.end(
                record,
                ExecutionStatus.STOPPED,
                svc.clock(),
                cancel="TERMINATE" if terminate else "STOP",
            )
        except NotActive as lost:
            if lost.record is None:
                raise NotFound(f"executionId: execution {execution_id} not found") from lost
            record = lost.record
        else:
            # Wake the runner now: a step parked on a long wait is closed at once.
            svc.queue.send(StepMessage(execution_id, 0, nudge=True))
            return {"executionId": execution_id}
    if record.status != ExecutionStatus.STOPPED:
        raise FailedPrecondition(
            f"executionId: execution {execution_id} is already {record.status} "
            "and can no longer be stopped"
        )
    return {"executionId": execution_id}


def guarded_head(
    svc: Services, execution_id: str, principal: Principal | None, role: Role
) -> ExecutionRecord:
    """The execution head, once the caller is known to hold ``role`` on its workflow
    (NOT_FOUND when it may not view it, as when it does not exist); every call on an
    execution (Stop, Get, Pause, Redrive, …) reads it so."""
    ids.check_execution_id(execution_id)
    record = svc.executions.get(execution_id)
    missing = NotFound(f"executionId: execution {execution_id} not found")
    if record is None:
        raise missing
    guard.require_workflow(
        svc, principal, record.workflow_id, record.folder_id, role, hidden=lambda: missing
    )
    return record


def _shown(svc: Services, record: ExecutionRecord, *, begun: bool | None = None) -> ExecutionRecord:
    """The record as Get shows it: a head still QUEUED whose runner has written its log is
    RUNNING (the head itself says so only once the run outlives the runner's RUNNING_AFTER)."""
    if record.status != ExecutionStatus.QUEUED:
        return record
    if begun is None:
        begun = svc.log.begun(record.id)
    return replace(record, status=ExecutionStatus.RUNNING) if begun else record


@dataclass(frozen=True)
class ExecutionView:
    """An execution as Get shows it: the head (a QUEUED one whose log has begun shown
    RUNNING) with its input and result as JSON text (read from the bucket when large)."""

    record: ExecutionRecord
    input_json: str
    result_json: str | None


def view(svc: Services, execution_id: str, *, principal: Principal | None = None) -> ExecutionView:
    """The full Execution (ExecutionService.Get)."""
    ids.check_execution_id(execution_id)
    record = _shown(svc, guarded_head(svc, execution_id, principal, Role.VIEWER))
    try:
        input_json = record.input_json
        if input_json is None:
            input_json = svc.payloads.get(record.input_ref) if record.input_ref else "{}"
        result_json = record.result_json
        if result_json is None and record.result_ref:
            result_json = svc.payloads.get(record.result_ref)
    except PayloadGone as gone:
        raise _past_retention(svc, execution_id) from gone
    return ExecutionView(record, input_json, result_json)


@dataclass(frozen=True)
class HistoryPage:
    """A page of GetHistory: the head, stored entries oldest first, and the next page token
    (None: none is given; "": the last page of a paged request)."""

    record: ExecutionRecord
    entries: list[dict[str, Any]]
    next_page_token: str | None


def history_page(
    svc: Services,
    execution_id: str,
    *,
    size: str | None,
    token: str | None,
    principal: Principal | None = None,
) -> HistoryPage:
    """The execution and its history entries, oldest first (paged on request; a page of large
    steps ends early, within HISTORY_RESPONSE_BUDGET bytes of their JSON)."""
    ids.check_execution_id(execution_id)
    paged = size is not None or token is not None
    limit = page_size(size) if paged else None
    scope = scope_digest("history", execution_id)
    start = resume_key(svc.tokens, token, scope) if token else None

    record = guarded_head(svc, execution_id, principal, Role.VIEWER)
    try:
        entries = _all_entries(svc, execution_id)
    except PayloadGone as gone:
        raise _past_retention(svc, execution_id) from gone
    record = _shown(svc, record, begun=bool(entries))
    offset = int(start["offset"]) if start else 0
    chosen = entries[offset:] if limit is None else entries[offset : offset + limit]
    shown: list[dict[str, Any]] = []
    total = 0
    for entry in chosen:
        # Its stored JSON, as the rendered one is within a few fields of it.
        total += len(json.dumps(entry, ensure_ascii=False)) + ENTRY_RENDERING_ALLOWANCE
        if shown and total > HISTORY_RESPONSE_BUDGET:
            break  # a page ends early rather than outgrow a Lambda response
        shown.append(entry)
    following = offset + len(shown)
    next_token: str | None = None
    if paged or following < len(entries):
        more = following < len(entries)
        next_token = svc.tokens.issue({"offset": following}, scope) if more else ""
    return HistoryPage(record, shown, next_token)


def _past_retention(svc: Services, execution_id: str) -> NotFound:
    """Get or GetHistory of an execution whose payload objects the bucket has already expired
    (they may go up to the time quota before the head does): it is past its retention."""
    days = svc.settings.history_retention_days
    return NotFound(
        f"executionId: execution {execution_id} is past the {days}-day history retention"
    )


def _all_entries(svc: Services, execution_id: str) -> list[dict[str, Any]]:
    """Ended entries of every log item plus the open ones of the newest, by start order."""
    ended: list[dict[str, Any]] = []
    still_open: list[dict[str, Any]] = []
    for item in svc.log.items(execution_id):
        ended.extend(item.entries)
        still_open = item.open
    return sorted(ended + still_open, key=lambda e: int(e.get("n", 0)))


def list_page(
    svc: Services,
    workflow_id: str | None,
    *,
    size: str | None,
    token: str | None,
    filter_text: str | None,
    principal: Principal | None = None,
) -> Page[ExecutionRecord]:
    """A page of a workflow's executions, newest first (their previews); a caller who may
    not view the workflow gets none, as for a workflow that does not exist."""
    if not workflow_id:
        raise InvalidArgument("workflowId: required")
    ids.check_workflow_id(workflow_id)
    limit = page_size(size)
    parsed = filters.parse(filter_text)
    if parsed.never_matches:
        return Page([])
    # The store's layout is part of the scope: a token of another one is refused.
    scope = scope_digest("executions", workflow_id, parsed.canonical, listing.LAYOUT)
    cursor = resume_key(svc.tokens, token, scope)
    if not guard.may_view_workflow(svc, principal, workflow_id, None):
        return Page([])
    try:
        page = svc.executions.list(workflow_id, parsed, limit=limit, cursor=cursor)
    except listing.BadCursor as exc:
        raise InvalidArgument(f"pageToken: {exc}; start from the first page") from exc
    next_token = svc.tokens.issue(page.cursor, scope) if page.cursor is not None else None
    return Page([ExecutionRecord.from_item(i) for i in page.items], next_token)
