"""AccessBindings=enforced: from the start, every caller but the account root needs a binding."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from stepline.dev.gateway import Gateway
from stepline.dev.pump import QueuePump
from stepline.dev.stack import EmulatedStack

from .conftest import SPEC, Api
from .test_access import EDITOR, ROOT_ARN, VIEWER, binding, names, refused, set_folder, someone
from .test_edge import call

STACK_PARAMETERS = {"AccessBindings": "enforced"}
API_FUNCTIONS = (
    "StartFunction",
    "StopFunction",
    "TerminateFunction",
    "GetFunction",
    "GetHistoryFunction",
    "ListFunction",
    "WorkflowsFunction",
)
DEV = "arn:aws:iam::123456789012:user/stepline-dev"  # the fixture files' caller


@pytest.fixture(scope="module")
def root(api: Api) -> Api:
    return api.as_caller(ROOT_ARN)


def test_the_parameter_reaches_every_api_function(stack: EmulatedStack) -> None:
    for name in API_FUNCTIONS:
        assert stack.function(name).environment["ACCESS_BINDINGS"] == "enforced", name


def test_a_caller_without_a_binding_may_do_nothing(api: Api, root: Api, folder: str) -> None:
    body = {"folderId": folder, "name": "mine", "specification": {"specYaml": SPEC}}
    reply = api.call("workflow_create", body=body)
    refused(reply, 403, 7, f"permission denied: {EDITOR} on folder {folder} is required")
    workflow_id = root.create_workflow(folder, name="roots")
    assert names(api, folder) == []
    reply = api.call("workflow_get", path={"workflowId": workflow_id})
    refused(reply, 404, 5, f"workflowId: workflow {workflow_id} not found")
    start = {"workflowId": workflow_id, "input": {"inputJson": "{}"}}
    assert api.call("start", body=start).status == 404
    reply = api.call("folder_access_list", path={"folderId": f"{folder}:listAccessBindings"})
    refused(reply, 403, 7, f"permission denied: {VIEWER} on folder {folder} is required")


def test_a_binding_lets_its_subject_in_and_nobody_else(api: Api, root: Api, folder: str) -> None:
    set_folder(root, folder, binding(EDITOR, DEV))
    workflow_id = api.create_workflow(folder, name="mine")
    api.start(workflow_id)  # an editor is an executor too
    assert names(api, folder) == ["mine"]
    assert names(someone(api), folder) == []


def test_start_by_link_without_credentials_still_starts_public_workflows(
    stack: EmulatedStack, root: Api, folder: str
) -> None:
    body = {"folderId": folder, "name": "open", "specification": {"specYaml": SPEC}}
    created = root.call("workflow_create", body=body | {"isPublic": True})
    workflow_id = created.body["metadata"]["workflowId"]
    public: Gateway = stack.public_gateway()
    status, started = call(public, "POST", f"/workflows/v1/execution/{workflow_id}/start", {})
    assert status == 200, started


@pytest.fixture
def steps(stack: EmulatedStack) -> Iterator[None]:
    """The steps queue's mapping, pumped: executions advance past their first hop."""
    queue = stack.deployment.physical["StepsQueue"].rsplit("/", 1)[1]
    (mapping,) = [m for m in stack.deployment.mappings if m.queue_arn.endswith(f":{queue}")]
    pump = QueuePump(mapping, stack.functions, pollers=1)
    pump.start()
    yield
    pump.stop()


def test_child_executions_a_workflow_starts_are_not_checked(
    root: Api, folder: str, steps: None
) -> None:
    child = root.create_workflow(folder + "c", name="child")  # nobody but root is bound there
    spec = f"yawl: '0.1'\nstart: c\nsteps:\n  c:\n    workflow: {{workflowId: {child}}}\n"
    execution_id = root.start(root.create_workflow(folder, name="parent", spec=spec))
    end = time.monotonic() + 30
    while True:
        execution = root.call("get", path={"executionId": execution_id}).body["execution"]
        if execution["status"] not in ("QUEUED", "RUNNING"):
            break
        assert time.monotonic() < end, execution
        time.sleep(0.05)
    assert execution["status"] == "FINISHED", execution
