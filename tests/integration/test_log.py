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


def test_an_item_reads_back_as_written_with_open_entries_stored_once(svc: Any) -> None:
    execution_id = f"swlog{uuid.uuid4().hex[:10]}-{uuid.uuid4()}"
    open_entry = _entry(2, "STARTED")
    machine = {
        "id": execution_id,
        "root": {"path": "", "scope": [], "step": "step2", "state": {"orderId": 42}},
        "entries": {"2": open_entry},
        "n": 2,
        "steps": 2,
        "outcome": None,
    }
    item = LogItem(
        seq=0,
        by=0,
        at="2026-11-28T10:00:01.000000Z",
        entries=[_entry(1, "COMPLETED")],
        open=[open_entry],
        machine=machine,
        wake="2026-11-28T10:00:02.000000Z",
    )

    svc.log.append(execution_id, item)

    assert svc.log.last(execution_id) == item
    stored = svc.log.table.get(keys.history_item(execution_id, 0))
    assert stored is not None
    assert "machineZ" in stored and "openZ" in stored  # compressed
    assert "entries" not in unpacked(stored, "machine", None)  # the open entry is stored once
    assert svc.log.last(execution_id).machine["entries"] == {"2": open_entry}


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
