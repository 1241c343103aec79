"""Operations: OperationService.Get and WorkflowService.ListOperations.

Every Create, Update and Delete of a workflow and every change of access bindings stores its
Operation in the transaction of the change (``store/operations.py``), so the Operation a call
answers with can be read again by id — the official SDKs' waiters poll OperationService.Get
even for an operation that is already done — and a workflow's operations can be listed. They
are kept for the history retention (``HistoryRetentionDays``). Reading one needs the viewer
role on its resource; one the caller may not view is NOT_FOUND, as a missing one is.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from stepline.access import Principal, Role
from stepline.errors import InvalidArgument, NotFound, PermissionDenied
from stepline.service import filters, guard, ids
from stepline.service.deps import Services
from stepline.service.paging import Page, page_size, resume_key
from stepline.store import keys
from stepline.store.operations import OperationRecord, ResourceKind
from stepline.store.records import WorkflowRecord, history_expiry
from stepline.store.tokens import scope_digest

OPERATION_ID: Final = re.compile(r"^[a-z][a-z0-9]{2,49}$")


def new(
    svc: Services,
    *,
    kind: ResourceKind,
    resource_id: str,
    folder_id: str,
    description: str,
    metadata_type: str,
    caller: str,
    at: datetime,
    workflow: WorkflowRecord | None = None,
) -> OperationRecord:
    """The record of a change about to be written, with a fresh id; it expires after the
    history retention."""
    settings = svc.settings
    return OperationRecord(
        id=ids.new_operation_id(),
        kind=kind,
        resource_id=resource_id,
        folder_id=folder_id,
        description=description,
        metadata_type=metadata_type,
        created_at=at,
        created_by=caller,
        workflow=workflow,
        expires_at=history_expiry(
            at,
            retention_days=settings.history_retention_days,
            max_execution_hours=0,
        ),
    )


def get(svc: Services, operation_id: str, *, principal: Principal | None = None) -> OperationRecord:
    """The Operation (OperationService.Get)."""
    if not OPERATION_ID.match(operation_id):
        raise InvalidArgument(f"operationId: {operation_id[:80]!r} is not an operation id")
    missing = NotFound(f"operationId: operation {operation_id} not found")
    record = svc.operations.get(operation_id)
    if record is None:
        raise missing
    if record.kind == "workflow":
        workflow_id, folder_id = record.resource_id, record.folder_id
        guard.require_workflow(
            svc, principal, workflow_id, folder_id, Role.VIEWER, hidden=lambda: missing
        )
    else:
        try:
            guard.require_folder(svc, principal, record.folder_id, Role.VIEWER)
        except PermissionDenied as exc:
            raise missing from exc
    return record


def list_operations(
    svc: Services,
    workflow_id: str,
    *,
    size: str | None,
    token: str | None,
    filter_text: str | None,
    principal: Principal | None = None,
) -> Page[OperationRecord]:
    """A page of a workflow's operations, oldest first (WorkflowService.ListOperations);
    ``filter`` takes ``created_at`` terms (``=``, ``<``, ``>``)."""
    ids.check_workflow_id(workflow_id)
    limit = page_size(size)
    created = filters.parse_operations(filter_text)
    scope = scope_digest("operations", workflow_id, str(created))
    start = resume_key(svc.tokens, token, scope)
    record = svc.workflows.get(workflow_id)
    missing = NotFound(f"workflowId: workflow {workflow_id} not found")
    if record is None:
        raise missing
    guard.require_workflow(
        svc, principal, workflow_id, record.folder_id, Role.VIEWER, hidden=lambda: missing
    )
    if created is not None and created.empty:
        return Page([])
    page = svc.operations.list_page(
        "workflow", workflow_id, created=created, limit=limit + 1, start_key=start
    )
    items, resume = page.items, page.last_key
    if len(items) > limit:
        items = items[:limit]
        resume = {n: items[-1][n] for n in (keys.PK, keys.SK)}
    return Page(
        [OperationRecord.from_item(i) for i in items],
        svc.tokens.issue(resume, scope) if resume else None,
    )
