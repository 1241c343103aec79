"""Access bindings in the table: one item per folder or workflow holding its whole list.

A Set or Update replaces the list in one conditional write (``rev``), so no reader ever sees
half of a change and of two concurrent changes one loses (and is told to retry). A workflow's
item is written with the workflow (``folderId``, no bindings) and outlives it, so the
executions of a deleted workflow keep their guard. A folder's item also counts how many of its
workflows hold bindings of their own (``boundWorkflows``, kept in the same transaction as the
workflow's change): List of a folder reads no workflow's item while that count is 0.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from stepline.access import Binding
from stepline.store import keys
from stepline.store.errors import StoreError, TransactionConflict
from stepline.store.operations import OperationRecord, operation_puts
from stepline.store.table import Condition, Item, Table, put_op, update_op

BATCH_KEYS: Final = 100
"""Keys one BatchGetItem may ask for."""


class AccessChanged(StoreError):
    """The bindings changed between read and write."""


@dataclass(frozen=True)
class AccessRecord:
    """A folder's or workflow's access bindings as stored; ``rev`` 0: never set."""

    bindings: tuple[Binding, ...] = ()
    rev: int = 0
    folder_id: str | None = None
    """A workflow's folder (workflow items only)."""
    bound_workflows: int = 0
    """How many of the folder's workflows hold bindings of their own (folder items only)."""

    @classmethod
    def from_item(cls, item: Item | None) -> AccessRecord:
        """Rebuild a record from its item (an absent item: no bindings)."""
        if item is None:
            return cls()
        return cls(
            bindings=tuple(
                Binding(b["role"], b["type"], b["id"]) for b in item.get("bindings") or []
            ),
            rev=int(item.get("rev", 0)),
            folder_id=item.get("folderId"),
            bound_workflows=int(item.get("boundWorkflows", 0)),
        )


def _stored(bindings: tuple[Binding, ...]) -> list[dict[str, str]]:
    return [{"role": b.role_id, "type": b.subject_type, "id": b.subject_id} for b in bindings]


def _unchanged_since(old: AccessRecord) -> Condition:
    if old.rev == 0:
        return Condition("attribute_not_exists(rev)")
    return Condition("rev = :rev", values={":rev": old.rev})


class AccessStore:
    """Reads and replaces the access bindings of folders and workflows."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def folder(self, folder_id: str) -> AccessRecord:
        """A folder's bindings."""
        return AccessRecord.from_item(self.table.get(keys.folder_access(folder_id)))

    def workflow(self, workflow_id: str) -> AccessRecord:
        """A workflow's bindings (and its folder, when its item was written)."""
        return AccessRecord.from_item(self.table.get(keys.workflow_access(workflow_id)))

    def both(self, folder_id: str, workflow_id: str) -> tuple[AccessRecord, AccessRecord]:
        """A folder's and one of its workflows' bindings, in one request."""
        folder_key, workflow_key = keys.folder_access(folder_id), keys.workflow_access(workflow_id)
        found = {i[keys.PK]: i for i in self.table.get_many([folder_key, workflow_key])}
        return (
            AccessRecord.from_item(found.get(folder_key[keys.PK])),
            AccessRecord.from_item(found.get(workflow_key[keys.PK])),
        )

    def workflows(self, workflow_ids: list[str]) -> dict[str, AccessRecord]:
        """The bindings of several workflows (absent ones have none)."""
        records = {w: AccessRecord() for w in workflow_ids}
        by_key = {keys.workflow_access(w)[keys.PK]: w for w in workflow_ids}
        for start in range(0, len(workflow_ids), BATCH_KEYS):
            chunk = [keys.workflow_access(w) for w in workflow_ids[start : start + BATCH_KEYS]]
            for item in self.table.get_many(chunk):
                records[by_key[item[keys.PK]]] = AccessRecord.from_item(item)
        return records

    def replace_folder(
        self,
        folder_id: str,
        old: AccessRecord,
        bindings: tuple[Binding, ...],
        operation: OperationRecord | None = None,
    ) -> None:
        """Replace a folder's bindings, with the operation saying so, if nobody changed them
        since ``old`` was read."""
        token = secrets.token_urlsafe(9)
        key = keys.folder_access(folder_id)
        write = update_op(
            key,
            "SET bindings = :bindings, rev = :new, wtok = :wtok",
            values={":bindings": _stored(bindings), ":new": old.rev + 1, ":wtok": token},
            condition=_unchanged_since(old),
        )
        try:
            self.table.transact([write, *operation_puts(operation)])
        except TransactionConflict as exc:
            self._raise_unless_ours(key, token, exc)

    def replace_workflow(
        self,
        workflow_id: str,
        folder_id: str,
        old: AccessRecord,
        bindings: tuple[Binding, ...],
        operation: OperationRecord | None = None,
    ) -> None:
        """Replace a workflow's bindings, with the operation saying so, if nobody changed
        them since ``old`` was read; the folder's count of bound workflows follows in the same
        transaction."""
        token = secrets.token_urlsafe(9)
        key = keys.workflow_access(workflow_id)
        item: dict[str, Any] = {
            **key,
            "folderId": folder_id,
            "bindings": _stored(bindings),
            "rev": old.rev + 1,
            "wtok": token,
        }
        ops = [put_op(item, _unchanged_since(old)), *operation_puts(operation)]
        delta = int(bool(bindings)) - int(bool(old.bindings))
        if delta:
            ops.append(
                update_op(
                    keys.folder_access(folder_id),
                    "ADD boundWorkflows :delta",
                    values={":delta": delta},
                )
            )
        try:
            self.table.transact(ops)
        except TransactionConflict as exc:
            self._raise_unless_ours(key, token, exc)

    def _raise_unless_ours(self, key: dict[str, str], token: str, exc: Exception) -> None:
        """A failed condition is fine when the item holds our own write (its answer was lost
        and botocore sent it again); anything else is a concurrent change."""
        item = self.table.get(key)
        if item is None or item.get("wtok") != token:
            raise AccessChanged(str(key)) from exc


def new_workflow_op(workflow_id: str, folder_id: str) -> dict[str, Any]:
    """The Put of a new workflow's item (its folder, no bindings), for Create's transaction.
    Unconditional: an id is new, and a new workflow starts with no bindings whatever was there."""
    return put_op({**keys.workflow_access(workflow_id), "folderId": folder_id})


def keep_folder_op(workflow_id: str, folder_id: str) -> dict[str, Any]:
    """The Update that leaves a deleted workflow's folder (and bindings) on its item, for
    Delete's transaction: the item of a workflow made before access bindings may be absent."""
    return update_op(
        keys.workflow_access(workflow_id), "SET folderId = :folder", values={":folder": folder_id}
    )
