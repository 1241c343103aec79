"""The access check of every API call: the caller's role on the folder or workflow it touches.

The rule (docs/access.md): a workflow is guarded when the stack enforces bindings
(``AccessBindings=enforced``), when its folder holds bindings, or when it holds bindings
itself; a folder (for Create in it) when the stack enforces them or it holds bindings. A
guarded resource allows what the caller's bindings on it give (a folder's bindings apply to
every workflow in it); anything else allows every signed caller everything, as before
bindings existed. The account root may do everything everywhere.

A caller who may not even view a workflow is answered as if it did not exist (NOT_FOUND, or an
empty list), so that its existence does not leak; one who may view it but lacks the role a call
needs gets PERMISSION_DENIED naming that role. Folders are not secret: Create in one and its
access bindings are refused with PERMISSION_DENIED.

``principal`` None means the call is not an API call of a signed caller (the runner's child
executions, triggers, the public start-by-link API, the dev stack's set-up): it is not checked.
Bindings are read on every check (at most once per call), never cached across calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stepline.access import Principal, Role, effective, granted
from stepline.errors import PermissionDenied, SteplineError
from stepline.service.deps import Services
from stepline.store.access import AccessRecord

NO_ACCESS = AccessRecord()


@dataclass(frozen=True)
class Access:
    """What one check read: the bindings of the folder and (for workflows) of the workflow."""

    folder: AccessRecord
    workflow: AccessRecord = NO_ACCESS

    def guarded(self, svc: Services) -> bool:
        """Whether bindings decide here (else every signed caller may do everything)."""
        return svc.settings.access_enforced or bool(self.folder.bindings or self.workflow.bindings)

    def role(self, svc: Services, principal: Principal) -> Role | None:
        """The caller's role here (None: not even viewer)."""
        bindings = self.folder.bindings + self.workflow.bindings
        return effective(principal, bindings, enforced=self.guarded(svc))


def denied(role: Role, kind: str, resource_id: str) -> PermissionDenied:
    """The PERMISSION_DENIED of a caller who lacks ``role``."""
    return PermissionDenied(f"permission denied: {role.id} on {kind} {resource_id} is required")


def workflow_access(svc: Services, workflow_id: str, folder_id: str | None) -> Access:
    """The bindings that guard a workflow; its folder is looked up when not given (an old
    execution's head does not name it)."""
    if folder_id is not None:
        folder, workflow = svc.access.both(folder_id, workflow_id)
        return Access(folder, workflow)
    workflow = svc.access.workflow(workflow_id)
    folder_id = workflow.folder_id
    if folder_id is None:
        head = svc.workflows.get(workflow_id)
        folder_id = head.folder_id if head is not None else None
    return Access(svc.access.folder(folder_id) if folder_id else NO_ACCESS, workflow)


def require_workflow(
    svc: Services,
    principal: Principal | None,
    workflow_id: str,
    folder_id: str | None,
    role: Role,
    *,
    hidden: Callable[[], SteplineError],
) -> Access | None:
    """Refuse a caller without ``role`` on the workflow: ``hidden()`` (the call's NOT_FOUND)
    when it may not view it, else PERMISSION_DENIED. Returns what it read (None: unchecked)."""
    if principal is None:
        return None
    access = workflow_access(svc, workflow_id, folder_id)
    have = access.role(svc, principal)
    if have is None:
        raise hidden()
    if have < role:
        raise denied(role, "workflow", workflow_id)
    return access


def may_view_workflow(
    svc: Services, principal: Principal | None, workflow_id: str, folder_id: str | None
) -> bool:
    """Whether the caller may view the workflow (List of its executions)."""
    if principal is None:
        return True
    return workflow_access(svc, workflow_id, folder_id).role(svc, principal) is not None


def require_folder(
    svc: Services, principal: Principal | None, folder_id: str, role: Role
) -> Access | None:
    """Refuse a caller without ``role`` on the folder (PERMISSION_DENIED)."""
    if principal is None:
        return None
    access = Access(svc.access.folder(folder_id))
    have = access.role(svc, principal)
    if have is None or have < role:
        raise denied(role, "folder", folder_id)
    return access


WorkflowFilter = Callable[[list[str]], set[str]]


def hide_all(workflow_ids: list[str]) -> set[str]:
    """The filter of a caller who may view none of a folder's workflows."""
    return set()


def visible_in_folder(
    svc: Services, principal: Principal | None, folder_id: str
) -> WorkflowFilter | None:
    """Which of a folder's workflows the caller may view: None when it may view them all,
    else a filter from a page's workflow ids to the visible ones (:func:`hide_all` when it may
    view none)."""
    if principal is None or principal.is_root:
        return None
    folder = svc.access.folder(folder_id)
    if (granted(principal, folder.bindings) or 0) >= Role.VIEWER:
        return None  # a folder's binding applies to every workflow in it
    if folder.bound_workflows <= 0:
        # No workflow of the folder holds bindings of its own: the folder decides for all.
        return hide_all if Access(folder).guarded(svc) else None

    def visible(workflow_ids: list[str]) -> set[str]:
        found = svc.access.workflows(workflow_ids)
        return {
            w
            for w, record in found.items()
            if Access(folder, record).role(svc, principal) is not None
        }

    return visible
