"""The fault bench, small: every scenario over each golden workflow, against clean runs.

One in-process moto run for the module (``faults.measure``); each scenario's goal figures must
be 0: no execution stuck, no history entry duplicated, no outcome differing from a clean run.
Lost write responses come at 25% rather than the bench's 5%: a dozen executions make about 40
writes, too few for 5% to be sure to hit one. For the same reason lost messages come at 50%
(the runner itself sends only wake-ups and hand-overs: about 6 messages) and poison messages at
25% (about 30 messages).
"""

from __future__ import annotations

from typing import Any

import pytest

from stepline.bench import faults

EXECUTIONS = 12  # every golden workflow once, the first two twice
SCENARIOS = dict(faults.SCENARIOS) | {
    "lost-write-responses": faults.Plan(lose_writes=0.25),
    "lost-messages": faults.Plan(lose_sends=0.5),
    "dead-letters": faults.Plan(poison=0.25),
}
# A livelock shows within a few deliveries: the runs that end need at most 14 (unless killed).
LIMITS = faults.Limits(deadline=30.0, max_deliveries=25)


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    """Every scenario's figures, from one run of the bench."""
    return faults.measure(executions=EXECUTIONS, scenarios=SCENARIOS, seed=0, limits=LIMITS)


CONTROLLED = [name for name, plan in faults.SCENARIOS.items() if plan.control]


@pytest.mark.parametrize("scenario", list(faults.SCENARIOS))
def test_no_execution_is_duplicated_or_different_from_a_clean_run(
    figures: dict[str, Any], scenario: str
) -> None:
    row = figures["scenarios"][scenario]

    assert (row["duplicated"], row["differing"]) == (0, 0), row["problems"]
    assert row["runner_errors"] == 0, row["problems"]


@pytest.mark.parametrize("scenario", list(faults.SCENARIOS))
def test_no_execution_is_stuck(figures: dict[str, Any], scenario: str) -> None:
    row = figures["scenarios"][scenario]

    assert (row["stuck"], row["ended"]) == (0, EXECUTIONS), row["problems"]


@pytest.mark.parametrize("scenario", [s for s in faults.SCENARIOS if s != "clean"])
def test_every_faulty_scenario_injects_faults(figures: dict[str, Any], scenario: str) -> None:
    assert figures["scenarios"][scenario]["faults"] > 0


def test_the_clean_scenario_injects_nothing_and_repeats_no_call(figures: dict[str, Any]) -> None:
    row = figures["scenarios"]["clean"]

    assert (row["faults"], row["repeated_calls"], row["extra_invokes"]) == (0, 0, 0)


def test_the_reconciler_sends_lost_messages_again_and_leaves_clean_runs_alone(
    figures: dict[str, Any],
) -> None:
    rows = figures["scenarios"]

    assert 0 < rows["lost-messages"]["faults"] <= rows["lost-messages"]["redriven"]
    assert rows["clean"]["redriven"] == 0


def test_poison_messages_fail_their_executions_through_the_dead_letter_queue(
    figures: dict[str, Any],
) -> None:
    row = figures["scenarios"]["dead-letters"]

    assert row["dead_lettered"] > 0
    assert row["faults"] >= 5 * row["dead_lettered"]  # 5 receives each before the move
    assert [n for n, r in figures["scenarios"].items() if r["dead_lettered"]] == ["dead-letters"]


def test_the_workflows_are_every_golden_workflow() -> None:
    names = [case.name for case in faults.golden_cases()]

    assert sorted(names) == sorted(p.stem for p in faults.GOLDEN.glob("*.yaml"))
    assert names[: len(faults.CASES)] == list(faults.CASES)


def test_check_fails_only_on_goal_figures() -> None:
    row = dict.fromkeys(("stuck", "duplicated", "differing", "control_errors"), 0)
    row |= {"repeated_calls": 0, "controlled": 0}
    ok = {"scenarios": {"clean": row, "crash": row | {"repeated_calls": 3, "controlled": 5}}}
    bad = {
        "scenarios": {
            "clean": row,
            "out-of-time": row | {"stuck": 1},
            "pause-resume": row | {"control_errors": 1},
        }
    }

    assert faults.failing(ok) == []
    assert faults.failing(bad) == ["out-of-time", "pause-resume"]


@pytest.mark.parametrize("scenario", CONTROLLED)
def test_pause_redrive_and_task_answers_act_and_are_answered_as_the_api_promises(
    figures: dict[str, Any], scenario: str
) -> None:
    row = figures["scenarios"][scenario]

    assert row["controlled"] >= EXECUTIONS // 3, row  # a pause, redrive or answer took effect
    assert row["control_errors"] == 0, row["problems"]


def test_only_the_controlled_scenarios_pause_redrive_or_answer(figures: dict[str, Any]) -> None:
    acted = [name for name, row in figures["scenarios"].items() if row["controlled"]]

    assert acted == CONTROLLED == ["pause-resume", "stop-and-redrive", "task-signals"]
