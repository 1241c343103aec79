"""Executions in the table: heads, history log items, idempotency records, List queries.

Every conditional write here is recognisable as its own: a head update stores a fresh write
token (``wtok``), and an execution's id is new when it is created. When a write's response
is lost and botocore retries it, the retry fails its own condition; the store then reads the
item back, and a token (or id) of its own there means the first attempt landed — success,
not a lost race.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from datetime import datetime
from typing import Any

from stepline.statuses import ExecutionStatus
from stepline.store import keys
from stepline.store.errors import ConditionFailed, StoreError, TransactionConflict
from stepline.store.listing import Cursor, ExecutionFilter, ExecutionListing, ListedPage
from stepline.store.records import ACTIVE_STATUSES, ExecutionRecord, IdempotencyRecord
from stepline.store.table import ITEM_ABSENT, Condition, Item, Table, put_op
from stepline.times import stored


class IdempotencyKeyUsed(StoreError):
    """The Idempotency-Key already names an execution; ``record`` says which."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.execution_id)
        self.record = record


class NotActive(StoreError):
    """The execution has already ended; ``record`` is its current state."""

    def __init__(self, record: ExecutionRecord | None) -> None:
        super().__init__(record.status if record else "missing")
        self.record = record


# A paused head's status before the pause (QUEUED or RUNNING: what resume goes back to), and
# whether a runner stopped for the pause with no message left behind (resume sends one then).
PAUSED_FROM = "pausedFrom"
HELD = "held"
PAUSE_ATTRIBUTES = (PAUSED_FROM, HELD)
# How many times a head was redriven, and when last (its time quota counts from then).
REDRIVE_COUNT = "redriveCount"
REDRIVEN_AT = "redrivenAt"
# Conditional writes that lose to a runner's own write on a paused head read it again this often.
_RETRIES = 3

# The head keeps this much of an error message (its history entry keeps all of it): a Fail step's
# message may be as long as step data, an item holds 400 KB.
ERROR_MESSAGE_LIMIT = 32 * 1024
_CUT = " … (cut at 32 KB; the history entry has the whole message)"


def shortened(message: str) -> str:
    """An error message within ERROR_MESSAGE_LIMIT bytes of UTF-8, marked when cut."""
    data = message.encode()
    if len(data) <= ERROR_MESSAGE_LIMIT:
        return message
    keep = ERROR_MESSAGE_LIMIT - len(_CUT.encode())
    return data[:keep].decode(errors="ignore") + _CUT


class ExecutionStore:
    """Conditional writes and paged queries on execution items."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(
        self, record: ExecutionRecord, *, idempotency: IdempotencyRecord | None, now_epoch: int
    ) -> None:
        """Store a new execution; with an idempotency record, both or neither (a transaction)."""
        if idempotency is None:
            try:
                self.table.put(record.to_item(), ITEM_ABSENT)
            except ConditionFailed:
                if not self._landed(record):
                    raise
            return
        unused = Condition(
            "attribute_not_exists(PK) OR #ttl < :now",
            names={"#ttl": keys.TTL_ATTRIBUTE},
            values={":now": now_epoch},
        )
        ops = [put_op(record.to_item(), ITEM_ABSENT), put_op(idempotency.to_item(), unused)]
        try:
            self.table.transact(ops)
        except TransactionConflict as exc:
            if self._landed(record):  # both items were written: a transaction is atomic
                return
            existing = self.table.get(keys.idempotency(idempotency.digest))
            if exc.failed_at(1) and existing:
                raise IdempotencyKeyUsed(
                    IdempotencyRecord.from_item(existing, idempotency.digest)
                ) from exc
            raise

    def _landed(self, record: ExecutionRecord) -> bool:
        """The head of this new execution is in the table: our own write (ids are new)."""
        item = self.table.get(keys.execution(record.id))
        return item is not None and item.get("startedAt") == record.to_item().get("startedAt")

    def get(self, execution_id: str) -> ExecutionRecord | None:
        """The execution head, or None."""
        item = self.table.get(keys.execution(execution_id))
        return ExecutionRecord.from_item(item) if item else None

    def end(
        self,
        record: ExecutionRecord,
        status: str,
        at: datetime,
        *,
        cancel: str | None = None,
        result: dict[str, str] | None = None,
        error: dict[str, str] | None = None,
        redrive_count: int | None = None,
    ) -> None:
        """Move an active execution to an ended status; raises NotActive when it already ended
        (or, with ``redrive_count``, when it has been redriven since: the runner ends only the
        run it read)."""
        # The status partition moves (gsi2) and finishedAt enters gsi4.
        fields: dict[str, Any] = {
            keys.STATUS_PARTITION: keys.status_partition(record.workflow_id, status),
            keys.FINISHED_AT: stored(at),
        }
        if error is not None:
            error = error | {"message": shortened(error.get("message", ""))}
        fields |= {"cancel": cancel, "error": error, **(result or {})}
        # A stopped execution stays watched until its log is closed too (the reconciler sees to
        # it, from the stop on: a paused one was filed under its quota); any other end settles it.
        settled: tuple[str, ...] = PAUSE_ATTRIBUTES
        if status == ExecutionStatus.STOPPED:
            fields |= keys.due_keys(record.id, stored(at))
        else:
            settled += keys.INDEXES[keys.BY_DUE]
        expect = None if redrive_count is None else {REDRIVE_COUNT: redrive_count or None}
        self._transition(record.id, status, fields, ACTIVE_STATUSES, remove=settled, expect=expect)

    def mark_running(self, record: ExecutionRecord) -> None:
        """QUEUED → RUNNING; raises NotActive when it is no longer QUEUED.

        A head paused while QUEUED stays PAUSED, and resumes to RUNNING: its run has begun."""
        fields = {
            keys.STATUS_PARTITION: keys.status_partition(
                record.workflow_id, ExecutionStatus.RUNNING
            )
        }
        for _ in range(_RETRIES):
            try:
                self._transition(
                    record.id, ExecutionStatus.RUNNING, fields, (ExecutionStatus.QUEUED,)
                )
                return
            except NotActive as lost:
                if lost.record is None or lost.record.status != ExecutionStatus.PAUSED:
                    raise
            with suppress(ConditionFailed):  # resumed meanwhile: QUEUED again, try that
                self.table.update(
                    keys.execution(record.id),
                    "SET #from = :running",
                    names={"#from": PAUSED_FROM, "#status": "status"},
                    values={":running": ExecutionStatus.RUNNING, ":paused": ExecutionStatus.PAUSED},
                    condition=Condition("#status = :paused"),
                )
                return
        raise NotActive(self.get(record.id))

    def pause(self, record: ExecutionRecord, *, until: datetime) -> None:
        """``record.status`` (QUEUED or RUNNING) → PAUSED, watched until ``until`` (its time
        quota); raises NotActive when the head is no longer in that status."""
        fields: dict[str, Any] = {
            keys.STATUS_PARTITION: keys.status_partition(
                record.workflow_id, ExecutionStatus.PAUSED
            ),
            PAUSED_FROM: str(record.status),
        }
        fields |= keys.due_keys(record.id, stored(until))
        self._transition(
            record.id, ExecutionStatus.PAUSED, fields, (record.status,), remove=(HELD,)
        )

    def hold(self, execution_id: str) -> None:
        """A runner stops for the pause and leaves no message behind: the resume must send
        one. Raises NotActive when the execution is no longer PAUSED."""
        self._transition(
            execution_id, ExecutionStatus.PAUSED, {HELD: True}, (ExecutionStatus.PAUSED,)
        )

    def resume(self, record: ExecutionRecord, at: datetime) -> bool:
        """PAUSED → the status it paused from, its next move due ``at``; whether a runner
        stopped for the pause (then the caller sends the message that goes on). Raises
        NotActive when the head is no longer PAUSED."""
        for _ in range(_RETRIES):
            item = self.table.get(keys.execution(record.id))
            if item is None or item.get("status") != ExecutionStatus.PAUSED:
                raise NotActive(ExecutionRecord.from_item(item) if item else None)
            status = str(item.get(PAUSED_FROM) or ExecutionStatus.RUNNING)
            fields: dict[str, Any] = {
                keys.STATUS_PARTITION: keys.status_partition(record.workflow_id, status)
            }
            fields |= keys.due_keys(record.id, stored(at))
            try:
                self._transition(
                    record.id,
                    status,
                    fields,
                    (ExecutionStatus.PAUSED,),
                    remove=PAUSE_ATTRIBUTES,
                    expect={PAUSED_FROM: item.get(PAUSED_FROM), HELD: item.get(HELD)},
                )
            except NotActive as lost:
                if lost.record is None or lost.record.status != ExecutionStatus.PAUSED:
                    raise
                continue  # a runner wrote meanwhile (held, or its run began): read again
            return bool(item.get(HELD))
        raise NotActive(self.get(record.id))

    def redrive(self, record: ExecutionRecord, at: datetime) -> None:
        """FAILED/STOPPED (``record.status``) → RUNNING as redrive number
        ``record.redrive_count + 1``, watched from ``at``; raises NotActive when the head is no
        longer that status with that count (another redrive, or a runner, came first)."""
        fields: dict[str, Any] = {
            keys.STATUS_PARTITION: keys.status_partition(
                record.workflow_id, ExecutionStatus.RUNNING
            ),
            REDRIVE_COUNT: record.redrive_count + 1,
            REDRIVEN_AT: stored(at),
        }
        fields |= keys.due_keys(record.id, stored(at))
        expected = record.redrive_count or None
        self._transition(
            record.id,
            ExecutionStatus.RUNNING,
            fields,
            (record.status,),
            remove=(keys.FINISHED_AT, "error", "cancel", *PAUSE_ATTRIBUTES),
            expect={REDRIVE_COUNT: expected},
        )

    def _transition(
        self,
        execution_id: str,
        status: str,
        fields: dict[str, Any],
        allowed: tuple[str, ...],
        *,
        remove: tuple[str, ...] = (),
        expect: dict[str, Any] | None = None,
    ) -> None:
        """Set ``fields`` and ``status`` if the status is one of ``allowed`` (and each of
        ``expect`` as given: None, absent); NotActive otherwise."""
        present = {k: v for k, v in fields.items() if v is not None}
        names = {f"#f{i}": name for i, name in enumerate(present)} | {"#status": "status"}
        names |= {f"#r{i}": name for i, name in enumerate(remove)}
        assignments = "".join(f"#f{i} = :f{i}, " for i in range(len(present)))
        removal = (" REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))) if remove else ""
        values: dict[str, Any] = {f":f{i}": value for i, value in enumerate(present.values())}
        token = secrets.token_urlsafe(9)
        values |= {":status": status, ":one": 1, ":tok": token}
        values |= {f":a{i}": s for i, s in enumerate(allowed)}
        active = ", ".join(f":a{i}" for i in range(len(allowed)))
        expected = ""
        for i, (name, value) in enumerate((expect or {}).items()):
            names[f"#e{i}"] = name
            if value is None:
                expected += f" AND attribute_not_exists(#e{i})"
            else:
                expected += f" AND #e{i} = :e{i}"
                values[f":e{i}"] = value
        try:
            self.table.update(
                keys.execution(execution_id),
                # Status last: DynamoDB applies an update at once, but the emulator the dev
                # stack runs on applies it action by action, and a reader polling for the end
                # must not see FINISHED before the result.
                f"SET rev = rev + :one, wtok = :tok, {assignments}#status = :status{removal}",
                names=names,
                values=values,
                condition=Condition(f"attribute_exists(PK) AND #status IN ({active}){expected}"),
            )
        except ConditionFailed as exc:
            item = self.table.get(keys.execution(execution_id))
            if item is not None and item.get("wtok") == token:
                return  # the first attempt landed; its response was lost and retried
            raise NotActive(ExecutionRecord.from_item(item) if item else None) from exc

    def watch(self, execution_id: str, due: datetime) -> None:
        """Expect the execution's next move at ``due`` (while it is still watched at all)."""
        attributes = keys.due_keys(execution_id, stored(due))
        with suppress(ConditionFailed):  # settled meanwhile: nothing left to watch
            self.table.update(
                keys.execution(execution_id),
                "SET GSI5PK = :pk, GSI5SK = :sk",
                values={":pk": attributes["GSI5PK"], ":sk": attributes["GSI5SK"]},
                condition=Condition("attribute_exists(GSI5PK)"),
            )

    def unwatch(self, execution_id: str) -> None:
        """Stop watching a settled execution (repeating it changes nothing)."""
        with suppress(ConditionFailed):
            self.table.update(
                keys.execution(execution_id),
                "REMOVE GSI5PK, GSI5SK",
                condition=Condition("attribute_exists(PK)"),
            )

    def overdue(self, shard: int, before: datetime, *, limit: int) -> list[str]:
        """Ids of the watched executions of one shard whose next move was due before
        ``before``, the longest overdue first."""
        upper = keys.time_upper_bound(stored(before), inclusive=False)
        found: list[str] = []
        start: Item | None = None
        while len(found) < limit:
            page = self.table.query(
                index=keys.BY_DUE,
                key_condition="GSI5PK = :pk AND GSI5SK < :before",
                values={":pk": keys.due_partition(shard), ":before": upper},
                limit=limit - len(found),
                start_key=start,
            )
            found.extend(str(item[keys.PK]).removeprefix("EX#") for item in page.items)
            if page.last_key is None:
                break
            start = page.last_key
        return found

    def list(
        self, workflow_id: str, wanted: ExecutionFilter, *, limit: int, cursor: Cursor | None
    ) -> ListedPage:
        """A page of a workflow's executions matching ``wanted``, newest first (store/listing.py:
        which index and partitions answer it)."""
        return ExecutionListing(self.table).page(workflow_id, wanted, limit=limit, cursor=cursor)
