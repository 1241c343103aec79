"""How the engine scales with the size of a Foreach: CPU per item and snapshot bytes.

Not a test (no timing is asserted anywhere): run it by hand, on one machine, before and after a
change to the engine::

    .venv/bin/python tests/unit/engine/foreach_scale.py 100 1000 10000

It drives the engine alone, as the runner does (advance, perform the calls, feed their results
back as :class:`CallResult`), over a Foreach of N FunctionCalls whose items come from the
execution input (so the root state grows with N), and reports the runner-less CPU per item and
the JSON size of the machine when half the items have finished. The unit tests reuse
:func:`drive` to check the shape of snapshots without timing anything.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stepline import engine
from stepline.engine import machine as engine_machine
from stepline.yawl import Workflow, load

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def foreach_spec(concurrency: int = 10) -> Workflow:
    """A Foreach over ``.items`` whose body is one FunctionCall; the results collected."""
    return load(
        f"""
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\\(.items)'
      output: '\\({{results: [.[].out]}})'
      concurrency: {concurrency}
      do:
        start: call
        steps:
          call:
            functionCall:
              functionId: stepline-echo
      next: done
  done:
    success: {{}}
"""
    )


def foreach_input(items: int, padding: int = 200) -> dict[str, Any]:
    """An execution input with ``items`` small objects and some shared configuration."""
    return {
        "items": [{"i": i, "name": f"item-{i}"} for i in range(items)],
        "config": {"note": "x" * padding},
    }


def drive(
    spec: Workflow,
    execution_input: Any,
    *,
    at_half: Callable[[engine_machine.Machine], None] | None = None,
    items: int = 0,
) -> engine.Advance:
    """Run the execution to its end, each call answering ``{"out": <its entry number>}``.

    ``at_half`` sees the machine once ``items // 2`` calls have been answered.
    """
    machine = engine.new_machine(execution_input, "swtest-scale")
    results: dict[int, engine.CallResult] = {}
    answered, seen_half = 0, at_half is None
    while True:
        adv = engine.advance(spec, machine, NOW, results)
        machine = adv.machine
        if not seen_half and answered >= items // 2:
            seen_half = True
            assert at_half is not None
            at_half(machine)
        if adv.ended:
            return adv
        assert adv.calls, "the execution waits for nothing but calls"
        results = {call.n: engine.CallResult(output={"out": call.n}) for call in adv.calls}
        answered += len(results)


def measure(items: int, concurrency: int = 10) -> dict[str, Any]:
    """CPU ms per item for the whole run; at the half-way point, the snapshot's JSON bytes and
    the CPU ms of reading it back and advancing once (what a resuming invocation pays)."""
    spec, execution_input = foreach_spec(concurrency), foreach_input(items)
    half: dict[str, int] = {}

    def at_half(machine: engine_machine.Machine) -> None:
        before = time.process_time()
        copy = machine.model_copy(deep=True)
        text = json.dumps(engine.snapshot(copy), ensure_ascii=False, separators=(",", ":"))
        half["bytes"] = len(text)
        # As an invocation that resumes from the log: the snapshot read back, then one advance.
        resumed = time.process_time()
        engine.advance(spec, engine.load(json.loads(text), engine.open_entries(copy)), NOW)
        half["resume_us"] = int((time.process_time() - resumed) * 1e6)
        half["aside_us"] = int((time.process_time() - before) * 1e6)

    limit = engine_machine.MAX_STEPS
    engine_machine.MAX_STEPS = 10 * items + 100  # the quota would stop a large Foreach
    try:
        start = time.process_time()
        adv = drive(spec, execution_input, at_half=at_half, items=items)
        cpu = time.process_time() - start - half["aside_us"] / 1e6
    finally:
        engine_machine.MAX_STEPS = limit
    outcome = engine.outcome(adv.machine)
    assert outcome is not None and outcome["status"] == "FINISHED", outcome
    return {
        "items": items,
        "concurrency": concurrency,
        "cpu_ms_per_item": round(cpu * 1000 / items, 3),
        "snapshot_bytes_at_half": half["bytes"],
        "resume_ms_at_half": round(half["resume_us"] / 1000, 1),
    }


def main(argv: list[str]) -> None:
    """Print one JSON line per size given (default: 100 1000 10000)."""
    concurrency = 10
    sizes = []
    for arg in argv:
        if arg.startswith("-c"):
            concurrency = int(arg[2:])
        else:
            sizes.append(int(arg))
    for items in sizes or [100, 1000, 10000]:
        print(json.dumps(measure(items, concurrency)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
