"""The fault bench, small: every scenario over each golden workflow, against clean runs.

One in-process moto run for the module (``faults.measure``); each scenario's goal figures must
be 0: no execution stuck, no history entry duplicated, no outcome differing from a clean run.
Lost write responses come at 25% rather than the bench's 5%: a dozen executions make about 40
writes, too few for 5% to be sure to hit one.
"""

from __future__ import annotations

from typing import Any

import pytest

from stepline.bench import faults

EXECUTIONS = 12  # every golden workflow once, the first two twice
SCENARIOS = dict(faults.SCENARIOS) | {"lost-write-responses": faults.Plan(lose_writes=0.25)}
# A livelock shows within a few deliveries: the runs that end need at most 14.
LIMITS = faults.Limits(deadline=30.0, max_deliveries=25)


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    """Every scenario's figures, from one run of the bench."""
    return faults.measure(executions=EXECUTIONS, scenarios=SCENARIOS, seed=0, limits=LIMITS)


@pytest.mark.parametrize("scenario", list(faults.SCENARIOS))
def test_no_execution_is_stuck_duplicated_or_different_from_a_clean_run(
    figures: dict[str, Any], scenario: str
) -> None:
    row = figures["scenarios"][scenario]

    assert {goal: row[goal] for goal in faults.GOAL_FIGURES} == dict.fromkeys(
        faults.GOAL_FIGURES, 0
    ), row["problems"]
    assert row["ended"] == EXECUTIONS
    assert row["runner_errors"] == 0, row["problems"]


@pytest.mark.parametrize("scenario", [s for s in faults.SCENARIOS if s != "clean"])
def test_every_faulty_scenario_injects_faults(figures: dict[str, Any], scenario: str) -> None:
    assert figures["scenarios"][scenario]["faults"] > 0


def test_the_clean_scenario_injects_nothing_and_repeats_no_call(figures: dict[str, Any]) -> None:
    row = figures["scenarios"]["clean"]

    assert (row["faults"], row["repeated_calls"], row["extra_invokes"]) == (0, 0, 0)


def test_the_workflows_are_every_golden_workflow() -> None:
    names = [case.name for case in faults.golden_cases()]

    assert sorted(names) == sorted(p.stem for p in faults.GOLDEN.glob("*.yaml"))
    assert names[: len(faults.CASES)] == list(faults.CASES)


def test_check_fails_only_on_goal_figures() -> None:
    row = dict.fromkeys(("stuck", "duplicated", "differing", "repeated_calls"), 0)
    ok = {"scenarios": {"clean": row, "crash": row | {"repeated_calls": 3}}}
    bad = {"scenarios": {"clean": row, "out-of-time": row | {"stuck": 1}}}

    assert faults.failing(ok) == []
    assert faults.failing(bad) == ["out-of-time"]
