"""How the runner's cost grows with a workflow's size: per item, against the smallest size.

Each case runs one execution per size in this process on moto with the real runner, metered
as ``python -m stepline.bench cost`` meters it (:func:`stepline.bench.cost.measure`: every AWS
request counted by the billing rules). Per case and size it prints:

* runner ms per item: the runner's billed milliseconds (its wall time in the invocations,
  the in-process emulator's share of each AWS call included, the meter's own hooks not);
* read and write request units per item (indexes included);
* the largest and the mean log item the runner appended (a checkpoint; parts the payload
  bucket holds not counted);
* wall seconds of the execution;
* the ratio of each per-item figure to the smallest size's, the figure that shows whether a
  case is linear (1.0) or not.

Cases:

* ``foreach``: a Foreach over N items, each a FunctionCall of ``stepline-echo``
  (``tests/functions``);
* ``while``: a While of N iterations, each a FunctionCall of ``stepline-echo``;
* ``outputs``: three NoOp steps, each writing an output of N KB of incompressible text (per
  step, not per item: the ratio shows what large values cost against small ones).

An execution may run at most ``MaxStepsPerExecution`` steps (1,000 by default), every item and
iteration counted: the bench raises the quota (``STEPLINE_MAX_STEPS``, as the runner reads
it) to what the largest size needs, unless the environment sets it; a size beyond the quota
fails its execution, and the row says so.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HELP = "per-item runner time, request units and checkpoint size as workflows grow"
FUNCTIONS = Path(__file__).resolve().parents[3] / "tests" / "functions"


@dataclass(frozen=True)
class Case:
    """A workload whose size is a parameter."""

    name: str
    spec: Callable[[int], str]
    execution_input: Callable[[int], str]
    unit: str
    """What one "item" of the case is."""
    sizes: tuple[int, ...]


def _foreach(n: int) -> str:
    return """\
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\\(.items)'
      output: '\\({count: (. | length)})'
      do:
        start: call
        steps:
          call:
            functionCall: {functionId: stepline-echo, input: '\\({i: .i})'}
"""


def _while(n: int) -> str:
    return f"""\
yawl: "0.1"
start: loop
steps:
  loop:
    while:
      condition: .i < {n}
      maxIterations: {n + 1}
      do:
        start: step
        steps:
          step:
            functionCall:
              functionId: stepline-echo
              input: '\\({{i: .i}})'
              output: '\\({{i: (.echo.i + 1)}})'
      output: '\\({{i: .i}})'
"""


def _outputs(kilobytes: int) -> str:
    return """\
yawl: "0.1"
start: a
steps:
  a:
    noOp: {output: '\\({a: .blob})', next: b}
  b:
    noOp: {output: '\\({b: .blob})', next: c}
  c:
    noOp: {output: '\\({c: .blob})'}
"""


def _blob(kilobytes: int) -> str:
    """Incompressible text of ``kilobytes`` KB (base64 of random bytes), as real data is."""
    return json.dumps({"blob": base64.b64encode(os.urandom(kilobytes * 768)).decode()})


CASES: dict[str, Case] = {
    "foreach": Case(
        "foreach",
        _foreach,
        lambda n: json.dumps({"items": [{"i": i} for i in range(n)]}),
        "item",
        (100, 300, 1000),
    ),
    "while": Case("while", _while, lambda n: json.dumps({"i": 0}), "iteration", (100, 400)),
    "outputs": Case("outputs", _outputs, _blob, "step", (1, 100)),
}


def _items(case: Case, size: int) -> int:
    return 3 if case.name == "outputs" else size


def measure_one(case: Case, size: int) -> dict[str, Any]:
    """One execution of the case at ``size``, metered; its per-item figures."""
    from stepline.bench import cost

    began = time.perf_counter()
    report = cost.measure(
        case.spec(size),
        case.execution_input(size),
        functions=FUNCTIONS,
        workflow_name=f"{case.name}-{size}",
        deadline=3600.0,
    )
    wall = time.perf_counter() - began
    items = _items(case, size)
    ddb = report["dynamodb"]
    writes = ddb["write_units"] + sum(ddb["index_write_units"].values())
    return {
        "size": size,
        "status": ",".join(sorted(report["statuses"])),
        "runner_ms_per_item": report["lambda"]["runner_billed_ms"] / items,
        "write_units_per_item": writes / items,
        "read_units_per_item": ddb["read_units"] / items,
        "checkpoints": report["checkpoints"]["count"],
        "checkpoint_max_bytes": report["checkpoints"]["max_bytes"],
        "checkpoint_mean_bytes": round(report["checkpoints"]["mean_bytes"]),
        "usd_per_million_transitions": report["usd_per_million_transitions"],
        "wall_s": round(wall, 2),
    }


RATIO_FIGURES = ("runner_ms_per_item", "write_units_per_item", "read_units_per_item")


def measure(
    cases: Sequence[Case], sizes: dict[str, Sequence[int]] | None = None
) -> list[dict[str, Any]]:
    """Every case at every size; each row with its ratios to the case's smallest size."""
    warm_up = cases[0] if cases else None
    if warm_up is not None:  # imports and first-call costs are not the smallest size's
        measure_one(warm_up, min(warm_up.sizes))
    rows = []
    for case in cases:
        chosen = sorted((sizes or {}).get(case.name) or case.sizes)
        first: dict[str, Any] | None = None
        for size in chosen:
            row = {"case": case.name, "unit": case.unit} | measure_one(case, size)
            first = first or row
            row["ratio"] = {
                k: round(row[k] / first[k], 2) if first[k] else None for k in RATIO_FIGURES
            }
            rows.append(row)
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The figures as a text table."""
    head = (
        f"{'case':<9}{'N':>7}  {'ms/item':>8} {'WRU/item':>9} {'RRU/item':>9} "
        f"{'ckpt max B':>11} {'ckpt mean B':>12} {'wall s':>8}  {'status':<9} ratio ms/WRU/RRU"
    )
    lines = [head]
    for r in rows:
        ratio = "/".join(f"{r['ratio'][k]:.2f}" for k in RATIO_FIGURES)
        lines.append(
            f"{r['case']:<9}{r['size']:>7}  {r['runner_ms_per_item']:>8.2f} "
            f"{r['write_units_per_item']:>9.2f} {r['read_units_per_item']:>9.2f} "
            f"{r['checkpoint_max_bytes']:>11} {r['checkpoint_mean_bytes']:>12} "
            f"{r['wall_s']:>8.1f}  {r['status']:<9} {ratio}"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``scale``."""
    parser.add_argument(
        "--case", action="append", choices=sorted(CASES), help="run only these cases (repeatable)"
    )
    parser.add_argument(
        "--sizes",
        action="append",
        metavar="CASE=N,N,...",
        help="sizes of a case (repeatable), e.g. foreach=100,1000,10000",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _sizes(specs: Sequence[str] | None) -> dict[str, Sequence[int]]:
    found: dict[str, Sequence[int]] = {}
    for spec in specs or []:
        name, _, numbers = spec.partition("=")
        if name not in CASES or not numbers:
            raise SystemExit(
                f"--sizes {spec!r}: expected CASE=N,N,... with CASE one of {sorted(CASES)}"
            )
        parts = [n.strip() for n in numbers.split(",") if n.strip()]
        if not parts or not all(n.isdigit() and int(n) > 0 for n in parts):
            raise SystemExit(
                f"--sizes {spec!r}: sizes are positive whole numbers, e.g. foreach=100,1000"
            )
        found[name] = [int(n) for n in parts]
    return found


def main(args: argparse.Namespace) -> int:
    """Run the chosen cases and print their figures."""
    cases = [CASES[name] for name in (args.case or CASES)]
    sizes = _sizes(args.sizes)
    largest = max(max(sizes.get(c.name) or c.sizes) for c in cases)
    os.environ.setdefault("STEPLINE_MAX_STEPS", str(2 * largest + 10))  # a While: 2 per turn
    rows = measure(cases, sizes)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0
