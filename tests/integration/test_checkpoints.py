"""Checkpoints hold what changed: a run that parks many times writes deltas after one full
machine, resumes from them, and ends as it would have."""

from __future__ import annotations

import json
from typing import Any

from stepline.api import queries
from stepline.store import keys
from stepline.testing import drive
from tests.integration.conftest import Runs

ITEMS = 24
# Each item waits a second: every wave of `concurrency` items parks the execution, so the
# runner checkpoints and a later message goes on from the log.
PARKING_FOREACH = r"""
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\(.items)'
      output: '\({seen: [.[].seen]})'
      concurrency: 4
      do:
        start: nap
        steps:
          nap: {wait: {duration: 1s, next: note}}
          note: {noOp: {output: '\({seen: .i})'}}
"""


def _machine_bytes(svc: Any, execution_id: str, seq: int) -> int:
    """Stored bytes of an item's machine part (full or delta), compressed or not."""
    item = svc.log.table.get(keys.history_item(execution_id, seq))
    sizes = [
        len(getattr(v, "value", v)) if not isinstance(v, str) else len(v.encode())
        for k, v in item.items()
        if k.startswith(("machine", "delta"))
    ]
    return sum(sizes)


def test_a_run_that_parks_again_and_again_writes_deltas_and_ends_as_it_would(
    svc: Any, runs: Runs
) -> None:
    items = [{"i": i, "pad": "x" * 200} for i in range(ITEMS)]
    execution_id = runs.start(PARKING_FOREACH, json.dumps({"items": items}))

    drive.drain(svc, until=lambda: svc.executions.get(execution_id).status in drive.ENDED)

    got = queries.get(svc, execution_id)["execution"]
    assert got["status"] == "FINISHED"
    assert json.loads(got["result"]["resultJson"]) == {"seen": list(range(ITEMS))}
    logged = list(svc.log.items(execution_id))
    checkpoints = [item for item in logged if not item.ended]
    deltas = [item for item in checkpoints if item.base is not None]
    fulls = [item for item in checkpoints if item.base is None]
    assert len(checkpoints) >= ITEMS // 4 and len(deltas) > len(fulls)
    # Every delta builds on the newest full machine before it, and is small beside it.
    for delta in deltas:
        base = max(item.seq for item in fulls if item.seq < delta.seq)
        assert delta.base == base
        assert _machine_bytes(svc, execution_id, delta.seq) < _machine_bytes(
            svc, execution_id, base
        )
    history = queries.history(svc, execution_id, size=None, token=None)["entries"]
    assert len(history) == 1 + 2 * ITEMS
