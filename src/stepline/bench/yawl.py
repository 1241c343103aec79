"""YaWL micro-benchmarks: template render throughput (warm cache) and spec validation time.

Run: python -m stepline.bench yawl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from stepline.yawl import load, render, templating
from stepline.yawl.source import parse_document
from stepline.yawl.templating import evaluate_condition

HELP = "YaWL templating throughput and spec validation time"
STATE: dict[str, Any] = {
    "input": {"id": 42, "chat": "c-1"},
    "user": {"id": 42, "name": "Ann", "email": "ann@example.com", "tags": ["a", "b", "c"]},
    "posts": [{"id": i, "title": f"post {i}", "body": "lorem ipsum " * 4} for i in range(8)],
}
TEMPLATES = {
    "input filter": "\\({id: .user.id, n: (.posts | length)})",
    "output filter": "\\({posts: .posts | map({id, title})})",
    "interpolation": "Hello \\(.user.name), you have \\(.posts | length) posts",
}


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second of fn, measured over about `seconds`."""
    fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()
        count += 100
    return count / elapsed


def bench_render() -> None:
    print("render throughput, warm cache (evaluations/s):")
    for label, template in TEMPLATES.items():
        here = rate(partial(render, template, STATE))
        saved = templating.FAST_INPUT_BYTES
        templating.FAST_INPUT_BYTES = -1  # force the worker process
        try:
            worker = rate(partial(render, template, STATE))
        finally:
            templating.FAST_INPUT_BYTES = saved
        shown = f"{label} {template}"
        print(f"  {shown:62s} in-process {here:9,.0f}/s   worker {worker:8,.0f}/s")
    cond = rate(lambda: evaluate_condition(".posts | length > 3", STATE))
    print(f"  {'condition .posts | length > 3':62s} in-process {cond:9,.0f}/s")


def generated_spec(steps: int) -> str:
    """A YAML spec of `steps` steps mixing calls, switches, catch rules and templates."""
    lines = ['yawl: "0.1"', "start: s0", "steps:"]
    for i in range(steps):
        nxt = f"s{i + 1}" if i + 1 < steps else None
        if i % 10 == 5 and nxt:
            lines += [
                f"  s{i}:",
                "    switch:",
                "      choices:",
                f"        - condition: .r{i - 1}.ok == true",
                f"          next: {nxt}",
                f"      default: {{next: {nxt}}}",
            ]
            continue
        lines += [
            f"  s{i}:",
            "    httpCall:",
            f"      url: 'https://api.example.com/items/\\(.input.id)/{i}'",
            "      method: POST",
            "      headers: {Content-Type: application/json}",
            f"      body: '\\({{step: {i}, id: .input.id}})'",
            f"      output: '\\({{r{i}: .}})'",
            "      retryPolicy: {errorList: [HTTP_CALL_503], retryCount: 3, maxDelay: 10s}",
            "      catch:",
            "        - errorList: [ALL]",
            f"          output: '\\({{e{i}: .message}})'",
            f"          next: {nxt or 's0'}",
        ]
        if nxt:
            lines.append(f"      next: {nxt}")
    return "\n".join(lines) + "\n"


def bench_validation() -> None:
    text = generated_spec(1000)
    parse = [_time(lambda: parse_document(text)) for _ in range(3)]
    total = [_time(lambda: load(text)) for _ in range(3)]
    data = parse_document(text).data
    as_json = json.dumps(data)
    total_json = [_time(lambda: load(as_json)) for _ in range(3)]
    print(f"validation of a generated 1,000-step spec ({len(text) / 1024:.0f} KiB YAML):")
    print(f"  load() YAML total        {statistics.median(total) * 1000:8.0f} ms (median of 3)")
    print(f"    of which YAML parsing  {statistics.median(parse) * 1000:8.0f} ms")
    print(f"  load() same spec as JSON {statistics.median(total_json) * 1000:8.0f} ms")


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m stepline.bench yawl`` takes no options."""


def main(args: argparse.Namespace) -> int:
    """Print the render throughputs and the validation times."""
    bench_render()
    bench_validation()
    return 0
