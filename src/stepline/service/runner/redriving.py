"""A redriven execution's log reopened: the item that turns its end back into a run.

Redrive (:mod:`stepline.service.redrive`) changes only the head: FAILED or STOPPED → RUNNING
and its ``redriveCount`` one up. The first message the runner takes for it afterwards — the
redrive's own, or the reconciler's if that was lost — finds the log's newest item written under
a lower count, and appends the *redrive item* before anything else: what was still open closed
CANCELLED, the entry marking the redrive, and the machine at the end reopened
(``engine.redrive``) in full. The append is conditional on its position like every other, so
two runners reopen it once; the loser drops its message. From then on the execution advances
from that item as from any other.
"""

from __future__ import annotations

import json
from typing import Any

from stepline import engine
from stepline.engine import Records
from stepline.service.deps import Services
from stepline.service.runner.checkpoint import log_expiry, stored_records
from stepline.service.runner.drive import execution_input
from stepline.service.runner.spec_cache import SPECS
from stepline.statuses import ADVANCING
from stepline.store.log import LogItem, LostRace
from stepline.store.records import ExecutionRecord
from stepline.times import stored


def redriven(head: ExecutionRecord, last: LogItem | None) -> bool:
    """Whether the head was redriven after the log's newest item was written (the log must be
    reopened before the execution goes on)."""
    return last is not None and head.status in ADVANCING and head.redrive_count > last.redrive


def reopen(svc: Services, head: ExecutionRecord, last: LogItem, by: int) -> bool:
    """Append the redrive item after ``last``; False when another runner got there first."""
    spec = SPECS.get(svc, head)
    records, still_open = _end_state(svc, head.id, last)
    # Secret values stay hidden: the records go back to the log as they came from it. A log
    # with no machine (the run failed before its first step) starts again from the input.
    machine = (
        engine.load(records, still_open)
        if records is not None
        else engine.new_machine(execution_input(svc, head), head.id)
    )
    now = svc.clock()
    closed = engine.cancel_open(machine, now)
    out = engine.redrive(spec, machine, now, head.redrive_count)
    full = engine.snapshot(out.machine)
    item = LogItem(
        seq=last.seq + 1,
        by=by,
        at=stored(now),
        entries=[*closed, *out.finished],
        open=engine.open_entries(out.machine),
        machine=full,
        full=len(json.dumps(full, ensure_ascii=False, separators=(",", ":"))),
        expires_at=log_expiry(svc, now),
        redrive=head.redrive_count,
    )
    try:
        svc.log.append(head.id, item)
    except LostRace:
        return False
    return True


def _end_state(
    svc: Services, execution_id: str, last: LogItem
) -> tuple[Records | None, list[dict[str, Any]]]:
    """The machine's records at the end of the log, and the entries still open then.

    An ended item keeps the machine in full (the runner's end of a FAILED or STOPPED run), or
    only the outcome (the run ended before it loaded the machine; a Stop closed what was open):
    then the machine is the one of the items before, folded."""
    if not last.ended:
        records = stored_records(execution_id, last)
        assert records is not None
        return dict(records), list(last.open)
    if last.machine is not None and engine.MACHINE_RECORD in last.machine:
        return dict(last.machine), []
    folded: Records | None = None
    for item in svc.log.span(execution_id, 0, last.seq):
        if item.machine is not None and engine.MACHINE_RECORD in item.machine:
            folded = dict(item.machine)
        elif item.delta is not None and folded is not None:
            engine.apply(folded, item.delta)
    return folded, []
