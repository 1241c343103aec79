"""``python -m stepline.bench scale`` runs every case and reports per-item figures."""

from __future__ import annotations

import zlib
from typing import Any

from stepline.bench import cost, scale


def test_every_case_runs_to_its_end_and_reports_per_item_figures() -> None:
    sizes = {"foreach": [5, 15], "foreach-park": [10, 30], "while": [5, 15], "outputs": [1, 50]}

    rows = scale.measure(list(scale.CASES.values()), sizes)

    assert [(r["case"], r["size"]) for r in rows] == [
        (case, n) for case in scale.CASES for n in sizes[case]
    ]
    for row in rows:
        assert row["status"] == "FINISHED", row
        assert row["write_units_per_item"] > 0 and row["read_units_per_item"] > 0
        assert row["checkpoints"] >= 1 and row["checkpoint_max_bytes"] > 0
        assert row["runner_cpu_ms_per_item"] > 0 and row["history_mean_bytes"] > 0
    firsts = {(case, ns[0]) for case, ns in sizes.items()}
    assert all(
        r["ratio"]["runner_ms_per_item"] == 1.0 for r in rows if (r["case"], r["size"]) in firsts
    )
    assert "ratio ms/cpu/WRU/RRU/snap" in scale.table(rows)


def test_foreach_park_checkpoints_the_half_done_foreach_once_per_wave() -> None:
    case = scale.CASES["foreach-park"]
    size = 3 * scale.PARK_CONCURRENCY

    row = scale.measure_one(case, size)

    assert row["status"] == "FINISHED", row
    # A wave fails, parks, is retried; the next wave starts in the same invocation.
    assert row["snapshots"] >= size // scale.PARK_CONCURRENCY
    assert 0 < row["snapshot_mean_bytes"] <= row["snapshot_max_bytes"]
    assert row["open_mean_bytes"] > 0


def test_the_metered_runner_runs_at_the_time_scale_it_is_given() -> None:
    svc = cost.services_for(_FakeMeter(), _PHYSICAL, time_scale=scale.TIME_SCALE)

    assert svc.settings.time_scale == scale.TIME_SCALE


def test_a_log_item_is_split_into_history_open_entries_and_snapshot_by_attribute_name() -> None:
    item: dict[str, Any] = {
        "PK": {"S": "EX#e1"},
        "SK": {"S": "H#00000003"},
        "entriesZ": {"B": zlib.compress(b"[]")},
        "openRef": {"S": "s3://bucket/executions/e1/log/3-t/open.json"},
        "deltaZ": {"B": b"\x00" * 40},
        "base": {"N": "2"},
        "chain": {"N": "40"},
        "ended": {"BOOL": True},
    }

    parts = scale.checkpoint_of(item, object_size=lambda pointer: 1000)

    assert parts.history == cost.item_size({"entriesZ": item["entriesZ"]})
    assert parts.open == cost.item_size({"openRef": item["openRef"]}) + 1000
    snapshot = {k: item[k] for k in ("deltaZ", "base", "chain")}
    assert parts.snapshot == cost.item_size(snapshot)
    assert parts.other == cost.item_size({k: item[k] for k in ("PK", "SK", "ended")})
    assert (parts.in_bucket, parts.ended) == (1000, True)


def test_snapshots_are_averaged_over_the_items_an_execution_may_go_on_from() -> None:
    appended = [
        scale.Checkpoint(history=10, open=5, snapshot=100, other=50, in_bucket=0, ended=False),
        scale.Checkpoint(history=20, open=5, snapshot=300, other=50, in_bucket=0, ended=False),
        scale.Checkpoint(history=90, open=0, snapshot=8, other=50, in_bucket=0, ended=True),
    ]

    figures = scale.checkpoint_figures(appended)

    assert figures["history_mean_bytes"] == 40
    assert (figures["snapshots"], figures["snapshot_mean_bytes"]) == (2, 200)
    assert figures["snapshot_max_bytes"] == 300


_PHYSICAL = {
    "Table": "t",
    "StepsQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
    "PayloadBucket": "b",
}


class _FakeMeter:
    """Only what ``services_for`` asks of a meter: its client factory."""

    def client(self, service: str) -> Any:
        raise AssertionError("no client is made")
