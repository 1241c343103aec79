"""ListAccessBindings, SetAccessBindings and UpdateAccessBindings of workflows and folders.

Workflows are the API's own resource (``/workflows/v1/workflow/{id}:listAccessBindings``, ...);
folders are Stepline's extension (``/workflows/v1/folder/{folderId}:...``), with the same
messages. Listing needs the viewer role, changing the admin role (:mod:`stepline.service.guard`).
Set replaces every binding of the resource at once; Update adds and removes single ones (adding
one already there, or removing one that is not, changes nothing). Both store and answer with a
finished Operation whose metadata names the resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from stepline.access import MAX_BINDINGS, Binding, Principal, Role
from stepline.errors import Aborted, InvalidArgument, NotFound
from stepline.models import (
    FOLDER_ID,
    SetAccessBindingsRequest,
    UpdateAccessBindingsRequest,
)
from stepline.service import guard, ids, operations
from stepline.service.deps import Services
from stepline.service.paging import Page, page_size, resume_key
from stepline.store.access import AccessChanged, AccessRecord
from stepline.store.operations import OperationRecord
from stepline.store.tokens import scope_digest


@dataclass(frozen=True)
class Target:
    """The folder or workflow whose bindings a call is about."""

    kind: Literal["workflow", "folder"]
    id: str

    @classmethod
    def workflow(cls, workflow_id: str) -> Target:
        """A workflow, its id checked."""
        return cls("workflow", ids.check_workflow_id(workflow_id))

    @classmethod
    def folder(cls, folder_id: str) -> Target:
        """A folder, its id checked."""
        if not re.match(FOLDER_ID, folder_id):
            raise InvalidArgument(f"folderId: {folder_id[:80]!r} is not a folder id")
        return cls("folder", folder_id)


@dataclass(frozen=True)
class _Checked:
    record: AccessRecord
    folder_id: str


def _check(svc: Services, target: Target, principal: Principal | None, role: Role) -> _Checked:
    """The target's current bindings, once the caller is known to hold ``role`` on it."""
    if target.kind == "folder":
        folder = guard.require_folder(svc, principal, target.id, role)
        record = folder.folder if folder is not None else svc.access.folder(target.id)
        return _Checked(record, target.id)
    workflow = svc.workflows.get(target.id)
    missing = NotFound(f"workflowId: workflow {target.id} not found")
    if workflow is None:
        raise missing
    access = guard.require_workflow(
        svc, principal, target.id, workflow.folder_id, role, hidden=lambda: missing
    )
    record = access.workflow if access is not None else svc.access.workflow(target.id)
    return _Checked(record, workflow.folder_id)


def list_bindings(
    svc: Services,
    target: Target,
    *,
    principal: Principal | None,
    size: str | None,
    token: str | None,
) -> Page[Binding]:
    """A page of the resource's bindings, in the order they were given."""
    limit = page_size(size)
    scope = scope_digest("access", target.kind, target.id)
    start = resume_key(svc.tokens, token, scope)
    bindings = _check(svc, target, principal, Role.VIEWER).record.bindings
    offset = int(start["offset"]) if start else 0
    more = offset + limit < len(bindings)
    next_token = svc.tokens.issue({"offset": offset + limit}, scope) if more else None
    return Page(list(bindings[offset : offset + limit]), next_token)


def set_bindings(
    svc: Services,
    target: Target,
    request: SetAccessBindingsRequest,
    *,
    principal: Principal | None,
    caller: str,
) -> OperationRecord:
    """Replace every binding of the resource; returns the finished Operation."""
    _same_resource(target, request.resource_id)
    checked = _check(svc, target, principal, Role.ADMIN)
    bindings = _unique(b.binding() for b in request.access_bindings)
    return _write(svc, target, checked, bindings, _operation(svc, target, checked, "Set", caller))


def update_bindings(
    svc: Services,
    target: Target,
    request: UpdateAccessBindingsRequest,
    *,
    principal: Principal | None,
    caller: str,
) -> OperationRecord:
    """Add and remove single bindings of the resource; returns the finished Operation."""
    _same_resource(target, request.resource_id)
    checked = _check(svc, target, principal, Role.ADMIN)
    bindings = list(checked.record.bindings)
    for delta in request.access_binding_deltas:
        binding = delta.access_binding.binding()
        if delta.action == "ADD" and binding not in bindings:
            bindings.append(binding)
        elif delta.action == "REMOVE" and binding in bindings:
            bindings.remove(binding)
    if len(bindings) > MAX_BINDINGS:
        raise InvalidArgument(
            f"accessBindingDeltas: the {target.kind} would hold {len(bindings)} access bindings; "
            f"at most {MAX_BINDINGS}"
        )
    operation = _operation(svc, target, checked, "Update", caller)
    return _write(svc, target, checked, tuple(bindings), operation)


def _same_resource(target: Target, resource_id: str | None) -> None:
    if resource_id is not None and resource_id != target.id:
        raise InvalidArgument(
            f"resourceId: {resource_id[:80]!r} is not the {target.kind} of the path, {target.id}"
        )


def _unique(bindings: Iterable[Binding]) -> tuple[Binding, ...]:
    """The bindings without repeats, in the order first given."""
    return tuple(dict.fromkeys(bindings))


def _write(
    svc: Services,
    target: Target,
    checked: _Checked,
    bindings: tuple[Binding, ...],
    operation: OperationRecord,
) -> OperationRecord:
    """Write the bindings with their Operation (the Operation alone when nothing changes)."""
    try:
        if bindings == checked.record.bindings:
            svc.operations.save(operation)
        elif target.kind == "folder":
            svc.access.replace_folder(target.id, checked.record, bindings, operation)
        else:
            svc.access.replace_workflow(
                target.id, checked.folder_id, checked.record, bindings, operation
            )
    except AccessChanged as exc:
        raise Aborted(
            f"{target.kind}Id: the access bindings of {target.kind} {target.id} changed "
            "meanwhile; retry"
        ) from exc
    return operation


def _operation(
    svc: Services, target: Target, checked: _Checked, verb: str, caller: str
) -> OperationRecord:
    return operations.new(
        svc,
        kind=target.kind,
        resource_id=target.id,
        folder_id=checked.folder_id,
        description=f"{verb} access bindings of {target.kind} {target.id}",
        metadata_type=f"{verb}AccessBindingsMetadata",
        caller=caller,
        at=svc.clock(),
    )
