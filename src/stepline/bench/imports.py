"""Cold import of each handler module, as a ratio to a bare ``import boto3``.

Each figure is the median of several fresh interpreters, baseline and handlers interleaved
in the same run so machine noise hits both alike.

    python -m stepline.bench imports [--runs 7]

Run from a checkout: the handlers are the ``functions/`` folder beside ``src/``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HELP = "cold import time of each Lambda handler against a bare import boto3"
HANDLERS = ["start", "stop", "query", "workflows", "runner", "trigger"]
TIMER = (
    "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); {stmt}; "
    "print(time.perf_counter() - t)"
)


def _once(stmt: str, path: str = "") -> float:
    code = TIMER.format(path=path, stmt=stmt)
    env = {
        "POWERTOOLS_SERVICE_NAME": "stepline",
        "POWERTOOLS_METRICS_NAMESPACE": "Stepline",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m stepline.bench imports``."""
    parser.add_argument("--runs", type=int, default=7)


def main(args: argparse.Namespace) -> int:
    """Print each handler's cold import time and its ratio to ``import boto3``."""
    samples: dict[str, list[float]] = {"boto3": [], **{h: [] for h in HANDLERS}}
    _once("import boto3")  # warm the file cache and .pyc files once
    for handler in HANDLERS:
        _once("import app", str(ROOT / "functions" / handler))
    for _ in range(args.runs):
        samples["boto3"].append(_once("import boto3"))
        for handler in HANDLERS:
            samples[handler].append(_once("import app", str(ROOT / "functions" / handler)))
    baseline = statistics.median(samples["boto3"])
    print(f"{'module':<22} {'median s':>9} {'ratio':>6}")
    print(f"{'import boto3':<22} {baseline:>9.3f} {1.0:>6.2f}")
    worst = 0.0
    for handler in HANDLERS:
        median = statistics.median(samples[handler])
        worst = max(worst, median / baseline)
        print(f"{'functions/' + handler:<22} {median:>9.3f} {median / baseline:>6.2f}")
    print(f"worst ratio: {worst:.2f} (goal <= 1.5): {'OK' if worst <= 1.5 else 'OVER'}")
    print("(handlers import boto3 on their first AWS call, not at import: see store/table.py)")
    return 0
