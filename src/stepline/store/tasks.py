"""Task items: the wait of one waitForTask step for the answer to its token.

A task is issued WAITING with the SHA-256 of its token (the token itself is never stored) and
leaves WAITING once, by a conditional write: SUCCEEDED or FAILED (an answer), TIMED_OUT (the
runner saw its deadline or heartbeat deadline pass) or CANCELLED (its notification failed).
Every write but the first is conditioned on the token hash, so a write meant for an earlier
token (an earlier attempt, or a notification that had to be sent again) never lands on a newer
one. An answer keeps the digest of what it said, so a retry of its own write is recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stepline.store import keys
from stepline.store.table import Condition, Item, Table

WAITING = "WAITING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
CANCELLED = "CANCELLED"
ANSWERED = frozenset({SUCCEEDED, FAILED})

_NAMES = {"#s": "status"}


@dataclass(frozen=True)
class TaskRecord:
    """One task, as stored."""

    execution_id: str
    n: int
    attempt: int
    token_hash: str
    status: str
    deadline: str
    """When the wait times out (a stored time)."""
    heartbeat_deadline: str | None = None
    """When it times out unless a heartbeat comes first; None: no heartbeat is asked for."""
    heartbeat_seconds: float | None = None
    notified: bool = False
    output_json: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    answer_digest: str | None = None
    answered_at: str | None = None
    """When the answer was taken (a stored time)."""
    expires_at: int | None = None

    def item(self) -> dict[str, Any]:
        """The item that stores this task."""
        item: dict[str, Any] = keys.task(self.execution_id, self.n) | {
            "executionId": self.execution_id,
            "n": self.n,
            "attempt": self.attempt,
            "tokenHash": self.token_hash,
            "status": self.status,
            "deadline": self.deadline,
            "notified": self.notified,
        }
        if self.heartbeat_deadline is not None:
            item["heartbeatDeadline"] = self.heartbeat_deadline
            item["heartbeatSeconds"] = str(self.heartbeat_seconds)
        if self.expires_at is not None:
            item[keys.TTL_ATTRIBUTE] = self.expires_at
        return item

    @classmethod
    def of(cls, item: Item) -> TaskRecord:
        """The task an item stores."""
        seconds = item.get("heartbeatSeconds")
        return cls(
            execution_id=str(item["executionId"]),
            n=int(item["n"]),
            attempt=int(item["attempt"]),
            token_hash=str(item["tokenHash"]),
            status=str(item["status"]),
            deadline=str(item["deadline"]),
            heartbeat_deadline=item.get("heartbeatDeadline"),
            heartbeat_seconds=float(seconds) if seconds is not None else None,
            notified=bool(item.get("notified")),
            output_json=item.get("outputJson"),
            error_code=item.get("errorCode"),
            error_message=item.get("errorMessage"),
            answer_digest=item.get("answerDigest"),
            answered_at=item.get("answeredAt"),
            expires_at=item.get(keys.TTL_ATTRIBUTE),
        )


def _waiting_with(token_hash: str, now: str | None = None) -> Condition:
    """The task is WAITING on this token (and, given ``now``, neither deadline has passed)."""
    expression = "#s = :waiting AND tokenHash = :hash"
    values: dict[str, Any] = {":waiting": WAITING, ":hash": token_hash}
    if now is not None:
        expression += (
            " AND deadline > :now AND"
            " (attribute_not_exists(heartbeatDeadline) OR heartbeatDeadline > :now)"
        )
        values[":now"] = now
    return Condition(expression, _NAMES, values)


class TaskStore:
    """Task items in the single table; every transition a conditional write
    (:class:`~stepline.store.errors.ConditionFailed` when it loses)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, execution_id: str, n: int) -> TaskRecord | None:
        """The task of entry ``n`` (strongly consistent), or None."""
        item = self.table.get(keys.task(execution_id, n))
        return TaskRecord.of(item) if item else None

    def of_execution(self, execution_id: str) -> list[TaskRecord]:
        """Every task an execution has issued (one Query; executions issue few)."""
        page = self.table.query(
            key_condition="PK = :pk",
            values={":pk": keys.task_partition(execution_id)},
            consistent=True,
        )
        return [TaskRecord.of(item) for item in page.items]

    def issue(self, task: TaskRecord, replaces: TaskRecord | None) -> None:
        """Store a new task: the first of its step's attempt, or the one that ``replaces`` a
        WAITING task whose notification may not have gone out."""
        if replaces is None:
            condition = Condition(
                "attribute_not_exists(PK) OR attempt < :attempt", values={":attempt": task.attempt}
            )
        else:
            condition = Condition(
                "tokenHash = :hash AND #s IN (:waiting, :cancelled)",
                _NAMES,
                {":hash": replaces.token_hash, ":waiting": WAITING, ":cancelled": CANCELLED},
            )
        self.table.put(task.item(), condition)

    def notified(self, task: TaskRecord) -> None:
        """The task's notification went out."""
        self.table.update(
            keys.task(task.execution_id, task.n),
            "SET notified = :true",
            values={":true": True},
            condition=_waiting_with(task.token_hash),
        )

    def settle(self, task: TaskRecord, status: str) -> None:
        """A WAITING task times out or is cancelled (by the runner)."""
        self.table.update(
            keys.task(task.execution_id, task.n),
            "SET #s = :status",
            names=_NAMES,
            values={":status": status},
            condition=_waiting_with(task.token_hash),
        )

    def answer(
        self,
        task: TaskRecord,
        now: str,
        digest: str,
        *,
        output_json: str | None = None,
        error: tuple[str, str] | None = None,
    ) -> None:
        """A caller's answer: SUCCEEDED with ``output_json``, or FAILED with ``error``
        (code, message); only while the task waits and neither deadline has passed."""
        values: dict[str, Any] = {":digest": digest, ":at": now}
        if error is None:
            expression = (
                "SET #s = :done, outputJson = :output, answerDigest = :digest, answeredAt = :at"
            )
            values |= {":done": SUCCEEDED, ":output": output_json}
        else:
            expression = (
                "SET #s = :done, errorCode = :code, errorMessage = :message,"
                " answerDigest = :digest, answeredAt = :at"
            )
            values |= {":done": FAILED, ":code": error[0], ":message": error[1]}
        self.table.update(
            keys.task(task.execution_id, task.n),
            expression,
            names=_NAMES,
            values=values,
            condition=_waiting_with(task.token_hash, now),
        )

    def heartbeat(self, task: TaskRecord, now: str, until: str) -> None:
        """A heartbeat: the heartbeat deadline moves to ``until`` (only while it has not
        passed)."""
        self.table.update(
            keys.task(task.execution_id, task.n),
            "SET heartbeatDeadline = :until",
            values={":until": until},
            condition=_waiting_with(task.token_hash, now),
        )
