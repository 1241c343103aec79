"""How the runner's cost grows with a workflow's size: per item, against the smallest size.

Each case runs one execution per size in this process on moto with the real runner, metered
as ``python -m stepline.bench cost`` meters it (:func:`stepline.bench.cost.measure`: every AWS
request counted by the billing rules, by the meter :func:`watched_meter` makes), with waits
and retry delays scaled by ``TIME_SCALE``.
Per case and size it prints:

* runner ms per item: the runner's billed milliseconds (its wall time in the invocations,
  the in-process emulator's share of each AWS call included, the meter's own hooks not), and
  the CPU milliseconds this process spent meanwhile (every thread; less disturbed than wall
  time by other work on the machine);
* read and write request units per item (indexes included);
* the log items the runner appended (checkpoints), each split into its parts by attribute
  name: the history (``entries...``: the entries that ended since the previous item), the
  open entries (``open...``) and the machine snapshot (``machine...`` or ``delta...`` with
  its ``base``, whichever the log writes); a part kept in the payload bucket (``<part>Ref``)
  counts at its object's size. The snapshot's mean and largest size are taken over the items
  an execution may go on from (not its last, ``ended`` one, which keeps only the outcome);
* wall seconds of the execution;
* the ratio of each per-item figure, and of the mean snapshot, to the smallest size's: the
  figure that shows whether a case is linear (1.0) or not, and whether a snapshot grows with
  the work done.

Cases:

* ``foreach``: a Foreach over N items, each a FunctionCall of ``stepline-echo``
  (``tests/functions``). Quick calls need no checkpoint of their own: the runner writes one
  log item at the end (or when its inline budget is spent), so this case says little about
  the snapshot;
* ``foreach-park``: a Foreach over N items, ``PARK_CONCURRENCY`` at a time, each a
  FunctionCall of ``stepline-flaky`` that fails once (its own key per item) and is retried
  after a delay: every wave of items parks the execution, so the runner checkpoints the
  half-done Foreach N / ``PARK_CONCURRENCY`` times, from nothing done to nearly all. A snapshot
  whose size follows N or the items done shows here, and so does what it costs per item;
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
import gc
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

HELP = "per-item runner time, request units and checkpoint size as workflows grow"
FUNCTIONS = Path(__file__).resolve().parents[3] / "tests" / "functions"

TIME_SCALE: Final = 1e-6
"""Waits and retry delays take this share of their time: a retry after 1 s is due after 1 µs,
before the runner has sent its wake-up message, so the queue never holds one back (SQS delays
are whole seconds, rounded up from what is left) and a park costs no real time."""
PARK_CONCURRENCY: Final = 10
"""Items of ``foreach-park`` in flight at once. Fixed, so that the checkpoints grow in number
with N (one per wave: N / 10) and sample the Foreach at every stage from nothing done to
nearly all, as a long fan-out that keeps parking does (with all N in flight it would park
once, with nothing done); more than one, so that a wave is a batch of concurrent calls as in
a real fan-out rather than one item's hop through the queue; and small enough that the
smallest size (50) still parks five times."""


PARTS: Final = {
    "history": ("entries",),
    "open": ("open",),
    "snapshot": ("machine", "delta", "base", "chain", "full"),
}
"""The parts of a log item, by the prefix of their attributes' names (``machine``,
``machineZ``, ``machineRef``...): a snapshot in full or as a delta on the full one at ``base``
(with the sizes the log keeps of that chain); the key, the token and the flags are
``other``."""


@dataclass(frozen=True)
class Case:
    """A workload whose size is a parameter."""

    name: str
    spec: Callable[[int], str]
    execution_input: Callable[[int], str]
    unit: str
    """What one "item" of the case is."""
    sizes: tuple[int, ...]
    items: Callable[[int], int] = lambda size: size
    """How many items an execution of this size has."""


@dataclass(frozen=True)
class Checkpoint:
    """The bytes of one log item by part, as DynamoDB sizes them (the bucket's parts added)."""

    history: int
    open: int
    snapshot: int
    other: int
    in_bucket: int
    """Of all these, the bytes kept in the payload bucket."""
    ended: bool
    """The execution's last item: its machine part is only the outcome."""


def checkpoint_of(item: Mapping[str, Any], object_size: Callable[[str], int]) -> Checkpoint:
    """The parts of a log item as the runner sent it to DynamoDB (``{"name": {"S": ...}}``);
    ``object_size`` gives the size of the object a ``...Ref`` pointer names."""
    from stepline.bench.cost import item_size

    sizes = dict.fromkeys((*PARTS, "other"), 0)
    in_bucket = 0
    for name, value in item.items():
        part = next((p for p, prefixes in PARTS.items() if name.startswith(prefixes)), "other")
        sizes[part] += item_size({name: value})
        if part != "other" and name.endswith("Ref") and "S" in value:
            stored = object_size(str(value["S"]))
            sizes[part] += stored
            in_bucket += stored
    return Checkpoint(
        sizes["history"],
        sizes["open"],
        sizes["snapshot"],
        sizes["other"],
        in_bucket,
        ended=item.get("ended", {}).get("BOOL") is True,
    )


def _object_size(s3: Any, pointer: str) -> int:
    bucket, _, key = pointer.removeprefix("s3://").partition("/")
    return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])


@dataclass
class Watch:
    """What the bench sees of a metered run besides the cost report."""

    appended: list[Checkpoint] = field(default_factory=list)
    """Every log item the runner appended, in order."""
    runner_cpu_s: float = 0.0
    """CPU seconds of this process while runner invocations ran (every thread: the runner's
    calls, the emulator serving them and the meter's hooks)."""


def watched_meter(watch: Watch) -> type[Any]:
    """The cost meter, keeping in ``watch`` the parts of each log item and the runner's CPU
    time (:func:`stepline.bench.cost.measure` takes it as its ``meter_class``)."""
    from stepline.bench import cost

    class WatchedMeter(cost.Meter):
        def start(self, svc: Any, command: Any) -> str:
            # What the emulator and the clients hold by now is the bench's, not the runner's:
            # a full collection scanning it (a quarter of a second) would land in whichever
            # invocation it happened to interrupt.
            gc.collect()
            gc.freeze()
            return super().start(svc, command)

        def timed_runner(self, handle: Callable[..., None]) -> Callable[..., None]:
            measured = super().timed_runner(handle)

            def on_cpu(*args: Any, **kwargs: Any) -> None:
                began = time.process_time()
                try:
                    measured(*args, **kwargs)
                finally:
                    watch.runner_cpu_s += time.process_time() - began

            return on_cpu

        def log_item_written(self, item: Mapping[str, Any]) -> None:
            s3 = self.raw_client("s3")  # unrecorded: the bench's look is not the runner's cost
            watch.appended.append(checkpoint_of(item, lambda pointer: _object_size(s3, pointer)))

    return WatchedMeter


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


def _foreach_park(n: int) -> str:
    return f"""\
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\\(.items)'
      output: '\\({{count: (. | length)}})'
      concurrency: {PARK_CONCURRENCY}
      do:
        start: call
        steps:
          call:
            functionCall:
              functionId: stepline-flaky
              input: '\\({{key: .key, failures: 1}})'
              retryPolicy:
                errorList: [FUNCTION_CALL_INVALID_RESPONSE]
                initialDelay: 1s
                retryCount: 1
"""


def _park_input(n: int) -> str:
    """Items with a key of their own, new for every run (the flaky function counts per key)."""
    run = secrets.token_hex(4)
    return json.dumps({"items": [{"i": i, "key": f"{run}-{i}"} for i in range(n)]})


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
        (100, 1000, 10000),
    ),
    "foreach-park": Case("foreach-park", _foreach_park, _park_input, "item", (50, 200, 1000)),
    "while": Case("while", _while, lambda n: json.dumps({"i": 0}), "iteration", (100, 1000)),
    "outputs": Case("outputs", _outputs, _blob, "step", (1, 100, 1000), items=lambda n: 3),
}


def measure_one(case: Case, size: int) -> dict[str, Any]:
    """One execution of the case at ``size``, metered; its per-item figures."""
    from stepline.bench import cost

    began = time.perf_counter()
    watch = Watch()
    try:
        report = cost.measure(
            case.spec(size),
            case.execution_input(size),
            functions=FUNCTIONS,
            workflow_name=f"{case.name}-{size}",
            deadline=3600.0,
            time_scale=TIME_SCALE,
            meter_class=watched_meter(watch),
        )
    finally:
        gc.unfreeze()
    wall = time.perf_counter() - began
    items = case.items(size)
    ddb = report["dynamodb"]
    writes = ddb["write_units"] + sum(ddb["index_write_units"].values())
    return {
        "size": size,
        "status": ",".join(sorted(report["statuses"])),
        "runner_ms_per_item": report["lambda"]["runner_billed_ms"] / items,
        "runner_cpu_ms_per_item": watch.runner_cpu_s * 1000 / items,
        "write_units_per_item": writes / items,
        "read_units_per_item": ddb["read_units"] / items,
        "checkpoints": report["checkpoints"]["count"],
        "checkpoint_max_bytes": report["checkpoints"]["max_bytes"],
        "checkpoint_mean_bytes": round(report["checkpoints"]["mean_bytes"]),
        **checkpoint_figures(watch.appended),
        "usd_per_million_transitions": report["usd_per_million_transitions"],
        "wall_s": round(wall, 2),
    }


def checkpoint_figures(appended: Sequence[Checkpoint]) -> dict[str, int]:
    """Mean bytes of each part per log item; mean and largest snapshot of those an execution
    may go on from (0 when it wrote none)."""

    def mean(values: Sequence[int]) -> int:
        return round(sum(values) / len(values)) if values else 0

    snapshots = [c.snapshot for c in appended if not c.ended]
    return {
        "history_mean_bytes": mean([c.history for c in appended]),
        "open_mean_bytes": mean([c.open for c in appended]),
        "snapshots": len(snapshots),
        "snapshot_mean_bytes": mean(snapshots),
        "snapshot_max_bytes": max(snapshots, default=0),
        "bucket_bytes": sum(c.in_bucket for c in appended),
    }


RATIO_FIGURES = (
    "runner_ms_per_item",
    "runner_cpu_ms_per_item",
    "write_units_per_item",
    "read_units_per_item",
    "snapshot_mean_bytes",
)


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
        f"{'case':<13}{'N':>6} {'ms/item':>8} {'cpu/item':>8} {'WRU/item':>8} {'RRU/item':>8} "
        f"{'ckpts':>5} {'hist B':>9} {'open B':>7} {'snap B':>7} {'snap max':>8} {'wall s':>6}  "
        f"{'status':<8} ratio ms/cpu/WRU/RRU/snap"
    )
    lines = [head]
    for r in rows:
        ratio = "/".join(
            "-" if r["ratio"][k] is None else f"{r['ratio'][k]:.2f}" for k in RATIO_FIGURES
        )
        lines.append(
            f"{r['case']:<13}{r['size']:>6} {r['runner_ms_per_item']:>8.2f} "
            f"{r['runner_cpu_ms_per_item']:>8.2f} {r['write_units_per_item']:>8.2f} "
            f"{r['read_units_per_item']:>8.2f} {r['checkpoints']:>5} "
            f"{r['history_mean_bytes']:>9} {r['open_mean_bytes']:>7} "
            f"{r['snapshot_mean_bytes']:>7} {r['snapshot_max_bytes']:>8} "
            f"{r['wall_s']:>6.1f}  {r['status']:<8} {ratio}"
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
