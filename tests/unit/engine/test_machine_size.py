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


def _records(machine: engine.Machine) -> dict[str, Any]:
    """The machine's records as a full checkpoint stores them (through JSON)."""
    return json.loads(json.dumps(engine.snapshot(machine.model_copy(deep=True))))  # type: ignore[no-any-return]


def _half_way(items: int = ITEMS, concurrency: int = 10) -> tuple[dict[str, Any], engine.Advance]:
    """The machine's records (through JSON, as a log item stores them) once half the calls
    are answered, and how the run ended."""
    seen: list[dict[str, Any]] = []
    ended = drive(
        foreach_spec(concurrency),
        foreach_input(items, PADDING),
        at_half=lambda machine: seen.append(_records(machine)),
        items=items,
    )
    return seen[0], ended


def _item(records: dict[str, Any], i: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Item ``i``'s thread records (bookkeeping, data), None when it has not started."""
    path = f"each[{i}]/"
    if f"t:{path}" not in records:
        return None
    return records[f"t:{path}"], records[f"d:{path}"]


def test_a_half_done_foreach_holds_the_top_level_state_once() -> None:
    records, ended = _half_way()
    text = json.dumps(records)

    # The padding is in the state twice: as ``config``, and within ``input``.
    assert text.count("x" * PADDING) == 2
    assert '"global"' not in text
    assert engine.outcome(ended.machine)["status"] == "FINISHED"  # type: ignore[index]


def test_a_half_done_foreach_snapshot_is_linear_in_its_items() -> None:
    records, _ = _half_way()
    top_level = len(json.dumps(foreach_input(ITEMS, PADDING)))

    # The state (with the input inside it), the Foreach's items, and per item started its
    # thread or its result: under a hundred bytes an item, where a copy of the state was 60 kB.
    assert len(json.dumps(records)) < 2 * top_level + 100 * ITEMS


def test_an_ended_item_keeps_only_its_result() -> None:
    records, _ = _half_way()
    items = [_item(records, i) for i in range(ITEMS)]
    ended = [item for item in items if item is not None and item[0]["done"]]
    running = [item for item in items if item is not None and not item[0]["done"]]

    assert len(ended) >= ITEMS // 2 - 10
    assert all(meta == {"done": True} and list(data) == ["result"] for meta, data in ended)
    task = records["t:"]["task"]
    assert len(task["running"]) == len(running) <= 10
    assert task["next"] == len(ended) + len(running)


def test_the_foreach_result_is_every_items_result_in_order() -> None:
    _, ended = _half_way(items=50, concurrency=7)
    results = engine.outcome(ended.machine)["result"]["results"]  # type: ignore[index]
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

    records = _records(adv.machine)
    assert records["t:both/quick/"] == {"done": True, "name": "quick"}
    assert records["d:both/quick/"] == {"result": {"said": "ann"}}
    assert records["t:both/slow/"]["name"] == "slow" and not records["t:both/slow/"]["done"]
    (call,) = adv.calls
    adv = engine.advance(spec, adv.machine, NOW, {call.n: engine.CallResult(output={"o": 1})})
    outcome = engine.outcome(adv.machine)
    assert outcome == {"status": "FINISHED", "result": {"quick": {"said": "ann"}, "slow": {"o": 1}}}
    assert not any(key.startswith(("t:both/", "d:both/")) for key in _records(adv.machine))


def test_an_advance_works_on_the_machine_it_is_given() -> None:
    machine = engine.new_machine(foreach_input(3), "swtest-own")
    adv = engine.advance(foreach_spec(), machine, NOW)
    assert adv.machine is machine and adv.calls


def test_fail_ends_the_machine_failed_with_nothing_open() -> None:
    from stepline.yawl.errors import StepFailure, WorkflowErrorCode

    adv = engine.advance(foreach_spec(), engine.new_machine(foreach_input(3)), NOW)
    assert engine.open_entries(adv.machine)
    failure = StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, "gone")

    failed = engine.fail(adv.machine, failure, NOW)

    assert engine.open_entries(failed) == []
    assert engine.outcome(failed) == {
        "status": "FAILED",
        "error": {"message": "gone", "errorCode": "STEP_INVALID_ARGUMENT"},
    }


def _answer(call: engine.CallRequest) -> engine.CallResult:
    """How the calls of the recorded run were answered."""
    data = call.step_input
    value = {"v": data["v"]} if "v" in data else {"k": data["k"]}
    return engine.CallResult(output={"out": call.n, **value})


def _run_from(
    machine: engine.Machine,
) -> tuple[list[dict[str, Any]], Any, list[dict[str, Any]]]:
    """Advance to the end as the recorded run did: the entries, the outcome, the records."""
    results: dict[int, engine.CallResult] = {}
    finished: list[dict[str, Any]] = []
    machines = []
    while True:
        adv = engine.advance(OLD_SPEC, machine, NOW, results)
        machine = adv.machine
        finished += adv.finished
        machines.append(_records(machine))
        if adv.ended:
            return finished, engine.outcome(machine), machines
        results = {call.n: _answer(call) for call in adv.calls}


def test_a_run_makes_the_history_the_engine_made_before() -> None:
    finished, outcome, _ = _run_from(engine.new_machine(OLD["input"], "swtest-old"))
    assert finished == OLD["history"]
    assert outcome == OLD["outcome"]


@pytest.mark.parametrize("case", range(len(OLD["cases"])))
def test_a_snapshot_written_before_resumes_and_ends_the_same(case: int) -> None:
    """Each snapshot was taken after one advance of the recorded run (its calls outstanding: a
    resume asks them again); the threads in it each hold a copy of the top-level state, inside
    the tasks of their parents."""
    recorded = OLD["cases"][case]
    assert '"global": {' in json.dumps(recorded["snapshot"])

    machine = engine.load(json.loads(json.dumps(recorded["snapshot"])))
    finished, outcome, machines = _run_from(machine)

    assert finished == recorded["after"]
    assert outcome == OLD["outcome"]
    assert '"global"' not in json.dumps(machines[0])


def test_a_checkpoint_holds_what_the_advance_changed_whatever_has_finished() -> None:
    """The changes of each batch of a Foreach: the same size early and late in the run, and a
    small part of the whole machine."""
    spec, machine = foreach_spec(10), engine.new_machine(foreach_input(ITEMS, PADDING), "swtest-d")
    results: dict[int, engine.CallResult] = {}
    sizes, full = [], 0
    while True:
        adv = engine.advance(spec, machine, NOW, results)
        if adv.ended:
            break
        if full == 0:
            full = len(json.dumps(engine.snapshot(machine)))
        else:
            sizes.append(len(json.dumps(engine.changes(machine))))
        results = {call.n: engine.CallResult(output={"out": call.n}) for call in adv.calls}

    tenth = len(sizes) // 10
    early, late = sum(sizes[:tenth]) / tenth, sum(sizes[-tenth:]) / tenth
    assert 1 / 1.5 < late / early < 1.5
    assert max(sizes) < full / 20
