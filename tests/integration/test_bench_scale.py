"""``python -m stepline.bench scale`` runs every case and reports per-item figures."""

from __future__ import annotations

from stepline.bench import scale


def test_every_case_runs_to_its_end_and_reports_per_item_figures() -> None:
    sizes = {"foreach": [5, 15], "while": [5, 15], "outputs": [1, 50]}

    rows = scale.measure(list(scale.CASES.values()), sizes)

    assert [(r["case"], r["size"]) for r in rows] == [
        (case, n) for case in scale.CASES for n in sizes[case]
    ]
    for row in rows:
        assert row["status"] == "FINISHED", row
        assert row["write_units_per_item"] > 0 and row["read_units_per_item"] > 0
        assert row["checkpoints"] >= 1 and row["checkpoint_max_bytes"] > 0
    assert all(r["ratio"]["runner_ms_per_item"] == 1.0 for r in rows if r["size"] in (5, 1))
    assert "ratio ms/WRU/RRU" in scale.table(rows)
