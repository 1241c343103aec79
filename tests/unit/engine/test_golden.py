"""The golden histories of ``tests/golden`` on the engine alone: no AWS, no sleeps, no network.

Each case runs through :class:`tests.unit.engine.driver.Driver` with the functions of
``tests/functions`` called in this process, and must give what a user sees at the end of the
same case on the stack (``tests/integration/test_runner.py::test_golden_workflow``): status,
result, error and history, compared with the same expected files.

Then every case runs again with its advances cut small (a ``pause`` that lets one, two or three
new steps start per advance), and must give the same: how a runner cuts an advance is none of
the history's business. When the calls of a cut advance are made before the next one (as the
runner does when its time budget runs out before its first batch of calls), the results come
back earlier than in one whole advance: the same steps must run to the same end, and where
their start order changes, ``ORDER_CHANGES`` says so and why.
"""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.engine.driver import START, Driver, Run, load_handlers

TESTS = Path(__file__).parents[2]
GOLDEN = TESTS / "golden"
FUNCTIONS = TESTS / "functions"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))


@pytest.fixture(autouse=True)
def _no_sleep_and_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may sleep or connect: time is the driver's, functions run in-process."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a golden case slept or opened a connection")

    monkeypatch.setattr(time, "sleep", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _run(case: str, **options: Any) -> Run:
    """Run a golden case with fresh functions (stepline-flaky counts its calls from zero)."""
    driver = Driver(
        (GOLDEN / f"{case}.yaml").read_text(),
        load_handlers(FUNCTIONS),
        execution_id=f"golden-{case}",
        **options,
    )
    return driver.run(json.loads((GOLDEN / f"{case}.input.json").read_text()))


def _summary(run: Run) -> dict[str, Any]:
    """What a user sees at the end, without times, as the stack's golden test takes it."""
    summary: dict[str, Any] = {"status": run.outcome["status"]}
    if "result" in run.outcome:
        summary["result"] = _scrub(run.outcome["result"])
    if "error" in run.outcome:
        summary["error"] = run.outcome["error"]
    summary["history"] = [
        {k: _scrub(v) for k, v in entry.items() if k not in ("startedAt", "duration")}
        for entry in run.history()
    ]
    return summary


def _scrub(value: Any) -> Any:
    """Drop the per-run suffix of flaky-function keys, as the stack's test does (its runs
    share one function instance; here the keys come as the input gives them)."""
    return json.loads(re.sub(r"(retry-golden)-[0-9a-f]{6}", r"\1", json.dumps(value)))


def _expected(case: str) -> Any:
    return json.loads((GOLDEN / f"{case}.expected.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_golden_case_gives_the_stacks_history_on_the_engine_alone(case: str) -> None:
    assert _summary(_run(case)) == _expected(case)


@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize("case", CASES)
def test_golden_case_gives_the_same_history_however_its_advances_are_cut(
    case: str, steps: int
) -> None:
    cut = _run(case, steps_per_advance=steps)

    assert _summary(cut) == _expected(case)
    if steps == 1:  # every step started in an advance of its own
        assert cut.advances >= len(cut.entries)


@pytest.mark.parametrize("steps", [None, 1])
@pytest.mark.parametrize("case", CASES)
def test_golden_case_gives_the_same_history_resumed_from_its_checkpoints(
    case: str, steps: int | None
) -> None:
    """After every advance the machine is stored as what changed, folded, and loaded back:
    the folded changes equal the machine in full, and the run ends as an uncut one does."""
    assert _summary(_run(case, steps_per_advance=steps, reload=True)) == _expected(case)


def _but_history(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "history"}


def _unordered(history: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(entry, sort_keys=True) for entry in history)


@pytest.mark.parametrize("case", CASES)
def test_golden_case_runs_the_same_steps_when_calls_come_between_cut_advances(case: str) -> None:
    cut = _summary(_run(case, steps_per_advance=1, calls_when_paused=True))
    expected = _expected(case)

    assert _but_history(cut) == _but_history(expected)
    assert _unordered(cut["history"]) == _unordered(expected["history"])


def _by_scope(history: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Entry ids in start order, per scope (the thread a step runs in: its id's prefix)."""
    scopes: dict[str, list[str]] = {}
    for entry in history:
        scope, _, _ = entry["id"].rpartition("/")
        scopes.setdefault(scope, []).append(entry["id"])
    return scopes


@pytest.mark.parametrize("case", CASES)
def test_golden_case_keeps_each_scopes_order_when_calls_come_between_cut_advances(
    case: str,
) -> None:
    """Within a thread the steps start in the order of an uncut run. Across Parallel branches
    the order may differ: each advance starts new steps depth-first from the first branch, so
    with one start per advance an earlier branch takes the starts until it has none to make."""
    cut = _summary(_run(case, steps_per_advance=1, calls_when_paused=True))

    assert _by_scope(cut["history"]) == _by_scope(_expected(case)["history"])


@pytest.mark.parametrize(
    ("case", "seconds"),
    [
        ("wait", 30),  # wait: {duration: 30s}
        ("retry", 1 + 2),  # two retries: initialDelay 1s, backoffRate 2
        ("timeout", 1),  # stepline-slow sleeps 3 s; the step gives up at its 1 s timeout
    ],
)
def test_waits_retry_delays_and_timeouts_take_virtual_time(case: str, seconds: int) -> None:
    assert _run(case).ended_at - START == timedelta(seconds=seconds)
