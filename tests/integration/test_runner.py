"""The runner on moto: golden workflows, duplicate and shuffled delivery, crashes, Stop and
Terminate. Every scenario must end with the same result and history as a clean run."""

from __future__ import annotations

import contextlib
import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from stepline.api import queries
from stepline.models import CreateWorkflowRequest
from stepline.service import executions, runner, workflows
from stepline.store.queue import StepMessage
from stepline.testing import drive

GOLDEN = Path(__file__).parents[1] / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))
UPDATE = os.environ.get("STEPLINE_UPDATE_GOLDEN") == "1"


def _start(svc: Any, spec: str, input_json: str) -> str:
    request = CreateWorkflowRequest.model_validate(
        {
            "folderId": "r" + uuid.uuid4().hex[:10],
            "name": "golden",
            "specification": {"specYaml": spec},
        }
    )
    workflow_id = workflows.create(svc, request, caller="test").resource_id
    # Keys of flaky functions are per execution, so reruns of a case start from scratch.
    data = json.loads(input_json)
    if isinstance(data, dict) and "key" in data:
        data["key"] = f"{data['key']}-{uuid.uuid4().hex[:6]}"
    command = executions.StartCommand(workflow_id, json.dumps(data), "test")
    return executions.start(svc, command)


def _summary(svc: Any, execution_id: str) -> dict[str, Any]:
    """What a user sees at the end, without times: status, result, error, history."""
    got = queries.get(svc, execution_id)["execution"]
    history = queries.history(svc, execution_id, size=None, token=None)["entries"]
    summary: dict[str, Any] = {"status": got["status"]}
    if "result" in got:
        result = json.loads(got["result"]["resultJson"])
        summary["result"] = _scrub(result)
    if "error" in got:
        summary["error"] = got["error"]
    summary["history"] = [
        {k: _scrub(v) for k, v in e.items() if k not in ("startedAt", "duration")} for e in history
    ]
    return summary


def _scrub(value: Any) -> Any:
    """Drop the per-run suffix of flaky-function keys from golden data."""
    text = json.dumps(value)
    import re

    return json.loads(re.sub(r"(retry-golden)-[0-9a-f]{6}", r"\1", text))


def _run(svc: Any, case: str, deliver: Any = None) -> dict[str, Any]:
    spec = (GOLDEN / f"{case}.yaml").read_text()
    execution_id = _start(svc, spec, (GOLDEN / f"{case}.input.json").read_text())
    (deliver or _clean)(svc, execution_id)
    return _summary(svc, execution_id)


def _ended(svc: Any, execution_id: str):
    def check() -> bool:
        record = svc.executions.get(execution_id)
        return record is not None and record.status in drive.ENDED

    return check


def _clean(svc: Any, execution_id: str) -> None:
    drive.drain(svc, until=_ended(svc, execution_id))


@pytest.mark.parametrize("case", CASES)
def test_golden_workflow(svc: Any, case: str) -> None:
    summary = _run(svc, case)
    expected_file = GOLDEN / f"{case}.expected.json"
    if UPDATE:
        expected_file.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    assert summary == json.loads(expected_file.read_text())


def _twice_and_shuffled(svc: Any, execution_id: str) -> None:
    """Every message is handled twice, and old messages come back later in random order."""
    seen: list[StepMessage] = []
    rng = random.Random(execution_id)

    def on_message(message: StepMessage) -> None:
        runner.handle(svc, message, runner.Invocation())
        seen.append(message)
        if rng.random() < 0.5:
            for old in rng.sample(seen, k=min(3, len(seen))):
                runner.handle(svc, old, runner.Invocation())

    drive.drain(svc, until=_ended(svc, execution_id), on_message=on_message)
    for old in rng.sample(seen, k=len(seen)):
        runner.handle(svc, old, runner.Invocation())


@pytest.mark.parametrize("case", ["chain", "retry", "fanout", "loop", "wait", "catch"])
def test_duplicate_and_shuffled_delivery_changes_nothing(svc: Any, case: str) -> None:
    clean = _run(svc, case)
    assert _run(svc, case, _twice_and_shuffled) == clean


class Crash(Exception):
    """Injected between two AWS calls."""


WRITES = {"PutItem", "UpdateItem", "SendMessage", "TransactWriteItems"}


def _crash_at(k: int):
    """A delivery that crashes the runner at its k-th write, then lets SQS redeliver."""

    def deliver(svc: Any, execution_id: str) -> None:
        writes = {"count": 0}

        def before_call(model: Any, **_: Any) -> None:
            if model.name in WRITES:
                writes["count"] += 1
                if writes["count"] == k:
                    raise Crash(f"crash before write {k} ({model.name})")

        clients = [svc.table.client, svc.queue.client]
        for client in clients:
            client.meta.events.register("before-call", before_call)
        try:
            _deliver_with_redelivery(svc, execution_id)
        finally:
            for client in clients:
                client.meta.events.unregister("before-call", before_call)

    return deliver


def _deliver_with_redelivery(svc: Any, execution_id: str) -> None:
    """Drain; a message whose handling crashed is handed out again, as SQS would."""
    crashed: list[StepMessage] = []

    def on_message(message: StepMessage) -> None:
        try:
            runner.handle(svc, message, runner.Invocation())
        except Crash:
            crashed.append(message)

    done = _ended(svc, execution_id)
    while not done() or crashed:
        with contextlib.suppress(Crash):
            drive.drain(svc, until=lambda: bool(crashed) or done(), on_message=on_message)
        while crashed:
            runner.handle(svc, crashed.pop(), runner.Invocation())


# Not "retry": its function counts its calls, and a crash makes the runner call again
# (side effects are at-least-once), so its attempts legitimately differ.
@pytest.mark.parametrize("case", ["chain", "catch", "fanout", "loop", "wait"])
def test_a_crash_at_any_write_point_changes_nothing(svc: Any, case: str) -> None:
    writes: list[str] = []

    def count(model: Any, **_: Any) -> None:
        if model.name in WRITES:
            writes.append(model.name)

    for client in (svc.table.client, svc.queue.client):
        client.meta.events.register("before-call", count)
    try:
        clean = _run(svc, case)
    finally:
        for client in (svc.table.client, svc.queue.client):
            client.meta.events.unregister("before-call", count)
    assert len(writes) >= 4
    for k in range(1, len(writes) + 1):
        assert _run(svc, case, _crash_at(k)) == clean, f"crash at write {k} ({writes[k - 1]})"
