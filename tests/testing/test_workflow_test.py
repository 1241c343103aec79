"""stepline.testing.WorkflowTest: a workflow run in this process with mocked steps and virtual
time, on the production runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stepline.testing import Fail, UnmockedStep, WorkflowTest
from stepline.testing.workflow import emulator

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FLAKY = """
yawl: "0.1"
start: lookup
steps:
  lookup:
    functionCall:
      functionId: lookup-order
      retryPolicy:
        errorList: [FUNCTION_CALL_INVALID_RESPONSE]
        retryCount: 3
        initialDelay: 10m
        maxDelay: 1h
      next: nap
  nap:
    wait:
      duration: 40h
      next: done
  done:
    success: {}
"""
FANOUT = """
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\\(.ids)'
      output: '\\({totals: [.[].total]})'
      do:
        start: price
        steps:
          price:
            httpCall:
              url: https://prices.example/\\(.id)
              method: GET
"""


def test_retries_and_waits_take_virtual_time_and_the_history_shows_it() -> None:
    test = WorkflowTest(
        FLAKY,
        mocks={"lookup": [Fail("FUNCTION_CALL_INVALID_RESPONSE"), {"total": 42}]},
        start=START,
    )

    run = test.run({"orderId": 42})

    assert (run.status, run.output) == ("FINISHED", {"total": 42})
    assert run.steps["lookup"].attempts == 2
    assert run.steps["lookup"].duration >= timedelta(minutes=10)  # the retry's backoff
    assert run.steps["nap"].duration == timedelta(hours=40)
    assert run.steps["done"].started_at >= START + timedelta(hours=40, minutes=10)
    assert run.started_at == START
    assert run.duration >= timedelta(hours=40)
    assert [c.input["orderId"] for c in run.calls["lookup"]] == [42, 42]


def test_a_mock_that_keeps_failing_exhausts_the_retry_policy() -> None:
    run = WorkflowTest(FLAKY, mocks={"lookup": Fail("FUNCTION_CALL_INVALID_RESPONSE")}).run()

    assert run.status == "FAILED"
    assert run.error is not None and run.error["errorCode"] == "FUNCTION_CALL_INVALID_RESPONSE"
    assert run.steps["lookup"].attempts == 4
    assert len(run.calls["lookup"]) == 4


def test_a_callable_mock_answers_each_item_from_its_input() -> None:
    prices = {1: 10, 2: 25, 3: 7}

    def price(step_input: dict[str, int], number: int) -> object:
        if step_input["id"] == 2 and number <= 2:
            return Fail("HTTP_CALL_503")  # uncaught, no retry policy: the item fails
        return {"total": prices[step_input["id"]]}

    ok = WorkflowTest(FANOUT, mocks={"price": lambda i, n: {"total": prices[i["id"]]}}).run(
        {"ids": [{"id": 1}, {"id": 2}, {"id": 3}]}
    )
    failing = WorkflowTest(FANOUT, mocks={"price": price}).run({"ids": [{"id": 2}]})

    assert ok.output == {"totals": [10, 25, 7]}
    assert [e.id for e in ok.step("price")] == ["each[0]/price", "each[1]/price", "each[2]/price"]
    assert failing.status == "FAILED"
    assert failing.error is not None and failing.error["errorCode"] == "HTTP_CALL_503"


def test_an_entry_path_mocks_one_item_only() -> None:
    test = WorkflowTest(FANOUT, mocks={"price": {"total": 1}, "each[1]/price": {"total": 100}})
    run = test.run({"ids": [{"id": 1}, {"id": 2}]})
    assert run.output == {"totals": [1, 100]}


def test_refusing_unmocked_steps_names_them() -> None:
    with pytest.raises(UnmockedStep, match="each\\[0\\]/price"):
        WorkflowTest(FANOUT, unmocked="refuse").run({"ids": [{"id": 1}]})


def test_an_unmocked_integration_step_runs_against_the_emulator() -> None:
    s3 = emulator().client("s3")
    s3.create_bucket(Bucket="receipts-under-test")
    spec = """
yawl: "0.1"
start: store
steps:
  store:
    objectStorage:
      bucket: receipts-under-test
      object: 'receipt-\\(.n).txt'
      put:
        content: 'paid \\(.n)'
"""
    run = WorkflowTest(spec).run({"n": 7})

    assert run.status == "FINISHED", run.error
    stored = s3.get_object(Bucket="receipts-under-test", Key="receipt-7.txt")["Body"].read()
    assert stored == b"paid 7"


def test_a_mocked_child_workflow_starts_no_child() -> None:
    spec = """
yawl: "0.1"
start: child
steps:
  child:
    workflow:
      workflowId: swnosuchworkflow00001
      executionInput: '\\({n: .n})'
"""
    run = WorkflowTest(spec, mocks={"child": {"doubled": 4}}).run({"n": 2})
    assert (run.status, run.output) == ("FINISHED", {"doubled": 4})


def test_a_fail_needs_a_yawl_error_code() -> None:
    with pytest.raises(ValueError, match="'NOPE' is not a YaWL error code"):
        Fail("NOPE")
