"""Redrive reopens exactly the failed and unfinished work of an ended machine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stepline import engine
from stepline.engine import CallResult
from stepline.yawl import load

NOW = datetime(2026, 12, 1, tzinfo=UTC)

CALL_THEN_NEXT = """
yawl: '0.1'
start: call
steps:
  call:
    functionCall:
      functionId: f
      next: after
  after:
    noOp: {output: '\\({after: true})'}
"""
FOREACH = """
yawl: '0.1'
start: each
steps:
  each:
    foreach:
      input: '\\([{k: 1}, {k: 2}, {k: 3}, {k: 4}])'
      output: '\\({results: .})'
      concurrency: 2
      do:
        start: call
        steps:
          call:
            functionCall: {functionId: f, input: '\\({item: .k})'}
"""
PARALLEL = """
yawl: '0.1'
start: par
steps:
  par:
    parallel:
      branches:
        a:
          start: nap
          steps:
            nap: {wait: {duration: 1s, next: call}}
            call: {functionCall: {functionId: a}}
        b: {start: call, steps: {call: {functionCall: {functionId: b}}}}
      next: done
  done:
    noOp: {}
"""
FAIL = """
yawl: '0.1'
start: ok
steps:
  ok:
    noOp: {next: stop}
  stop:
    fail: {errorMessage: explicit}
"""
ONE_WHILE = """
yawl: '0.1'
start: loop
steps:
  loop:
    while:
      condition: '.n < 3'
      input: '\\({n: (.n + 1)})'
      do:
        start: call
        steps:
          call:
            functionCall: {functionId: f, input: '\\({n: .n})', output: '\\({n: .n})'}
"""

Answer = Callable[[engine.CallRequest], CallResult]


def run(
    spec: Any, machine: engine.Machine, answer: Answer, calls: Counter[str]
) -> tuple[engine.Machine, list[dict[str, Any]]]:
    """Advance to the end, every call answered by ``answer``; the machine (stored and loaded
    again, as the log keeps it) and the entries that ended."""
    entries: list[dict[str, Any]] = []
    results: dict[int, CallResult] = {}
    now = NOW
    while True:
        adv = engine.advance(spec, machine, now, results)
        machine, results = adv.machine, {}
        entries += adv.finished
        if adv.ended:
            return engine.load(engine.snapshot(machine)), entries
        for call in adv.calls:
            calls[call.entry_id] += 1
            results[call.n] = answer(call)
        if adv.wake_at is not None and not adv.calls:
            now = adv.wake_at


def ok(call: engine.CallRequest) -> CallResult:
    return CallResult(output={"from": call.entry_id, "input": call.step_input})


def failing(*entry_ids: str, item: Any = None) -> Answer:
    def answer(call: engine.CallRequest) -> CallResult:
        if call.entry_id in entry_ids or (item is not None and call.step_input == {"item": item}):
            return CallResult(code="STEP_INTERNAL", message="down")
        return ok(call)

    return answer


def redriven(spec: Any, machine: engine.Machine, count: int = 1) -> engine.Machine:
    out = engine.redrive(spec, machine, NOW, count)
    (marker,) = out.finished
    assert marker["id"] == engine.redrive_entry_id(count)
    assert marker["type"] == engine.REDRIVE_ENTRY_TYPE and marker["status"] == "COMPLETED"
    assert engine.outcome(out.machine) is None
    return engine.load(engine.snapshot(out.machine), engine.open_entries(out.machine))


def test_a_failed_call_runs_again_from_its_first_attempt_and_the_steps_before_do_not() -> None:
    spec = load(CALL_THEN_NEXT)
    calls: Counter[str] = Counter()
    ended, entries = run(spec, engine.new_machine({}), failing("call"), calls)
    assert engine.outcome(ended)["status"] == "FAILED"  # type: ignore[index]
    assert calls["call"] == 1 and [e["status"] for e in entries] == ["FAILED"]

    machine, entries = run(spec, redriven(spec, ended), ok, calls)

    assert engine.outcome(machine) == {"status": "FINISHED", "result": {"after": True}}
    assert calls["call"] == 2
    first = next(e for e in entries if e["id"] == "call")
    assert first["status"] == "COMPLETED" and first["attempts"] == 1


def test_a_foreach_runs_only_its_failed_and_unfinished_items_again() -> None:
    spec = load(FOREACH)
    calls: Counter[str] = Counter()
    ended, _ = run(spec, engine.new_machine({}), failing(item=2), calls)
    assert engine.outcome(ended)["status"] == "FAILED"  # type: ignore[index]
    before = dict(calls)

    machine, _ = run(spec, redriven(spec, ended), ok, calls)

    outcome = engine.outcome(machine)
    assert outcome is not None and outcome["status"] == "FINISHED"
    items = [r["input"]["item"] for r in outcome["result"]["results"]]
    assert items == [1, 2, 3, 4]
    again = {k: calls[k] - before.get(k, 0) for k in calls}
    assert again["each[0]/call"] == 0  # item 1 finished before the failure: not run again
    assert again["each[1]/call"] == 1  # the failed item
    assert sum(again.values()) == 3  # and the two items that never finished (or started)


def test_a_parallel_runs_only_its_failed_branch_again() -> None:
    spec = load(PARALLEL)
    calls: Counter[str] = Counter()
    ended, _ = run(spec, engine.new_machine({}), failing("par/a/call"), calls)
    assert calls == {"par/a/call": 1, "par/b/call": 1}

    machine, entries = run(spec, redriven(spec, ended), ok, calls)

    assert calls == {"par/a/call": 2, "par/b/call": 1}
    assert engine.outcome(machine)["status"] == "FINISHED"  # type: ignore[index]
    assert [e["id"] for e in entries] == ["par/a/call", "par", "done"]


def test_a_fail_step_fails_again() -> None:
    spec = load(FAIL)
    ended, entries = run(spec, engine.new_machine({}), ok, Counter())
    assert [(e["id"], e["status"]) for e in entries] == [("ok", "COMPLETED"), ("stop", "FAILED")]

    machine, entries = run(spec, redriven(spec, ended), ok, Counter())

    assert engine.outcome(machine) == {
        "status": "FAILED",
        "error": {"message": "explicit", "errorCode": "STEP_FAIL"},
    }
    assert [(e["id"], e["status"]) for e in entries] == [("stop", "FAILED")]


def test_a_while_keeps_its_finished_iterations() -> None:
    spec = load(ONE_WHILE)
    calls: Counter[str] = Counter()
    ended, _ = run(spec, engine.new_machine({"n": 0}), failing("loop[1]/call"), calls)
    assert calls == {"loop[0]/call": 1, "loop[1]/call": 1}

    answer = lambda call: CallResult(output=call.step_input)  # noqa: E731
    machine, _ = run(spec, redriven(spec, ended), answer, calls)

    assert calls["loop[0]/call"] == 1 and calls["loop[1]/call"] == 2
    assert engine.outcome(machine)["status"] == "FINISHED"  # type: ignore[index]


def test_a_stopped_machine_restarts_the_calls_it_was_making() -> None:
    spec = load(FOREACH)
    machine = engine.new_machine({})
    adv = engine.advance(spec, machine, NOW)
    assert len(adv.calls) == 2
    engine.cancel_open(adv.machine, NOW)  # Stop: what is open closes
    stopped = engine.load(engine.snapshot(adv.machine))

    calls: Counter[str] = Counter()
    done, _ = run(spec, redriven(spec, stopped, count=2), ok, calls)

    assert calls == {f"each[{i}]/call": 1 for i in range(4)}
    assert engine.outcome(done)["status"] == "FINISHED"  # type: ignore[index]
