"""WorkflowService use cases: Create, Get, Update, Delete, List; each change stores its
Operation in the same write (:mod:`stepline.service.operations` reads them)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from stepline.access import Principal, Role
from stepline.errors import Aborted, AlreadyExists, InvalidArgument, NotFound
from stepline.models import (
    FOLDER_ID,
    CreateWorkflowRequest,
    UpdateWorkflowRequest,
    dump,
)
from stepline.service import filters, guard, ids, operations, schedules, specs
from stepline.service.deps import Services
from stepline.service.paging import Page, page_size, resume_key
from stepline.store import keys
from stepline.store.operations import OperationRecord
from stepline.store.records import WorkflowRecord
from stepline.store.tokens import scope_digest
from stepline.store.workflows import ConcurrentChange, NameTaken


def create(
    svc: Services,
    request: CreateWorkflowRequest,
    *,
    caller: str,
    workflow_id: str | None = None,
    principal: Principal | None = None,
) -> OperationRecord:
    """Store a new ACTIVE workflow (spec version 1) with its finished Operation, which it
    returns; the caller needs the editor role on the folder (``principal`` None: not
    checked)."""
    guard.require_folder(svc, principal, request.folder_id, Role.EDITOR)
    specs.check(request.specification.spec_yaml)
    schedules.check(dump(request.schedule) if request.schedule else None)
    now = svc.clock()
    record = WorkflowRecord(
        id=workflow_id or ids.new_workflow_id(),
        folder_id=request.folder_id,
        name=request.name,
        spec_yaml=request.specification.spec_yaml,
        created_at=now,
        description=request.description,
        labels=dict(request.labels),
        log_options=dump(request.log_options) if request.log_options else None,
        network_id=request.network_id,
        service_account_id=request.service_account_id,
        express=request.express,
        schedule=dump(request.schedule) if request.schedule else None,
        is_public=request.is_public,
    )
    operation = _operation(svc, record, "Create", caller, now, left=record)
    try:
        with schedules.synced(svc, None, record):
            svc.workflows.create(record, operation)
    except NameTaken as exc:
        raise AlreadyExists(
            f"name: a workflow named {record.name!r} already exists in folder {record.folder_id!r}"
        ) from exc
    return operation


def _operation(
    svc: Services,
    record: WorkflowRecord,
    verb: str,
    caller: str,
    at: datetime,
    *,
    left: WorkflowRecord | None,
) -> OperationRecord:
    """The Operation of a change to ``record``; ``left`` is the workflow it leaves (None:
    deleted)."""
    return operations.new(
        svc,
        kind="workflow",
        resource_id=record.id,
        folder_id=record.folder_id,
        description=f"{verb} workflow",
        metadata_type=f"{verb}WorkflowMetadata",
        caller=caller,
        at=at,
        workflow=left,
    )


def _get(
    svc: Services, workflow_id: str, principal: Principal | None, role: Role
) -> WorkflowRecord:
    """The workflow, once the caller is known to hold ``role`` on it (NOT_FOUND when it may
    not view it, as when it does not exist)."""
    ids.check_workflow_id(workflow_id)
    record = svc.workflows.get(workflow_id)
    missing = NotFound(f"workflowId: workflow {workflow_id} not found")
    if record is None:
        raise missing
    guard.require_workflow(
        svc, principal, workflow_id, record.folder_id, role, hidden=lambda: missing
    )
    return record


def get(svc: Services, workflow_id: str, *, principal: Principal | None = None) -> WorkflowRecord:
    """The workflow, for a caller who may view it."""
    return _get(svc, workflow_id, principal, Role.VIEWER)


def update(
    svc: Services,
    workflow_id: str,
    request: UpdateWorkflowRequest,
    *,
    caller: str,
    principal: Principal | None = None,
) -> OperationRecord:
    """Change the fields named by ``updateMask`` (or present in the body); returns the
    finished Operation (its workflow: as the change left it)."""
    try:
        fields = request.requested_fields()
    except ValueError as exc:
        raise InvalidArgument(f"updateMask: {exc}") from exc
    old = _get(svc, workflow_id, principal, Role.EDITOR)
    new = _apply(old, request, fields)
    operation = _operation(svc, new, "Update", caller, svc.clock(), left=new)
    try:
        with schedules.synced(svc, old, new):
            svc.workflows.replace(old, new, operation)
    except NameTaken as exc:
        raise AlreadyExists(
            f"name: a workflow named {new.name!r} already exists in folder {new.folder_id!r}"
        ) from exc
    except ConcurrentChange as exc:
        raise Aborted(f"workflowId: workflow {workflow_id} changed meanwhile; retry") from exc
    return operation


def _apply(old: WorkflowRecord, request: UpdateWorkflowRequest, fields: set[str]) -> WorkflowRecord:
    changes: dict[str, Any] = {"rev": old.rev + 1}
    if "name" in fields:
        if request.name is None:
            raise InvalidArgument("name: required; a workflow cannot be left without a name")
        changes["name"] = request.name
    if "specification" in fields:
        if request.specification is None:
            raise InvalidArgument("specification: required; it cannot be reset")
        spec = request.specification.spec_yaml
        specs.check(spec)
        if spec != old.spec_yaml:
            changes |= {"spec_yaml": spec, "spec_version": old.spec_version + 1}
    simple = ("description", "network_id", "service_account_id", "express", "is_public")
    for name in fields.intersection(simple):
        changes[name] = getattr(request, name)
    if "labels" in fields:
        changes["labels"] = dict(request.labels)
    if "log_options" in fields:
        changes["log_options"] = dump(request.log_options) if request.log_options else None
    if "schedule" in fields:
        changes["schedule"] = dump(request.schedule) if request.schedule else None
        schedules.check(changes["schedule"])
    return replace(old, **changes)


def delete(
    svc: Services, workflow_id: str, *, caller: str, principal: Principal | None = None
) -> OperationRecord:
    """Remove a workflow (its running executions keep their pinned specification); returns
    the finished Operation."""
    record = _get(svc, workflow_id, principal, Role.EDITOR)
    operation = _operation(svc, record, "Delete", caller, svc.clock(), left=None)
    try:
        with schedules.synced(svc, record, None):
            svc.workflows.delete(record, operation)
    except ConcurrentChange as exc:
        raise Aborted(f"workflowId: workflow {workflow_id} changed meanwhile; retry") from exc
    return operation


def list_workflows(
    svc: Services,
    folder_id: str | None,
    *,
    size: str | None,
    token: str | None,
    filter_text: str | None,
    principal: Principal | None = None,
) -> Page[WorkflowRecord]:
    """A page of a folder's workflows ordered by name: those the caller may view (a page may
    then hold fewer than ``pageSize``, and still have a next one); their previews (no
    specification)."""
    folder = folder_id or "default"
    if not re.match(FOLDER_ID, folder):
        raise InvalidArgument(f"folderId: {folder[:80]!r} is not a folder id")
    limit = page_size(size)
    wanted = filters.parse_workflows(filter_text)
    if wanted.created is not None and wanted.created.empty:
        return Page([])
    scope = scope_digest("workflows", folder, wanted.canonical)
    start = resume_key(svc.tokens, token, scope)
    visible = guard.visible_in_folder(svc, principal, folder)
    if visible is guard.hide_all:
        return Page([])
    page = svc.workflows.list_page(
        folder, name=wanted.name, created=wanted.created, limit=limit + 1, start_key=start
    )
    items, resume = page.items, page.last_key
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        resume = {n: last[n] for n in (keys.PK, keys.SK, *keys.INDEXES[keys.BY_FOLDER_NAME])}
    if visible is not None and items:
        shown = visible([str(i["id"]) for i in items])
        items = [i for i in items if i["id"] in shown]
    token_out = svc.tokens.issue(resume, scope) if resume else None
    return Page([WorkflowRecord.from_item(i) for i in items], token_out)
