"""The execution log on moto: what an append stores is what the runner reads back."""

from __future__ import annotations

import uuid
from typing import Any

from stepline.store import keys
from stepline.store.log import LogItem, unpacked


def _entry(n: int, status: str) -> dict[str, Any]:
    return {
        "n": n,
        "id": f"step{n}",
        "type": "FunctionCall",
        "status": status,
        "startedAt": "2026-11-28T10:00:00.000000Z",
        "attempts": 1,
        "input": {"inputJson": '{"orderId": 42, "lines": [1, 2, 3]}'},
    }


def test_items_read_back_as_written_full_and_as_deltas(svc: Any) -> None:
    execution_id = f"swlog{uuid.uuid4().hex[:10]}-{uuid.uuid4()}"
    open_entry = _entry(2, "STARTED")
    records = {
        "machine": {"id": execution_id, "n": 2, "steps": 2},
        "t:": {"done": False, "step": "step2", "task": {"kind": "new", "n": 2}},
        "d:": {"state": {"orderId": 42}},
    }
    full = LogItem(
        seq=0,
        by=0,
        at="2026-11-28T10:00:01.000000Z",
        entries=[_entry(1, "COMPLETED")],
        open=[open_entry],
        machine=records,
        full=120,
        wake="2026-11-28T10:00:02.000000Z",
    )
    deltas = [
        LogItem(
            seq=seq,
            by=seq,
            at="2026-11-28T10:00:03.000000Z",
            open=[open_entry],
            delta={"machine": {"id": execution_id, "n": 2, "steps": 2}, "d:": None},
            base=0,
            chain=40 * seq,
            full=120,
        )
        for seq in (1, 2)
    ]

    for item in (full, *deltas):
        svc.log.append(execution_id, item)

    assert svc.log.last(execution_id) == deltas[-1]
    assert svc.log.span(execution_id, 0, 2) == [full, *deltas]
    assert svc.log.span(execution_id, 1, 1) == deltas[:1]
    stored = svc.log.table.get(keys.history_item(execution_id, 0))
    assert stored is not None
    assert "machineZ" in stored and "openZ" in stored  # compressed
    assert unpacked(stored, "machine", None) == records


def test_an_ended_item_with_a_large_history_stays_small(svc: Any) -> None:
    execution_id = f"swlog{uuid.uuid4().hex[:10]}-{uuid.uuid4()}"
    entries = [_entry(n, "COMPLETED") for n in range(1, 41)]
    item = LogItem(
        seq=0,
        by=0,
        at="2026-11-28T10:00:01.000000Z",
        entries=entries,
        machine={"outcome": {"status": "FINISHED", "result": {"ok": True}}},
        ended=True,
    )

    svc.log.append(execution_id, item)

    read = list(svc.log.items(execution_id))
    assert [e["n"] for e in read[0].entries] == list(range(1, 41))
    stored = svc.log.table.get(keys.history_item(execution_id, 0))
    assert stored is not None
    size = sum(
        len(k) + len(bytes(getattr(v, "value", v))) for k, v in stored.items() if k.endswith("Z")
    )
    assert size < 1024  # one write unit for 40 entries


def test_an_item_with_a_delta_keeps_only_the_open_entries_that_changed(svc: Any) -> None:
    execution_id = f"swlog{uuid.uuid4().hex[:10]}-{uuid.uuid4()}"
    big = {
        **_entry(1, "STARTED"),
        "type": "Foreach",
        "input": {"inputJson": "[" + "1," * 5000 + "1]"},
    }
    first = LogItem(seq=0, by=0, at="2026-11-28T10:00:01.000000Z", open=[big], machine={"m": 1})
    retried = {**_entry(2, "STARTED"), "attempts": 2}
    items = [
        first,
        LogItem(
            seq=1,
            by=1,
            at="2026-11-28T10:00:02.000000Z",
            open=[_entry(2, "STARTED")],
            open_ids=[1, 2],
            delta={"m": 2},
            base=0,
        ),
        LogItem(
            seq=2,
            by=2,
            at="2026-11-28T10:00:03.000000Z",
            entries=[{**retried, "status": "COMPLETED"}],
            open=[],
            open_ids=[1],
            delta={"m": 3},
            base=0,
        ),
    ]
    for item in items:
        svc.log.append(execution_id, item)

    # Each item is stored with what changed; every reader sees the open entries whole.
    stored = svc.log.table.get(keys.history_item(execution_id, 1))
    assert stored is not None and unpacked(stored, "open", None) == [_entry(2, "STARTED")]
    read = list(svc.log.items(execution_id))
    assert [[e["n"] for e in item.open] for item in read] == [[1], [1, 2], [1]]
    assert all(item.open_ids is None for item in read)
    last = svc.log.last(execution_id)
    assert last is not None and last.open == [big]
    assert [item.seq for item in last.before] == [0, 1]
    assert [[e["n"] for e in item.open] for item in svc.log.span(execution_id, 0, 2)] == [
        [1],
        [1, 2],
        [1],
    ]
