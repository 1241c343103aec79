"""Checkpoints: the log item a run appends, and the head's QUEUED → RUNNING on the way.

A checkpoint stores the machine as what changed since the last one (``engine.changes``), and
in full (``engine.snapshot``) when the deltas since the last full one would outgrow it: a
checkpoint costs what its advances did, and rebuilding the machine reads at most about twice
its size (:func:`machine_part`, :func:`stored_records`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from stepline import engine
from stepline.engine import Records
from stepline.service.deps import Services
from stepline.service.runner.execution_logs import record as record_lines
from stepline.service.runner.masking import hide_secrets, shown_entries, shown_outcome
from stepline.service.runner.metrics import step_metrics
from stepline.service.runner.run import Run
from stepline.statuses import ExecutionStatus
from stepline.store.executions import NotActive
from stepline.store.log import LogItem, LostRace
from stepline.store.records import ExecutionRecord, history_expiry, resume_expiry
from stepline.times import stored

# The head (and with it List's status indexes) says RUNNING once an execution has run this
# long, or at its first checkpoint if it will still be running by then. Shorter runs go from
# QUEUED to their end in one head write; Get and GetHistory show them RUNNING from their first
# log item on.
RUNNING_AFTER = 5.0


@dataclass
class Chain:
    """The log's newest full machine (at ``base``, ``full`` bytes of JSON) and the bytes of
    the deltas written since."""

    base: int
    full: int
    deltas: int = 0

    @classmethod
    def of(cls, item: LogItem | None) -> Chain | None:
        """The chain a log item continues; None when the next write must be in full."""
        if item is None or item.ended:
            return None
        if item.delta is not None and item.base is not None:
            return cls(item.base, item.full, item.chain)
        return cls(item.seq, item.full) if item.machine is not None else None


# Deltas since a full machine are at most this many items (a rebuild is one Query of them),
# and only of a machine of at least DELTA_FROM bytes: a smaller one is cheaper to write whole
# than to read back from two items.
MAX_CHAIN = 64


DELTA_FROM = 2048


def checkpoint(
    run: Run, *, calls: bool = False, wake: datetime | None = None, ended: bool = False
) -> bool:
    """Append the next log item; False when another runner got there first."""
    if not ended and _still_running_at_horizon(run, wake, calls) and not mark_running(run):
        return False
    at = run.svc.clock()
    shown_open = shown_entries(engine.open_entries(run.machine), run.mask)
    item = LogItem(
        seq=run.seq,
        by=run.message.seq,
        at=stored(at),
        entries=shown_entries(run.finished, run.mask),
        open=shown_open,
        wake=stored(wake) if wake else None,
        calls=calls,
        ended=ended,
        expires_at=log_expiry(
            run.svc, at, resumes=run.head if not (ended or run.finished) else None
        ),
        redrive=run.head.redrive_count,
    )
    chain = None
    if ended:  # an ended log advances again only when redriven: see ended_records
        item = replace(item, machine=ended_records(run))
    else:
        item, chain = _machine(run, item)
    still_open = {int(e["n"]): e for e in shown_open}
    try:
        run.svc.log.append(run.head.id, item)
    except LostRace:
        return False
    previous, run.chain, run.written_open = run.written_open, chain, still_open
    outcome = engine.outcome(run.machine) if ended else None
    _log_lines(run, at, item, previous, ended)
    step_metrics(run.finished, ended=outcome["status"] if outcome else None)
    run.finished = []
    run.seq += 1
    return True


def _log_lines(
    run: Run, at: datetime, item: LogItem, previous: dict[int, dict[str, Any]], ended: bool
) -> None:
    """The execution's log lines of an appended item (logOptions; kept for the flush)."""
    if run.lines.destination is None:
        return
    outcome = (ended_machine(run)["outcome"] or {"status": "STOPPED"}) if ended else {}
    record_lines(
        run.lines,
        run.head,
        at,
        entries=[*item.entries, *run.written_open.values()],
        previous=previous,
        first=item.seq == 0,
        outcome=outcome.get("status"),
        error=outcome.get("error"),
    )


def _machine(run: Run, item: LogItem) -> tuple[LogItem, Chain]:
    """The item with the machine: what changed since the previous checkpoint, or the whole
    machine when that is cheaper over the chain (the deltas since the last full one would
    outgrow it, or the chain is MAX_CHAIN long, or the machine is small); and the chain after
    it. An item with a delta keeps only the open entries that changed since the previous item,
    and the numbers of all."""
    chain = run.chain
    if chain is not None and chain.full >= DELTA_FROM and run.seq - chain.base < MAX_CHAIN:
        delta = hide_secrets(engine.changes(run.machine), run.mask)
        size = _size(delta)
        if chain.deltas + size <= chain.full:
            grown = Chain(chain.base, chain.full, chain.deltas + size)
            item = replace(item, delta=delta, base=chain.base, chain=grown.deltas)
            changed = [e for e in item.open if run.written_open.get(int(e["n"])) != e]
            ids = [int(e["n"]) for e in item.open]
            return replace(item, full=chain.full, open=changed, open_ids=ids), grown
    records = hide_secrets(engine.snapshot(run.machine), run.mask)
    size = _size(records)
    return replace(item, machine=records, full=size), Chain(run.seq, size)


def _size(records: Records) -> int:
    return len(json.dumps(records, ensure_ascii=False, separators=(",", ":")))


def ended_machine(run: Run) -> Records:
    """What the last log item keeps: the outcome, as the head shows it (secrets redacted)."""
    return {"outcome": shown_outcome(engine.outcome(run.machine), run.mask)}


def ended_records(run: Run) -> Records:
    """What an ended log item keeps: the outcome (all a repair of the head needs) and, unless
    the execution FINISHED (and was not stopped first), the machine in full, which a redrive
    reopens (secrets hidden). A run that ended before its machine was loaded keeps the outcome
    only: the machine is the one of the items before."""
    records = ended_machine(run)
    finished = (records["outcome"] or {}).get("status") == ExecutionStatus.FINISHED
    if run.loaded and (run.stopped or not finished):
        full = hide_secrets(engine.snapshot(run.machine), run.mask)
        # The outcome is kept once, as the head shows it (its message may quote a secret).
        own = {k: v for k, v in full[engine.MACHINE_RECORD].items() if k != "outcome"}
        records = full | {engine.MACHINE_RECORD: own} | records
    return records


def machine_part(item: LogItem) -> Records | None:
    """The machine part of a log item: its delta, or its full records."""
    return item.delta if item.delta is not None else item.machine


def stored_records(execution_id: str, last: LogItem | None) -> Records | None:
    """The machine's records as the log holds them up to ``last``: its newest full records
    with the deltas since folded in; None before the first item."""
    if last is None:
        return None
    if last.delta is None or last.base is None:
        return last.machine
    items = [*last.before, last]
    if items[0].seq != last.base or items[0].machine is None:
        raise RuntimeError(f"{execution_id}: the full machine at {last.base} is missing")
    records = dict(items[0].machine)
    for item in items[1:]:
        engine.apply(records, item.delta or {})
    return records


def log_expiry(svc: Services, at: datetime, *, resumes: ExecutionRecord | None = None) -> int:
    """The TTL of a log item written at ``at``; one that records no ended entry and only
    ``resumes`` that execution is kept past its quota, not the whole retention."""
    settings = svc.settings
    if resumes is not None:
        return resume_expiry(
            resumes.quota_from,
            at,
            retention_days=settings.history_retention_days,
            max_execution_hours=settings.max_execution_hours,
        )
    return history_expiry(
        at,
        retention_days=settings.history_retention_days,
        max_execution_hours=settings.max_execution_hours,
    )


def running_horizon(run: Run) -> datetime:
    """When an execution still active counts as RUNNING in List."""
    return run.head.started_at + timedelta(seconds=RUNNING_AFTER)


def _still_running_at_horizon(run: Run, wake: datetime | None, calls: bool) -> bool:
    """Whether the execution has run RUNNING_AFTER seconds, or surely will still be running
    then: a wait that ends later, or a hand-over or child whose end nobody knows. (Slow calls
    are looked at while they run.)"""
    horizon = running_horizon(run)
    if run.svc.clock() >= horizon:
        return True
    return not calls and (wake is None or wake >= horizon)


def mark_running(run: Run) -> bool:
    """QUEUED → RUNNING on the head and its List indexes; False when it has been stopped."""
    if run.head.status != ExecutionStatus.QUEUED:
        return True
    try:
        run.svc.executions.mark_running(run.head)
    except NotActive:
        return False
    run.head = replace(run.head, status=ExecutionStatus.RUNNING)
    return True
