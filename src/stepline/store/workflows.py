"""Workflow definitions in the table: head, immutable spec versions, unique names."""

from __future__ import annotations

from typing import Any

from stepline.store import keys
from stepline.store.access import keep_folder_op, new_workflow_op
from stepline.store.errors import StoreError, TransactionConflict
from stepline.store.listing import TimeRange
from stepline.store.operations import OperationRecord, operation_puts
from stepline.store.records import WorkflowRecord
from stepline.store.table import (
    ITEM_ABSENT,
    Condition,
    Page,
    Table,
    delete_op,
    put_op,
)


class NameTaken(StoreError):
    """Another workflow of the folder already has this name."""


class ConcurrentChange(StoreError):
    """The workflow changed (or vanished) between read and write."""


def _same_rev(rev: int) -> Condition:
    return Condition("attribute_exists(PK) AND rev = :rev", values={":rev": rev})


class WorkflowStore:
    """Creates, reads, updates, deletes and lists workflows atomically."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, record: WorkflowRecord, operation: OperationRecord | None = None) -> None:
        """Store a new workflow (with the operation saying so); raises NameTaken when the
        folder already has the name."""
        ops = [
            put_op(_name_claim(record), ITEM_ABSENT),
            put_op(record.to_item(), ITEM_ABSENT),
            put_op(_version_item(record), ITEM_ABSENT),
            new_workflow_op(record.id, record.folder_id),
            *operation_puts(operation),
        ]
        try:
            self.table.transact(ops)
        except TransactionConflict as exc:
            if self._ours(record, operation):
                return  # our own write landed and its answer was lost (the id is new)
            if exc.failed_at(0):
                raise NameTaken(record.name) from exc
            raise ConcurrentChange(record.id) from exc

    def _ours(self, record: WorkflowRecord, operation: OperationRecord | None) -> bool:
        """Whether a transaction that failed its conditions had landed already: its fresh
        operation id is in the table (or, written without one, the head is exactly ours)."""
        if operation is not None:
            return self.table.get(keys.operation_pointer(operation.id)) is not None
        return self._holds(record)

    def _holds(self, record: WorkflowRecord) -> bool:
        """The table holds exactly this head: the write that failed its condition was ours."""
        item = self.table.get(keys.workflow(record.id))
        return item is not None and item == {
            k: v for k, v in record.to_item().items() if v is not None
        }

    def get(self, workflow_id: str) -> WorkflowRecord | None:
        """The workflow head, or None."""
        item = self.table.get(keys.workflow(workflow_id))
        return WorkflowRecord.from_item(item) if item else None

    def get_spec(self, workflow_id: str, version: int) -> str | None:
        """The specification text of one pinned version, or None."""
        item = self.table.get(keys.workflow_version(workflow_id, version))
        return str(item["specYaml"]) if item else None

    def replace(
        self, old: WorkflowRecord, new: WorkflowRecord, operation: OperationRecord | None = None
    ) -> None:
        """Write ``new`` over ``old`` (with the operation saying so) if nobody changed it
        since it was read."""
        ops: list[dict[str, Any]] = [
            put_op(new.to_item(), _same_rev(old.rev)),
            *operation_puts(operation),
        ]
        claim_index = None
        if new.name != old.name:
            claim_index = len(ops)
            ops.append(put_op(_name_claim(new), ITEM_ABSENT))
            ops.append(delete_op(keys.workflow_name(old.folder_id, old.name)))
        if new.spec_version != old.spec_version:
            ops.append(put_op(_version_item(new), ITEM_ABSENT))
        try:
            self.table.transact(ops)
        except TransactionConflict as exc:
            if self._ours(new, operation):
                return  # our own write landed and its answer was lost
            if claim_index is not None and exc.failed_at(claim_index):
                raise NameTaken(new.name) from exc
            raise ConcurrentChange(old.id) from exc

    def delete(self, record: WorkflowRecord, operation: OperationRecord | None = None) -> None:
        """Remove the workflow (with the operation saying so) and free its name; spec
        versions stay for running executions, and its access bindings (with its folder) for
        guarding them."""
        ops = [
            delete_op(keys.workflow(record.id), _same_rev(record.rev)),
            delete_op(keys.workflow_name(record.folder_id, record.name)),
            keep_folder_op(record.id, record.folder_id),
            *operation_puts(operation),
        ]
        try:
            self.table.transact(ops)
        except TransactionConflict as exc:
            gone = self.get(record.id) is None
            if self._ours(record, operation) if operation is not None else gone:
                return  # our own delete landed and its answer was lost
            raise ConcurrentChange(record.id) from exc

    def list_page(
        self,
        folder_id: str,
        *,
        name: str | None,
        limit: int,
        start_key: dict[str, Any] | None,
        created: TimeRange | None = None,
    ) -> Page:
        """One page of a folder's workflows ordered by name (gsi6); a creation-time range is
        a filter on the ``createdAt`` gsi6 projects (a page may then hold fewer)."""
        pk_attr, sk_attr = keys.INDEXES[keys.BY_FOLDER_NAME]
        condition = f"{pk_attr} = :pk"
        values: dict[str, Any] = {":pk": keys.folder_partition(folder_id)}
        if name is not None:
            condition += f" AND {sk_attr} = :name"
            values[":name"] = name
        terms = []
        if created is not None and created.lower is not None:
            terms.append("createdAt >= :clo")
            values[":clo"] = created.lower
        if created is not None and created.upper is not None:
            terms.append("createdAt <= :chi")
            values[":chi"] = created.upper
        return self.table.query(
            index=keys.BY_FOLDER_NAME,
            key_condition=condition,
            values=values,
            limit=limit,
            start_key=start_key,
            filter_expression=" AND ".join(terms) or None,
        )


def _name_claim(record: WorkflowRecord) -> dict[str, Any]:
    return {**keys.workflow_name(record.folder_id, record.name), "workflowId": record.id}


def _version_item(record: WorkflowRecord) -> dict[str, Any]:
    return {
        **keys.workflow_version(record.id, record.spec_version),
        "specYaml": record.spec_yaml,
        "createdAt": record.to_item()["createdAt"],
    }
