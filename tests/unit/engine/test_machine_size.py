"""The machine grows with the work it describes, not with threads times state: the top-level state
is held once, an ended branch or item keeps only its result, an advance copies nothing whole.
Snapshots written before these rules resume and end as they would have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepline import engine
from stepline.engine import machine as engine_machine
from stepline.yawl import load
from tests.unit.engine.foreach_scale import NOW, drive, foreach_input, foreach_spec

OLD = json.loads((Path(__file__).parent / "data" / "old_snapshots.json").read_text())
OLD_SPEC = load(OLD["spec"])
ITEMS = 1000
PADDING = 2000  # bytes of configuration in the top-level state that no item needs


@pytest.fixture(autouse=True)
def _no_step_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Foreach of ITEMS calls runs more steps than an execution may: lift the quota."""
    monkeypatch.setattr(engine_machine, "MAX_STEPS", 10 * ITEMS)


def _half_way(items: int = ITEMS, concurrency: int = 10) -> tuple[dict[str, Any], engine.Advance]:
    """The machine (through JSON, as a log item stores it) once half the calls are answered,
    and how the run ended."""
    seen: list[dict[str, Any]] = []
    ended = drive(
        foreach_spec(concurrency),
        foreach_input(items, PADDING),
        at_half=lambda machine: seen.append(json.loads(json.dumps(machine))),
        items=items,
    )
    return seen[0], ended


def _children(machine: dict[str, Any]) -> list[dict[str, Any]]:
    task = machine["root"]["task"]
    assert task["kind"] == "foreach"
    return task["children"]  # type: ignore[no-any-return]


def test_a_half_done_foreach_holds_the_top_level_state_once() -> None:
    machine, ended = _half_way()
    text = json.dumps(machine)

    # The padding is in the state twice: as ``config``, and within ``input``.
    assert text.count("x" * PADDING) == 2
    assert '"global"' not in text
    assert ended.machine["outcome"]["status"] == "FINISHED"


def test_a_half_done_foreach_snapshot_is_linear_in_its_items() -> None:
    machine, _ = _half_way()
    top_level = len(json.dumps(foreach_input(ITEMS, PADDING)))

    # The state (with the input inside it), the Foreach's recorded input, and per item its
    # thread or its result: a few hundred bytes an item, where a copy of the state was 60 kB.
    assert len(json.dumps(machine)) < 3 * top_level + 150 * ITEMS


def test_an_ended_item_keeps_only_its_result() -> None:
    machine, _ = _half_way()
    children = _children(machine)
    ended = [c for c in children if c["done"]]

    assert len(ended) >= ITEMS // 2 - 10
    assert all(c == {"done": True, "result": {"out": c["result"]["out"]}} for c in ended)
    task = machine["root"]["task"]
    assert len(task["running"]) <= 10
    assert task["next"] == len(ended) + len(task["running"])


def test_the_foreach_result_is_every_items_result_in_order() -> None:
    _, ended = _half_way(items=50, concurrency=7)
    results = ended.machine["outcome"]["result"]["results"]
    assert len(results) == 50 and results == sorted(results)


def test_an_ended_branch_keeps_only_its_name_and_result() -> None:
    spec = load(
        r"""
yawl: "0.1"
start: both
steps:
  both:
    parallel:
      branches:
        quick: {start: say, steps: {say: {noOp: {output: '\({said: $global.input.who})'}}}}
        slow:
          start: call
          steps:
            call: {functionCall: {functionId: stepline-echo}}
"""
    )
    adv = engine.advance(spec, engine.new_machine({"who": "ann"}), NOW)

    quick, slow = adv.machine["root"]["task"]["children"]
    assert quick == {"done": True, "result": {"said": "ann"}, "name": "quick"}
    assert slow["name"] == "slow" and not slow["done"]
    (call,) = adv.calls
    adv = engine.advance(spec, adv.machine, NOW, {call.n: engine.CallResult(output={"o": 1})})
    assert adv.machine["outcome"]["result"] == {"quick": {"said": "ann"}, "slow": {"o": 1}}


def test_an_advance_works_on_the_machine_it_is_given() -> None:
    machine = engine.new_machine(foreach_input(3), "swtest-own")
    adv = engine.advance(foreach_spec(), machine, NOW)
    assert adv.machine is machine and adv.calls


def test_fail_leaves_the_machine_it_is_given_as_it_was() -> None:
    from stepline.yawl.errors import StepFailure, WorkflowErrorCode

    adv = engine.advance(foreach_spec(), engine.new_machine(foreach_input(3)), NOW)
    before = json.dumps(adv.machine, sort_keys=True)
    failure = StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, "gone")

    failed = engine.fail(adv.machine, failure, NOW)

    assert json.dumps(adv.machine, sort_keys=True) == before
    assert failed["entries"] == {} and failed["outcome"]["status"] == "FAILED"


def _answer(call: engine.CallRequest) -> engine.CallResult:
    """How the calls of the recorded run were answered."""
    data = call.step_input
    value = {"v": data["v"]} if "v" in data else {"k": data["k"]}
    return engine.CallResult(output={"out": call.n, **value})


def _run_from(machine: dict[str, Any]) -> tuple[list[dict[str, Any]], Any, list[dict[str, Any]]]:
    """Advance to the end as the recorded run did: the entries, the outcome, the machines."""
    results: dict[int, engine.CallResult] = {}
    finished: list[dict[str, Any]] = []
    machines = []
    while True:
        adv = engine.advance(OLD_SPEC, machine, NOW, results)
        machine = adv.machine
        finished += adv.finished
        machines.append(json.loads(json.dumps(machine)))
        if adv.ended:
            return finished, machine["outcome"], machines
        results = {call.n: _answer(call) for call in adv.calls}


def test_a_run_makes_the_history_the_engine_made_before() -> None:
    finished, outcome, _ = _run_from(engine.new_machine(OLD["input"], "swtest-old"))
    assert finished == OLD["history"]
    assert outcome == OLD["outcome"]


@pytest.mark.parametrize("case", range(len(OLD["cases"])))
def test_a_snapshot_written_before_resumes_and_ends_the_same(case: int) -> None:
    """Each snapshot was taken after one advance of the recorded run (its calls outstanding: a
    resume asks them again); the threads in it each hold a copy of the top-level state."""
    recorded = OLD["cases"][case]
    assert '"global": {' in json.dumps(recorded["snapshot"])

    finished, outcome, machines = _run_from(json.loads(json.dumps(recorded["snapshot"])))

    assert finished == recorded["after"]
    assert outcome == OLD["outcome"]
    assert '"global"' not in json.dumps(machines[0])  # the first advance compacts it
