"""``stepline workflow ...`` and ``stepline execution ...`` against a running dev stack."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import Stepline
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
FAILING = 'yawl: "0.1"\nstart: boom\nsteps:\n  boom:\n    fail:\n      errorMessage: no luck\n'
WAITING = 'yawl: "0.1"\nstart: pause\nsteps:\n  pause:\n    wait:\n      duration: "3600"\n'


def unique(prefix: str) -> str:
    """A workflow name nobody else in the session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(stepline: Stepline, tmp_path: Path, spec: str) -> str:
    """A workflow from ``spec``; returns its id."""
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    ran = stepline("workflow", "create", "--spec", str(path), "--name", unique("cli"))
    assert ran.code == 0, ran.err
    return str(ran.json()["metadata"]["workflowId"])


def test_workflow_create_get_update_list_delete(stepline: Stepline, tmp_path: Path) -> None:
    spec = tmp_path / "order_flow.yaml"
    spec.write_text('yawl: "0.1"\nstart: done\nsteps:\n  done:\n    success: {}\n')
    folder = unique("folder")
    created = stepline(
        "workflow", "create", "--spec", str(spec), "--folder-id", folder,
        "--description", "first", "--labels", "team=core,tier=1",
    )  # fmt: skip
    assert created.code == 0, created.err
    workflow = created.json()["response"]
    assert (workflow["name"], workflow["labels"]) == ("order-flow", {"team": "core", "tier": "1"})

    updated = stepline("workflow", "update", workflow["id"], "--description", "second")
    assert updated.json()["response"]["description"] == "second"
    got = stepline("workflow", "get", workflow["id"], "--format", "yaml")
    assert "description: second" in got.out
    assert stepline("workflow", "get", workflow["id"], "--spec-only").out == spec.read_text()

    listed = stepline("workflow", "list", "--folder-id", folder)
    assert [w["id"] for w in listed.json()] == [workflow["id"]]
    table = stepline("workflow", "list", "--folder-id", folder, "--format", "table")
    assert "order-flow" in table.out and "second" in table.out

    assert stepline("workflow", "delete", workflow["id"]).json()["done"] is True
    gone = stepline("workflow", "get", workflow["id"])
    assert gone.code == 1
    assert f"error: NOT_FOUND (5): workflowId: workflow {workflow['id']} not found" in gone.err


def test_start_wait_shows_each_step_and_exits_0_with_the_result(
    stepline: Stepline, dev_stack: RunningStack
) -> None:
    hello = dev_stack.workflow_id("hello")
    ran = stepline(
        "execution", "start", "--workflow-id", hello, "--input-json", '{"name": "Ada"}', "--wait"
    )
    assert ran.code == 0, ran.err
    execution = ran.json()
    assert execution["status"] == "FINISHED"
    assert execution["result"]["resultJson"] == '{"greeting": "Hello, Ada!"}'
    assert "greet (NoOp) COMPLETED in" in ran.err
    assert "done (Success) COMPLETED in" in ran.err


def test_start_wait_as_a_table_prints_the_result(
    stepline: Stepline, dev_stack: RunningStack, tmp_path: Path
) -> None:
    path = tmp_path / "input.json"
    path.write_text('{"name": "Grace"}')
    hello = dev_stack.workflow_id("hello")
    ran = stepline(
        "execution", "start", "--workflow-id", hello, "--input-file", str(path),
        "--wait", "--format", "table",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert ran.out.startswith("FINISHED in ")
    assert '"greeting": "Hello, Grace!"' in ran.out


def test_start_wait_exits_1_and_prints_the_error_when_the_execution_fails(
    stepline: Stepline, tmp_path: Path
) -> None:
    workflow_id = create(stepline, tmp_path, FAILING)
    ran = stepline("execution", "start", "--workflow-id", workflow_id, "--wait", "-o", "table")
    assert ran.code == 1
    assert "FAILED in " in ran.out
    assert "STEP_FAIL: no luck" in ran.out
    assert "boom (Fail) FAILED" in ran.err


def test_input_that_is_not_json_is_refused_before_sending(
    stepline: Stepline, dev_stack: RunningStack
) -> None:
    hello = dev_stack.workflow_id("hello")
    ran = stepline("execution", "start", "--workflow-id", hello, "--input-json", "{nope")
    assert ran.code == 2
    assert "not valid JSON" in ran.err
    listed = stepline("execution", "list", "--workflow-id", hello, "--filter", "status=QUEUED")
    assert listed.json() == []


def test_api_errors_print_code_and_message_without_a_traceback(stepline: Stepline) -> None:
    ran = stepline("execution", "get", "swnothere000000000000-0000")
    assert ran.code == 1
    assert ran.err.startswith("error: ")
    assert "Traceback" not in ran.err + ran.out
    bad_filter = stepline("execution", "list", "--workflow-id", "x", "--filter", "colour=red")
    assert bad_filter.code == 1
    assert "INVALID_ARGUMENT (3)" in bad_filter.err


def test_an_unreachable_endpoint_is_one_line_saying_how_to_start_or_name_a_stack(
    stepline: Stepline,
) -> None:
    ran = stepline("workflow", "list", "--endpoint", "http://127.0.0.1:9")
    assert ran.code == 1
    assert ran.out == ""
    assert ran.err.splitlines() == [
        "error: cannot reach http://127.0.0.1:9 (connection refused): start the dev stack "
        "with `make dev`, or name a running stack with --endpoint URL or $STEPLINE_ENDPOINT"
    ]


def test_the_global_endpoint_option_comes_before_the_environment(
    stepline: Stepline, dev_stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPLINE_ENDPOINT", "http://127.0.0.1:9")
    listed = stepline("--endpoint", dev_stack.url, "workflow", "list", "--format", "json")
    assert listed.code == 0, listed.err
    assert dev_stack.workflow_id("hello") in {w["id"] for w in listed.json()}
    nowhere = stepline("workflow", "list")
    assert nowhere.code == 1
    assert "cannot reach http://127.0.0.1:9 " in nowhere.err
    # the command's own option wins over the global one
    own = stepline(
        "--endpoint", "http://127.0.0.1:9", "workflow", "list", "--endpoint", dev_stack.url
    )
    assert own.code == 0, own.err


def test_events_put_reaches_the_emulator_the_environment_names(
    stepline: Stepline, dev_stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ENDPOINT_URL": dev_stack.aws_endpoint,
        "AWS_ACCESS_KEY_ID": "stepline-dev",
        "AWS_SECRET_ACCESS_KEY": "stepline-dev",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    hello = dev_stack.workflow_id("hello")
    ran = stepline("events", "put", "--detail", '{"name": "Ada"}', "--workflow-id", hello)
    assert ran.code == 0, ran.err
    assert len(ran.out.strip().split("-")) == 5  # the event id


def test_events_put_without_credentials_says_how_to_get_them(
    stepline: Stepline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookups
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    ran = stepline("events", "put", "--region", "us-east-1")
    assert ran.code == 1
    assert ran.err.splitlines() == [
        "error: no AWS credentials: for the dev stack, run the export lines `make dev` "
        "printed; for AWS, pass --profile"
    ]


def test_list_follows_page_tokens_with_all(stepline: Stepline, tmp_path: Path) -> None:
    workflow_id = create(stepline, tmp_path, WAITING)
    started = [
        stepline("execution", "start", "--workflow-id", workflow_id).json()["executionId"]
        for _ in range(3)
    ]
    one_page = stepline("execution", "list", "--workflow-id", workflow_id, "--page-size", "1")
    assert [e["id"] for e in one_page.json()] == started[-1:]
    every = stepline("execution", "list", "--workflow-id", workflow_id, "--page-size", "1", "--all")
    assert [e["id"] for e in every.json()] == started[::-1]
    for execution_id in started:
        assert stepline("execution", "terminate", execution_id).code == 0


def test_stop_and_terminate_end_running_executions(stepline: Stepline, tmp_path: Path) -> None:
    workflow_id = create(stepline, tmp_path, WAITING)
    first = stepline("execution", "start", "--workflow-id", workflow_id).json()["executionId"]
    second = stepline("execution", "start", "--workflow-id", workflow_id).json()["executionId"]
    assert stepline("execution", "stop", first).json() == {"executionId": first}
    assert "Terminating execution" in stepline("execution", "terminate", second, "-o", "table").out
    for execution_id in (first, second):
        assert wait_for_status(stepline, execution_id) == "STOPPED"
    stopped = stepline(
        "execution", "list", "--workflow-id", workflow_id, "--filter", "status=STOPPED"
    )
    assert {e["id"] for e in stopped.json()} == {first, second}


def wait_for_status(stepline: Stepline, execution_id: str) -> str:
    """The execution's status once it has ended (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        status = str(stepline("execution", "get", execution_id).json()["status"])
        if status in ("FINISHED", "FAILED", "STOPPED") or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_history_and_get_as_tables(stepline: Stepline, dev_stack: RunningStack) -> None:
    hello = dev_stack.workflow_id("hello")
    ran = stepline("execution", "start", "--workflow-id", hello, "--wait")
    execution_id = ran.json()["id"]
    history = stepline("execution", "history", execution_id, "--format", "table")
    assert f"execution {execution_id}: FINISHED" in history.out
    assert "greet" in history.out and "COMPLETED" in history.out
    got = stepline("execution", "get", execution_id, "-o", "table")
    assert "Hello, world!" in got.out
    as_yaml = stepline("execution", "history", execution_id, "-o", "yaml")
    assert "- id: greet" in as_yaml.out


def test_workflow_ids_complete_from_the_api(stepline: Stepline, dev_stack: RunningStack) -> None:
    from stepline.cli.executions import complete_workflow_id

    hello = dev_stack.workflow_id("hello")
    assert (hello, "hello") in complete_workflow_id(hello[:5])


def test_version_and_schema_need_no_stack(stepline: Stepline) -> None:
    from importlib.metadata import version

    shown = stepline("--version")
    schema = stepline("schema")

    assert (shown.code, shown.out.strip()) == (0, f"stepline {version('stepline')}")
    committed = (Path(__file__).parents[2] / "schema" / "yawl.schema.json").read_text()
    assert (schema.code, schema.out) == (0, committed)


DONE = 'yawl: "0.1"\nstart: d\nsteps:\n  d:\n    success: {}\n'
RETRIED = """yawl: "0.1"
start: nap
steps:
  nap:
    wait:
      duration: 2s
      next: done
  done:
    success: {}
"""


def test_watch_follows_an_execution_already_running(stepline: Stepline, tmp_path: Path) -> None:
    workflow_id = create(stepline, tmp_path, RETRIED)
    started = stepline("execution", "start", "--workflow-id", workflow_id)
    execution_id = started.json()["executionId"]

    watched = stepline("execution", "watch", execution_id)

    assert watched.code == 0, watched.err
    assert watched.json()["status"] == "FINISHED"
    assert "nap (Wait)" in watched.err  # the steps, as --wait shows them
    ended = stepline("execution", "watch", execution_id)  # an ended one: its outcome at once
    assert (ended.code, ended.json()["status"]) == (0, "FINISHED")


def test_a_start_with_an_idempotency_key_runs_once(stepline: Stepline, tmp_path: Path) -> None:
    workflow_id = create(stepline, tmp_path, DONE)
    key = unique("key")
    args = ("execution", "start", "--workflow-id", workflow_id, "--idempotency-key", key)

    first, again = stepline(*args), stepline(*args)
    other = stepline(*args, "--input-json", '{"a": 1}')

    assert first.json()["executionId"] == again.json()["executionId"]
    assert other.code == 1
    assert "ALREADY_EXISTS" in other.err


def test_list_without_a_workflow_merges_the_folders_workflows(
    stepline: Stepline, tmp_path: Path
) -> None:
    folder = unique("folder")
    spec = tmp_path / "done.yaml"
    spec.write_text(DONE)
    ids = []
    for name in ("first", "second"):
        made = stepline(
            "workflow", "create", "--spec", str(spec), "--name", name, "--folder-id", folder
        )
        ids.append(made.json()["metadata"]["workflowId"])
    started = [
        stepline("execution", "start", "--workflow-id", w).json()["executionId"]
        for w in (ids[0], ids[1], ids[0])
    ]

    listed = stepline("execution", "list", "--folder-id", folder, "--all")
    newest = stepline("execution", "list", "--folder-id", folder, "--page-size", "2")

    assert [e["id"] for e in listed.json()] == started[::-1]
    assert [e["id"] for e in newest.json()] == started[::-1][:2]
