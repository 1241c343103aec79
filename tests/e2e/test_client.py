"""stepline.client against a dev stack: typed answers, the waiter, page iterators, the
idempotency key, the project's errors — sync and async."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from stepline.client import AsyncClient, Client, WaitTimeout
from stepline.errors import AlreadyExists, Code, FailedPrecondition, InvalidArgument, NotFound
from tests.e2e.conftest import RunningStack

GREET = """
yawl: "0.1"
start: greet
steps:
  greet:
    noOp:
      output: '\\({greeting: "hello \\(.name)"})'
      next: done
  done:
    success: {}
"""
PARKED = """
yawl: "0.1"
start: nap
steps:
  nap:
    wait:
      duration: 3600s
      next: done
  done:
    success: {}
"""


@pytest.fixture(scope="module")
def client(dev_stack: RunningStack) -> Client:
    with Client(dev_stack.url) as made:
        yield made  # type: ignore[misc]


def _folder() -> str:
    return "c" + uuid.uuid4().hex[:10]


def test_a_workflow_runs_to_its_result_with_its_history(client: Client) -> None:
    workflow = client.create_workflow("greet", GREET, folder_id=_folder(), labels={"team": "a"})

    run = client.run(workflow.id, {"name": "Ada"}, timeout=60)

    assert (workflow.name, workflow.labels) == ("greet", {"team": "a"})
    assert run.status == "FINISHED"
    assert run.result is not None
    assert json.loads(run.result.result_json) == {"greeting": "hello Ada"}
    assert [(e.id, e.status) for e in client.history(run.id)] == [
        ("greet", "COMPLETED"),
        ("done", "COMPLETED"),
    ]


def test_the_same_idempotency_key_starts_one_execution(client: Client) -> None:
    workflow = client.create_workflow("once", GREET, folder_id=_folder())
    key = uuid.uuid4().hex

    first = client.start(workflow.id, {"name": "a"}, idempotency_key=key)
    again = client.start(workflow.id, {"name": "a"}, idempotency_key=key)

    assert first == again
    with pytest.raises(AlreadyExists, match="Idempotency-Key"):
        client.start(workflow.id, {"name": "other"}, idempotency_key=key)


def test_wait_gives_up_at_its_deadline_with_the_execution_as_it_was(client: Client) -> None:
    workflow = client.create_workflow("parked", PARKED, folder_id=_folder())
    execution_id = client.start(workflow.id)

    with pytest.raises(WaitTimeout) as caught:
        client.wait(execution_id, timeout=0.5)
    client.terminate(execution_id)

    assert isinstance(caught.value, TimeoutError)
    assert caught.value.code is Code.DEADLINE_EXCEEDED
    assert caught.value.execution.status in ("QUEUED", "RUNNING")
    assert client.wait(execution_id, timeout=30).status == "STOPPED"


def test_iterators_follow_page_tokens_and_merge_a_folders_workflows(client: Client) -> None:
    folder = _folder()
    first = client.create_workflow("first", GREET, folder_id=folder)
    second = client.create_workflow("second", GREET, folder_id=folder)
    started = [client.start(w.id, {"name": str(n)}) for n, w in enumerate([first, second, first])]

    of_first = [e.id for e in client.list_executions(first.id, page_size=1)]
    of_folder = [e.id for e in client.list_executions(folder_id=folder, page_size=1)]

    assert of_first == [started[2], started[0]]
    assert of_folder == started[::-1]
    assert [w.name for w in client.list_workflows(folder, page_size=1)] == ["first", "second"]
    since = "2020-01-01T00:00:00Z"
    spaced = f"name=second AND created_at>{since}"  # spaces: signed as %20, not +
    assert [w.name for w in client.list_workflows(folder, filter=spaced)] == ["second"]


def test_updates_and_operations_are_typed(client: Client) -> None:
    workflow = client.create_workflow("ops", GREET, folder_id=_folder())

    updated = client.update_workflow(workflow.id, description="now described", labels={})
    operations = list(client.operations(workflow.id, page_size=1))
    deleted = client.delete_workflow(workflow.id)

    assert updated.description == "now described"
    assert [o.description for o in operations] == ["Create workflow", "Update workflow"]
    assert client.get_operation(deleted.id) == deleted
    with pytest.raises(NotFound, match=f"workflowId: workflow {workflow.id} not found"):
        client.get_workflow(workflow.id)


def test_errors_are_the_projects_with_the_apis_message(client: Client) -> None:
    finished = client.run(client.create_workflow("ended", GREET, folder_id=_folder()).id)
    with pytest.raises(InvalidArgument) as bad:
        client.get("not an id")
    with pytest.raises(NotFound):
        client.get(f"swnosuchworkflow0000-{uuid.uuid4()}")
    with pytest.raises(FailedPrecondition):
        client.stop(finished.id)

    assert bad.value.code is Code.INVALID_ARGUMENT
    assert bad.value.message.startswith("executionId:")
    assert getattr(bad.value, "http_status", None) == 400


def test_the_async_client_does_the_same(dev_stack: RunningStack) -> None:
    async def scenario() -> tuple[str, list[str], list[str], list[str]]:
        async with AsyncClient(dev_stack.url) as stepline:
            folder = _folder()
            workflow = await stepline.create_workflow("greet", GREET, folder_id=folder)
            run = await stepline.run(workflow.id, {"name": "Grace"}, timeout=60)
            entries = [e.id async for e in stepline.history(run.id, page_size=1)]
            other = await stepline.create_workflow("other", GREET, folder_id=folder)
            late = await stepline.start(other.id)
            merged = [e.id async for e in stepline.list_executions(folder_id=folder)]
            return run.status, entries, merged, [late, run.id]

    # In a thread of its own: a test before this one in the process may have left an event
    # loop running in this thread (Playwright's sync API does), where asyncio.run refuses.
    with ThreadPoolExecutor(1) as thread:
        status, entries, merged, newest_first = thread.submit(asyncio.run, scenario()).result()

    assert status == "FINISHED"
    assert entries == ["greet", "done"]
    assert merged == newest_first


def test_pause_resume_and_task_answers_are_calls_too(client: Client) -> None:
    workflow = client.create_workflow("pausable", PARKED, folder_id=_folder())
    execution_id = client.start(workflow.id)

    client.pause(execution_id)
    client.pause(execution_id)  # again: still paused, no error
    paused = client.get(execution_id).status
    client.resume(execution_id)
    resumed = client.get(execution_id).status
    client.terminate(execution_id)

    assert paused == "PAUSED"
    assert resumed in ("QUEUED", "RUNNING")
    with pytest.raises(NotFound, match="taskToken"):
        client.send_task_success("c29tZXRoaW5n.1." + "A" * 43, {"approved": True})
