"""Operations in the table: what each Create, Update, Delete and access-binding change did.

An operation is written in the same transaction as the change it describes (the store's write
methods take it), so it exists exactly when the change landed — and the presence of its fresh
id tells a writer whose answer was lost that the transaction was its own. Two items hold it:

- the operation itself, in its resource's partition (``WF#<workflowId>`` or
  ``FOLDER#<folderId>``) under ``OP#<createdAt>#<operationId>``, so a resource's operations
  are one Query, oldest to newest, and a creation-time range is a key condition;
- a pointer ``OP#<operationId>`` naming that item, for Get by id.

Operations are finished when written (every change is synchronous) and immutable; both items
expire with the history retention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from stepline.store import keys
from stepline.store.errors import TransactionConflict
from stepline.store.listing import TimeRange
from stepline.store.records import WorkflowRecord
from stepline.store.table import ITEM_ABSENT, Item, Page, Table, put_op
from stepline.times import from_stored, stored

ResourceKind = Literal["workflow", "folder"]
_SNAPSHOT_DROPPED: Final = (keys.PK, keys.SK, *keys.INDEXES[keys.BY_FOLDER_NAME], "rev")


@dataclass(frozen=True)
class OperationRecord:
    """One finished operation as stored: what it did, to which resource, by whom, when."""

    id: str
    kind: ResourceKind
    resource_id: str
    folder_id: str
    description: str
    metadata_type: str
    """The metadata message (``CreateWorkflowMetadata``, ``SetAccessBindingsMetadata``, …)."""
    created_at: datetime
    created_by: str
    workflow: WorkflowRecord | None = None
    """The workflow as the operation left it (Create, Update): the operation's response."""
    expires_at: int | None = None

    @property
    def partition(self) -> str:
        """The partition of the resource the operation belongs to."""
        return keys.operations_partition(self.kind, self.resource_id)

    def to_item(self) -> Item:
        """The operation item (in its resource's partition)."""
        return {
            **keys.operation(self.kind, self.resource_id, stored(self.created_at), self.id),
            "id": self.id,
            "kind": self.kind,
            "resourceId": self.resource_id,
            "folderId": self.folder_id,
            "description": self.description,
            "metadataType": self.metadata_type,
            "createdAt": stored(self.created_at),
            "createdBy": self.created_by,
            "workflow": _snapshot(self.workflow) if self.workflow else None,
            keys.TTL_ATTRIBUTE: self.expires_at,
        }

    def pointer_item(self) -> Item:
        """The item that finds the operation by id."""
        target = keys.operation(self.kind, self.resource_id, stored(self.created_at), self.id)
        return {
            **keys.operation_pointer(self.id),
            "targetPK": target[keys.PK],
            "targetSK": target[keys.SK],
            keys.TTL_ATTRIBUTE: self.expires_at,
        }

    @classmethod
    def from_item(cls, item: Item) -> OperationRecord:
        """Rebuild a record from its operation item."""
        snapshot = item.get("workflow")
        return cls(
            id=item["id"],
            kind=item["kind"],
            resource_id=item["resourceId"],
            folder_id=item["folderId"],
            description=item.get("description", ""),
            metadata_type=item["metadataType"],
            created_at=from_stored(item["createdAt"]),
            created_by=item.get("createdBy", ""),
            workflow=WorkflowRecord.from_item(json.loads(snapshot)) if snapshot else None,
            expires_at=item.get(keys.TTL_ATTRIBUTE),
        )


def _snapshot(record: WorkflowRecord) -> str:
    """The workflow's head attributes as JSON text (opaque to the table: no index keys)."""
    item = {k: v for k, v in record.to_item().items() if k not in _SNAPSHOT_DROPPED}
    return json.dumps(item, separators=(",", ":"), sort_keys=True)


def operation_puts(record: OperationRecord | None) -> list[dict[str, Any]]:
    """The Puts that store an operation, for the transaction of the change it describes
    (none without one)."""
    if record is None:
        return []
    return [put_op(record.to_item(), ITEM_ABSENT), put_op(record.pointer_item(), ITEM_ABSENT)]


class OperationStore:
    """Reads operations and stores those of changes that wrote nothing else."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def landed(self, operation_id: str) -> bool:
        """Whether the operation (and so the transaction that carried it) was written."""
        return self.table.get(keys.operation_pointer(operation_id)) is not None

    def save(self, record: OperationRecord) -> None:
        """Store an operation on its own (a change that turned out to change nothing)."""
        try:
            self.table.transact(operation_puts(record))
        except TransactionConflict:
            if not self.landed(record.id):
                raise

    def get(self, operation_id: str) -> OperationRecord | None:
        """The operation, or None (never written, or expired)."""
        pointer = self.table.get(keys.operation_pointer(operation_id))
        if pointer is None:
            return None
        item = self.table.get({keys.PK: pointer["targetPK"], keys.SK: pointer["targetSK"]})
        return OperationRecord.from_item(item) if item else None

    def list_page(
        self,
        kind: ResourceKind,
        resource_id: str,
        *,
        created: TimeRange | None,
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> Page:
        """One page of a resource's operations, oldest first, within a creation-time range."""
        low, high = keys.operation_range(
            created.lower if created else None, created.upper if created else None
        )
        partition = keys.operations_partition(kind, resource_id)
        return self.table.query(
            key_condition=f"{keys.PK} = :pk AND {keys.SK} BETWEEN :low AND :high",
            values={":pk": partition, ":low": low, ":high": high},
            limit=limit,
            start_key=start_key,
            consistent=True,
        )
