"""The stored shapes of workflows and executions, and their item conversions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stepline.statuses import ACTIVE, ENDED
from stepline.store import keys
from stepline.store.table import Item
from stepline.times import from_stored, stored

ACTIVE_STATUSES = ACTIVE
ENDED_STATUSES = ENDED
EXECUTION_STATUSES = ACTIVE + ENDED
"""Every status, in the order an execution goes through them (List merges in this order)."""
DAY_SECONDS = 24 * 3600


def history_expiry(at: datetime, *, retention_days: int, max_execution_hours: float) -> int:
    """When an execution's item written at ``at`` expires (epoch seconds, the table's TTL).

    ``at`` is a head's start or a log item's write time; the retention is counted from there
    plus the execution time quota, so a head never expires while its execution may still run
    and no log item outlives its head by more than the quota (docs/data-model.md).
    """
    quota = math.ceil(max_execution_hours * 3600)
    return int(at.timestamp()) + retention_days * DAY_SECONDS + quota


# How long past its time quota a log item that records no ended entry is kept: as long as the
# steps queue keeps a message (14 days), the longest a late redelivery could still need it.
RESUME_GRACE_DAYS = 14


def resume_expiry(
    started_at: datetime, at: datetime, *, retention_days: int, max_execution_hours: float
) -> int:
    """When a log item written at ``at`` that records no ended entry expires.

    Such an item (a checkpoint before a park, a batch of calls still running) only serves to
    resume the execution: its open entries are closed, and its machine replaced, by a later
    item, and the execution ends within its quota. So it is kept RESUME_GRACE_DAYS past the
    quota, not the whole retention — unless the retention is shorter.
    """
    quota = math.ceil(max_execution_hours * 3600)
    resumable = int(started_at.timestamp()) + quota + RESUME_GRACE_DAYS * DAY_SECONDS
    kept = history_expiry(
        at, retention_days=retention_days, max_execution_hours=max_execution_hours
    )
    return min(resumable, kept)


@dataclass(frozen=True)
class WorkflowRecord:
    """A workflow definition as stored (the head item)."""

    id: str
    folder_id: str
    name: str
    spec_yaml: str
    created_at: datetime
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "ACTIVE"
    spec_version: int = 1
    log_options: dict[str, Any] | None = None
    network_id: str = ""
    service_account_id: str = ""
    express: bool = False
    schedule: dict[str, str] | None = None
    is_public: bool = False
    rev: int = 1

    def to_item(self) -> Item:
        """The head item, with its key and index attributes."""
        return {
            **keys.workflow(self.id),
            **keys.workflow_index_keys(self.folder_id, self.name),
            "id": self.id,
            "folderId": self.folder_id,
            "name": self.name,
            "description": self.description,
            "labels": self.labels,
            "specYaml": self.spec_yaml,
            "specVersion": self.spec_version,
            "status": self.status,
            "createdAt": stored(self.created_at),
            "logOptions": self.log_options,
            "networkId": self.network_id,
            "serviceAccountId": self.service_account_id,
            "express": self.express,
            "schedule": self.schedule,
            "isPublic": self.is_public,
            "rev": self.rev,
        }

    @classmethod
    def from_item(cls, item: Item) -> WorkflowRecord:
        """Rebuild a record from a head item (or its gsi6 projection, without the spec)."""
        return cls(
            id=item["id"],
            folder_id=item["folderId"],
            name=item["name"],
            spec_yaml=item.get("specYaml", ""),
            created_at=from_stored(item["createdAt"]),
            description=item.get("description", ""),
            labels=dict(item.get("labels") or {}),
            status=item.get("status", "ACTIVE"),
            spec_version=int(item.get("specVersion", 1)),
            log_options=item.get("logOptions"),
            network_id=item.get("networkId", ""),
            service_account_id=item.get("serviceAccountId", ""),
            express=bool(item.get("express", False)),
            schedule=item.get("schedule"),
            is_public=bool(item.get("isPublic", False)),
            rev=int(item.get("rev", 1)),
        )


@dataclass(frozen=True)
class ExecutionRecord:
    """An execution head as stored."""

    id: str
    workflow_id: str
    spec_version: int
    status: str
    started_at: datetime
    input_json: str | None = None
    input_ref: str | None = None
    finished_at: datetime | None = None
    result_json: str | None = None
    result_ref: str | None = None
    error: dict[str, str] | None = None
    cancel: str | None = None
    parent: str | None = None
    rev: int = 1
    folder_id: str | None = None
    """The workflow's folder when the execution started: whose access bindings guard it."""
    expires_at: int | None = None
    """Epoch second after which DynamoDB deletes the head (``history_expiry`` of its start)."""
    service_account_id: str = ""
    """The workflow's ``serviceAccountId`` when the execution started (pinned, as its spec
    version is): the role its integration calls are made with; empty: the integration role."""
    log_options: dict[str, Any] | None = None
    """The workflow's ``logOptions`` when the execution started (pinned): where the runner
    writes its log lines; None: nowhere."""
    redrive_count: int = 0
    """How many times the execution was redriven (a Stepline extension: Get's ``redriveCount``)."""
    redriven_at: datetime | None = None
    """When it was last redriven: its time quota counts from then (None: from its start)."""

    @property
    def quota_from(self) -> datetime:
        """When the execution's time quota began: its start, or its last redrive."""
        return self.redriven_at or self.started_at

    @property
    def active(self) -> bool:
        """QUEUED or RUNNING: the execution has not ended."""
        return self.status in ACTIVE_STATUSES

    def to_item(self) -> Item:
        """The head item, with its key and List-index attributes.

        The id and the workflow are in the keys (``PK``, ``GSI2PK``), not stored again.
        """
        started = stored(self.started_at)
        return {
            **keys.execution(self.id),
            **keys.execution_index_keys(self.workflow_id, self.status),
            # Watched by the reconciler from the start: the first move is due at once.
            **(keys.due_keys(self.id, started) if self.active else {}),
            "specVersion": self.spec_version,
            "status": self.status,
            keys.STARTED_AT: started,
            keys.FINISHED_AT: stored(self.finished_at) if self.finished_at else None,
            "input": self.input_json,
            "inputRef": self.input_ref,
            "result": self.result_json,
            "resultRef": self.result_ref,
            "error": self.error,
            "cancel": self.cancel,
            "parent": self.parent,
            "rev": self.rev,
            "folderId": self.folder_id,
            keys.TTL_ATTRIBUTE: self.expires_at,
            # Only when set (None is not stored): most heads carry neither.
            "serviceAccountId": self.service_account_id or None,
            "logOptions": self.log_options or None,
            "redriveCount": self.redrive_count or None,
            "redrivenAt": stored(self.redriven_at) if self.redriven_at else None,
        }

    @classmethod
    def from_item(cls, item: Item) -> ExecutionRecord:
        """Rebuild a record from a head item or a List-index entry of it (either layout: heads
        written before the shared index attributes also stored ``id`` and ``workflowId``)."""
        finished = item.get(keys.FINISHED_AT)
        return cls(
            id=item.get("id") or str(item[keys.PK]).removeprefix("EX#"),
            workflow_id=item.get("workflowId") or _workflow_of(item),
            spec_version=int(item.get("specVersion", 0)),
            status=item.get("status") or keys.status_of_partition(item[keys.STATUS_PARTITION]),
            started_at=from_stored(item[keys.STARTED_AT]),
            input_json=item.get("input"),
            input_ref=item.get("inputRef"),
            finished_at=from_stored(finished) if finished else None,
            result_json=item.get("result"),
            result_ref=item.get("resultRef"),
            error=item.get("error"),
            cancel=item.get("cancel"),
            parent=item.get("parent"),
            rev=int(item.get("rev", 1)),
            folder_id=item.get("folderId"),
            expires_at=int(item[keys.TTL_ATTRIBUTE]) if keys.TTL_ATTRIBUTE in item else None,
            service_account_id=item.get("serviceAccountId") or "",
            log_options=item.get("logOptions") or None,
            redrive_count=int(item.get("redriveCount") or 0),
            redriven_at=from_stored(item["redrivenAt"]) if item.get("redrivenAt") else None,
        )


def _workflow_of(item: Item) -> str:
    """The workflow of an execution item, from its status partition."""
    return keys.workflow_of_partition(str(item[keys.STATUS_PARTITION]))


@dataclass(frozen=True)
class IdempotencyRecord:
    """Remembers which execution a caller's Idempotency-Key started, until ``expires_at``."""

    digest: str
    body_hash: str
    execution_id: str
    expires_at: int

    def to_item(self) -> Item:
        """The record item (its TTL attribute makes DynamoDB drop it later)."""
        return {
            **keys.idempotency(self.digest),
            "bodyHash": self.body_hash,
            "executionId": self.execution_id,
            keys.TTL_ATTRIBUTE: self.expires_at,
        }

    @classmethod
    def from_item(cls, item: Item, digest: str) -> IdempotencyRecord:
        """Rebuild a record from its item."""
        return cls(
            digest=digest,
            body_hash=item["bodyHash"],
            execution_id=item["executionId"],
            expires_at=int(item[keys.TTL_ATTRIBUTE]),
        )
