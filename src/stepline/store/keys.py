"""Every key of the single table, built in one place.

The layout (see docs/data-model.md for the access patterns):

====================  =========================  ==========  ===========================
item                  PK                         SK          GSIs
====================  =========================  ==========  ===========================
workflow head         ``WF#<workflowId>``        ``WF``      gsi6: folder → name
workflow version      ``WF#<workflowId>``        ``V#<n>``   —
workflow name claim   ``NAME#<folder>#<name>``   ``NAME``    —
execution head        ``EX#<executionId>``       ``EX``      gsi2, gsi4 (List), gsi5 (due)
history item          ``EX#<executionId>``       ``H#<seq>`` —
idempotency record    ``IDEM#<digest>``          ``IDEM``    — (TTL)
workflow access       ``WF#<workflowId>``        ``ACL``     —
folder access         ``FOLDER#<folderId>``      ``ACL``     —
operation pointer     ``OP#<operationId>``       ``OP``      —
task (waitForTask)    ``TASK#<executionId>``     ``<n>``     — (TTL)
====================  =========================  ==========  ===========================

The List indexes of an execution head share their attributes, so a head stores each value
once: the partition ``GSI2PK = WFEX#<workflowId>#<status>`` (a workflow's executions in one
status), and as sort keys the head's own ``startedAt`` (gsi2) and ``finishedAt`` (gsi4,
present once it has ended: sparse). A List without a status merges the partitions of every
status it can match (``store/listing.py``). Sort keys are bare fixed-width timestamps
(executions of the same microsecond come in the order DynamoDB keeps for equal index keys; a
page token holds the primary key too, so paging stays exact). Heads written by earlier
layouts — with ``GSI1PK = WFEX#<workflowId>`` for the retired gsi1 and gsi3, or before that
their id and workflow id as attributes and ``GSI2SK``, ``GSI4PK``, ``GSI4SK`` with sort keys
``<timestamp>#<executionId>`` — have every attribute these indexes key on, so they are listed
as before.

Payload objects (inputs, results and log item parts too large for their items) have their
keys built here too (``payload_*``); the bucket expires them after the retention.

An operation lives in its resource's partition (``WF#<workflowId>`` or ``FOLDER#<folderId>``)
under ``OP#<createdAt>#<operationId>``, so a resource's operations are one Query in creation
order; its pointer item finds it by id (``store/operations.py``).

A task item is the wait of one waitForTask step (entry ``n``, zero-padded) for its answer; it
holds the hash of its token, never the token (``store/tasks.py``). An execution's tasks are one
Query.

Access items hold a resource's access bindings as one list (``store/access.py``); a workflow's
outlives the workflow, as its spec versions do, so its executions stay guarded.
"""

from __future__ import annotations

import hashlib
from typing import Final

PK: Final = "PK"
SK: Final = "SK"
TTL_ATTRIBUTE: Final = "expiresAt"
STARTED_AT: Final = "startedAt"
FINISHED_AT: Final = "finishedAt"
STATUS_PARTITION: Final = "GSI2PK"

# Index name → (partition attribute, sort attribute). Mirrors template.yaml.
INDEXES: Final[dict[str, tuple[str, str]]] = {
    "gsi2": (STATUS_PARTITION, STARTED_AT),
    "gsi4": (STATUS_PARTITION, FINISHED_AT),
    "gsi5": ("GSI5PK", "GSI5SK"),
    "gsi6": ("GSI1PK", "GSI1SK"),
}
BY_STATUS_STARTED: Final = "gsi2"
BY_STATUS_FINISHED: Final = "gsi4"
BY_DUE: Final = "gsi5"
BY_FOLDER_NAME: Final = "gsi6"
# gsi5 spreads the executions still being watched over this many partitions, so that starting
# thousands a second never makes one index partition hot; the reconciler reads each.
DUE_SHARDS: Final = 8

WORKFLOW_SK: Final = "WF"
EXECUTION_SK: Final = "EX"
NAME_SK: Final = "NAME"
IDEMPOTENCY_SK: Final = "IDEM"
ACCESS_SK: Final = "ACL"
OPERATION_SK: Final = "OP"
OPERATION_PREFIX: Final = "OP#"
HISTORY_PREFIX: Final = "H#"
VERSION_PREFIX: Final = "V#"

# Time sort keys are a fixed-width timestamp, alone (the List indexes) or followed by
# "#<executionId>" (gsi5). Ids use only [a-z0-9-], all above "#" and below "~", so "<ts>#~" is
# above every key at ts in either form.
_SEP: Final = "#"
_AFTER_ALL_IDS: Final = "#~"
_PARTITION_PREFIX: Final = "WFEX#"


def workflow(workflow_id: str) -> dict[str, str]:
    """Primary key of a workflow head."""
    return {PK: f"WF#{workflow_id}", SK: WORKFLOW_SK}


def workflow_version(workflow_id: str, version: int) -> dict[str, str]:
    """Primary key of one immutable specification version of a workflow."""
    return {PK: f"WF#{workflow_id}", SK: f"{VERSION_PREFIX}{version:08d}"}


def workflow_name(folder_id: str, name: str) -> dict[str, str]:
    """Primary key of the item that makes a name unique within a folder."""
    return {PK: f"NAME#{folder_id}#{name}", SK: NAME_SK}


def folder_partition(folder_id: str) -> str:
    """gsi6 partition listing a folder's workflows ordered by name."""
    return f"FOLDER#{folder_id}"


def workflow_index_keys(folder_id: str, name: str) -> dict[str, str]:
    """gsi6 attributes of a workflow head."""
    return {"GSI1PK": folder_partition(folder_id), "GSI1SK": name}


def execution(execution_id: str) -> dict[str, str]:
    """Primary key of an execution head."""
    return {PK: f"EX#{execution_id}", SK: EXECUTION_SK}


def history_item(execution_id: str, seq: int) -> dict[str, str]:
    """Primary key of one history log item of an execution."""
    return {PK: f"EX#{execution_id}", SK: f"{HISTORY_PREFIX}{seq:010d}"}


def workflow_access(workflow_id: str) -> dict[str, str]:
    """Primary key of a workflow's access bindings (next to its head and versions)."""
    return {PK: f"WF#{workflow_id}", SK: ACCESS_SK}


def folder_access(folder_id: str) -> dict[str, str]:
    """Primary key of a folder's access bindings."""
    return {PK: f"FOLDER#{folder_id}", SK: ACCESS_SK}


def operations_partition(kind: str, resource_id: str) -> str:
    """The partition holding a workflow's or a folder's operations (next to its other items)."""
    return f"WF#{resource_id}" if kind == "workflow" else f"FOLDER#{resource_id}"


def operation(kind: str, resource_id: str, created_at: str, operation_id: str) -> dict[str, str]:
    """Primary key of an operation, in its resource's partition ordered by creation."""
    return {
        PK: operations_partition(kind, resource_id),
        SK: f"{OPERATION_PREFIX}{created_at}{_SEP}{operation_id}",
    }


def operation_range(lower: str | None, upper: str | None) -> tuple[str, str]:
    """The sort keys bounding a resource's operations created within ``[lower, upper]``
    (bounds from ``time_*_bound``; None = open)."""
    return f"{OPERATION_PREFIX}{lower or ''}", f"{OPERATION_PREFIX}{upper or '~'}"


def operation_pointer(operation_id: str) -> dict[str, str]:
    """Primary key of the item that finds an operation by its id."""
    return {PK: f"{OPERATION_PREFIX}{operation_id}", SK: OPERATION_SK}


def idempotency(digest: str) -> dict[str, str]:
    """Primary key of an idempotency record (digest of caller, scope and key)."""
    return {PK: f"IDEM#{digest}", SK: IDEMPOTENCY_SK}


def status_partition(workflow_id: str, status: str) -> str:
    """Partition of gsi2/gsi4 holding a workflow's executions in one status."""
    return f"{_PARTITION_PREFIX}{workflow_id}{_SEP}{status}"


def workflow_of_partition(partition: str) -> str:
    """The workflow id of a partition of executions (gsi2/gsi4, or an earlier layout's)."""
    return partition.removeprefix(_PARTITION_PREFIX).split(_SEP, 1)[0]


def status_of_partition(partition: str) -> str:
    """The status of a gsi2/gsi4 partition."""
    return partition.rsplit(_SEP, 1)[1]


def time_sort_key(ts: str, execution_id: str) -> str:
    """Sort key ``<stored timestamp>#<executionId>`` (gsi5)."""
    return f"{ts}{_SEP}{execution_id}"


def time_lower_bound(ts: str, *, inclusive: bool) -> str:
    """Smallest sort key at ``ts`` (inclusive) or just after every key at ``ts``."""
    return ts if inclusive else f"{ts}{_AFTER_ALL_IDS}"


def time_upper_bound(ts: str, *, inclusive: bool) -> str:
    """Largest sort key at ``ts`` (inclusive) or just before every key at ``ts``.

    Just before: ``ts`` with its last character lowered by one and ``~`` added, which sorts
    below ``ts`` and above every key of an earlier timestamp of the same width.
    """
    if inclusive:
        return f"{ts}{_AFTER_ALL_IDS}"
    return f"{ts[:-1]}{chr(ord(ts[-1]) - 1)}~"


def execution_index_keys(workflow_id: str, status: str) -> dict[str, str]:
    """The List-index partition of an execution head in ``status`` (its own ``startedAt``
    and ``finishedAt`` are the sort keys)."""
    return {STATUS_PARTITION: status_partition(workflow_id, status)}


def task(execution_id: str, n: int) -> dict[str, str]:
    """Primary key of the task of the waitForTask step of entry ``n``."""
    return {PK: task_partition(execution_id), SK: f"{n:010d}"}


def task_partition(execution_id: str) -> str:
    """Partition of an execution's tasks."""
    return f"TASK#{execution_id}"


def payload_input(execution_id: str) -> str:
    """Payload bucket key of an execution input too large for its head."""
    return f"executions/{execution_id}/input.json"


def payload_result(execution_id: str) -> str:
    """Payload bucket key of an execution result too large for its head."""
    return f"executions/{execution_id}/result.json"


def payload_log_part(execution_id: str, seq: int, token: str, part: str) -> str:
    """Payload bucket key of one part (``entries``, ``open``, ``machine``, ``delta``) of a log
    item too large to keep inline; the writer's token keeps two racing writers apart."""
    return f"executions/{execution_id}/log/{seq}-{token}/{part}.json"


def due_partition(shard: int) -> str:
    """gsi5 partition of one shard of the executions the reconciler watches."""
    return f"DUE#{shard}"


def due_keys(execution_id: str, due: str) -> dict[str, str]:
    """gsi5 attributes: the execution's next move is expected at ``due`` (a stored time).

    Only executions not yet settled have them (the index is sparse); the shard is a hash of
    the id, so one execution always stays in one partition.
    """
    shard = int.from_bytes(hashlib.sha256(execution_id.encode()).digest()[:4], "big") % DUE_SHARDS
    return {"GSI5PK": due_partition(shard), "GSI5SK": time_sort_key(due, execution_id)}
