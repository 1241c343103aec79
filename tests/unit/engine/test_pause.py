"""The caller bounds an inline stretch: ``pause`` stops new steps, the next advance goes on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stepline import engine
from stepline.engine.machine import new_machine
from stepline.yawl import load

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def chain(n: int) -> Any:
    steps = "".join(
        f"  s{i}:\n    noOp: {{output: '\\({{i: {i}}})', next: s{i + 1}}}\n" for i in range(n)
    )
    return load(f"yawl: '0.1'\nstart: s0\nsteps:\n{steps}  s{n}:\n    success: {{}}\n")


def parallel(n: int) -> Any:
    branch = "          steps:\n            a: {noOp: {next: b}}\n            b: {noOp: {}}\n"
    branches = "".join(f"        b{i}:\n          start: a\n{branch}" for i in range(n))
    return load(f"yawl: '0.1'\nstart: p\nsteps:\n  p:\n    parallel:\n      branches:\n{branches}")


def _budget(steps: int | None) -> Any:
    """A pause that lets ``steps`` new steps start, then asks to stop (None: never)."""
    if steps is None:
        return None
    left = [steps]

    def pause() -> bool:
        left[0] -= 1
        return left[0] < 0

    return pause


def run(spec: Any, budget: int | None) -> tuple[list[dict[str, Any]], int]:
    """Advance to the end, ``budget`` new steps per advance; the entries and the advances."""
    machine, entries, advances = new_machine({}), [], 0
    while True:
        adv = engine.advance(spec, machine, NOW, pause=_budget(budget))
        machine, advances = adv.machine, advances + 1
        entries += adv.finished
        if adv.ended:
            return [{k: e[k] for k in ("id", "status")} for e in entries], advances
        assert adv.paused and not adv.calls and adv.wake_at is None


def test_a_paused_advance_starts_no_further_step_and_the_next_goes_on() -> None:
    clean, once = run(chain(10), None)
    bounded, advances = run(chain(10), 3)

    assert once == 1
    assert advances == 3  # 11 steps: the first of each advance, then 3 more
    assert bounded == clean


def test_pausing_inside_parallel_branches_changes_no_history() -> None:
    clean, _ = run(parallel(4), None)
    bounded, advances = run(parallel(4), 2)

    assert advances > 1
    assert sorted(map(str, bounded)) == sorted(map(str, clean))


def test_every_advance_starts_at_least_one_step_whatever_the_budget() -> None:
    clean, _ = run(chain(5), None)
    bounded, advances = run(chain(5), 0)

    assert advances == 6
    assert bounded == clean
