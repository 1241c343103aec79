"""Stop and Terminate racing a running step; poison messages."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepline.api import queries
from stepline.service import executions, runner
from stepline.service.runner import edge, stopping
from stepline.store import keys
from stepline.store.errors import ItemTooLarge, Throttled
from stepline.store.queue import StepMessage
from tests.integration.conftest import Runs

SLOW_THEN_NEXT = r"""
yawl: "0.1"
start: slow
steps:
  slow:
    functionCall:
      functionId: stepline-slow
      input: '\({seconds: 6})'
      next: after
  after:
    noOp:
      output: '\({after: true})'
"""


def _history(svc: Any, execution_id: str) -> list[tuple[str, str]]:
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    return [(e["id"], e["status"]) for e in entries]


def _run_in_background(svc: Any, execution_id: str) -> threading.Thread:
    thread = threading.Thread(
        target=runner.handle, args=(svc, StepMessage(execution_id, 0), runner.Invocation())
    )
    thread.start()
    deadline = time.monotonic() + 10
    while _history(svc, execution_id) != [("slow", "STARTED")]:
        assert time.monotonic() < deadline, "the call never started"
        time.sleep(0.02)
    return thread


def test_stop_lets_the_running_step_finish_and_starts_nothing_after(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)
    thread = _run_in_background(svc, execution_id)

    executions.stop(runs.svc, execution_id, terminate=False)
    thread.join(timeout=20)

    assert queries.get(svc, execution_id)["execution"]["status"] == "STOPPED"
    assert _history(svc, execution_id) == [("slow", "COMPLETED")]


def test_terminate_cancels_the_running_step(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)
    thread = _run_in_background(svc, execution_id)

    executions.stop(runs.svc, execution_id, terminate=True)
    thread.join(timeout=20)

    assert queries.get(svc, execution_id)["execution"]["status"] == "STOPPED"
    assert _history(svc, execution_id) == [("slow", "CANCELLED")]
    statuses = [entry["status"] for item in svc.log.items(execution_id) for entry in item.open]
    assert "CANCEL_REQUESTED" in statuses


def test_nothing_starts_once_stop_has_returned(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)
    executions.stop(runs.svc, execution_id, terminate=False)

    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())

    assert _history(svc, execution_id) == []
    assert queries.get(svc, execution_id)["execution"]["status"] == "STOPPED"


def _record(execution_id: str, receives: int) -> SQSRecord:
    return SQSRecord(
        {
            "messageId": "m1",
            "receiptHandle": "r1",
            "body": StepMessage(execution_id, 0).to_json(),
            "attributes": {"ApproximateReceiveCount": str(receives)},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }
    )


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _no_tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(disabled=True)


def test_a_message_that_would_fail_again_fails_its_execution_at_once(svc: Any, runs: Runs) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)
    head = svc.executions.get(execution_id)
    # Lose the pinned spec version: every attempt to advance would fail the same way.
    runs.svc.table.delete(keys.workflow_version(head.workflow_id, head.spec_version))

    runner.process_record(svc, _record(execution_id, 1), _Context(), _no_tracer())

    failed = queries.get(svc, execution_id)["execution"]
    assert failed["status"] == "FAILED"  # on the first receive, not after five
    assert failed["error"]["errorCode"] == "STEP_INTERNAL"


def test_aws_trouble_is_retried_until_the_last_receive(
    svc: Any, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)

    def throttled(*_: Any) -> None:
        raise Throttled("dynamodb", "Query: ProvisionedThroughputExceededException")

    monkeypatch.setattr(edge, "_advance", throttled)
    with pytest.raises(Throttled):  # an early receive fails so that SQS delivers it again
        runner.process_record(svc, _record(execution_id, 1), _Context(), _no_tracer())
    assert svc.executions.get(execution_id).status in ("QUEUED", "RUNNING")

    runner.process_record(svc, _record(execution_id, 5), _Context(), _no_tracer())

    failed = queries.get(svc, execution_id)["execution"]
    assert failed["status"] == "FAILED"
    assert failed["error"]["errorCode"] == "STEP_INTERNAL"


ECHO = """
yawl: "0.1"
start: echo
steps:
  echo:
    functionCall: {functionId: stepline-echo, next: done}
  done:
    success: {}
"""


def test_a_write_over_the_item_limit_fails_the_execution_at_once_with_the_data_limit(
    svc: Any, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(ECHO)

    def too_large(*args: Any, **kwargs: Any) -> None:
        raise ItemTooLarge(500 * 1024)  # it would be so on every delivery

    monkeypatch.setattr(svc.log, "append", too_large)
    runner.process_record(svc, _record(execution_id, 1), _Context(), _no_tracer())

    failed = queries.get(svc, execution_id)["execution"]
    assert failed["status"] == "FAILED"
    assert failed["error"]["errorCode"] == "STEP_DATA_LIMIT_EXCEEDED"


NAP = """
yawl: "0.1"
start: nap
steps:
  nap:
    wait:
      duration: 1h
"""


def test_stop_closes_a_parked_wait_at_once(svc: Any, runs: Runs) -> None:
    from stepline.testing import drive

    execution_id = runs.start(NAP)
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())
    assert _history(svc, execution_id) == [("nap", "STARTED")]

    executions.stop(runs.svc, execution_id, terminate=True)
    drive.drain(svc, until=lambda: _history(svc, execution_id) == [("nap", "CANCELLED")])


def test_a_stop_after_the_invocation_read_the_head_is_seen_before_calls_start(
    svc: Any, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(SLOW_THEN_NEXT)
    read_log = svc.log.last

    def stop_then_read(execution: str) -> Any:
        executions.stop(runs.svc, execution_id, terminate=False)  # lands after the head was read
        return read_log(execution)

    monkeypatch.setattr(svc.log, "last", stop_then_read)
    monkeypatch.setattr(stopping, "HEAD_FRESH", 0.0)  # that read is no longer fresh

    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())

    assert _history(svc, execution_id) == [("slow", "CANCELLED")]  # never performed
    assert queries.get(svc, execution_id)["execution"]["status"] == "STOPPED"
