"""An inline stretch is bounded by time: the runner checkpoints and hands over, losing nothing."""

from __future__ import annotations

from stepline.api import queries
from stepline.service import runner
from stepline.service.deps import Services
from stepline.testing import drive
from tests.integration.conftest import Runs

CHAIN = (
    "yawl: '0.1'\nstart: s0\nsteps:\n"
    + "".join(
        f"  s{i}:\n    noOp: {{output: '\\({{i: {i}}})', next: s{i + 1}}}\n" for i in range(12)
    )
    + "  s12:\n    success: {}\n"
)


def _history(svc: Services, execution_id: str) -> list[tuple[str, str]]:
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    return [(e["id"], e["status"]) for e in entries]


def test_an_invocation_out_of_time_hands_over_and_the_run_ends_as_a_clean_one(
    svc: Services, runs: Runs
) -> None:
    clean = runs.start(CHAIN)
    drive.run_to_end(svc, clean)
    bounded = runs.start(CHAIN)
    invocations = 0

    def out_of_time() -> runner.Invocation:
        nonlocal invocations
        invocations += 1  # each invocation's budget is spent at once: one step, then hand over
        return runner.Invocation(inline_budget=0.0)

    def ended() -> bool:
        record = svc.executions.get(bounded)
        return record is not None and record.status in drive.ENDED

    drive.drain(svc, until=ended, invocation=out_of_time)

    assert invocations == 13
    assert queries.get(svc, bounded)["execution"]["status"] == "FINISHED"
    assert _history(svc, bounded) == _history(svc, clean)
    assert (
        queries.get(svc, bounded)["execution"]["result"]
        == queries.get(svc, clean)["execution"]["result"]
    )


ONE_CALL = (
    "yawl: '0.1'\nstart: compute\nsteps:\n"
    "  compute:\n    functionCall: {functionId: stepline-double, input: '\\({value: 1})'}\n"
)


def test_an_invocation_out_of_time_still_makes_its_first_batch_of_calls(
    svc: Services, runs: Runs
) -> None:
    execution_id = runs.start(ONE_CALL)

    def ended() -> bool:
        record = svc.executions.get(execution_id)
        return record is not None and record.status in drive.ENDED

    drive.drain(
        svc, until=ended, deadline=10.0, invocation=lambda: runner.Invocation(inline_budget=0.0)
    )

    assert queries.get(svc, execution_id)["execution"]["status"] == "FINISHED"
