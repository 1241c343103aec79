"""Stored Operations: every workflow and access change can be read again by id
(OperationService.Get) and a workflow's are listed in order (WorkflowService.ListOperations)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.conftest import SPEC, Api, Reply
from tests.integration.test_access import ADMIN, EDITOR, VIEWER, arn, binding, set_folder, someone

WORKFLOWS = "type.googleapis.com/yandex.cloud.serverless.workflows.v1."
ACCESS = "type.googleapis.com/yandex.cloud.access."
EMPTY = {"@type": "type.googleapis.com/google.protobuf.Empty"}


def _get(api: Api, operation_id: str) -> Reply:
    return api.call("operation_get", path={"operationId": operation_id})


def _list(api: Api, workflow_id: str, **query: str) -> Reply:
    return api.call("operation_list", path={"workflowId": workflow_id}, query=query or None)


def _create(api: Api, folder: str, name: str = "orders") -> dict[str, Any]:
    body = {"folderId": folder, "name": name, "specification": {"specYaml": SPEC}}
    reply = api.call("workflow_create", body=body)
    assert reply.status == 200, reply.body
    return reply.body


def _update(api: Api, workflow_id: str, description: str) -> dict[str, Any]:
    reply = api.call(
        "workflow_update",
        path={"workflowId": workflow_id},
        body={"description": description, "updateMask": "description"},
    )
    assert reply.status == 200, reply.body
    return reply.body


def test_each_change_answers_an_operation_that_get_returns_again(api: Api, folder: str) -> None:
    created = _create(api, folder)
    workflow_id = created["metadata"]["workflowId"]
    updated = _update(api, workflow_id, "second")
    deleted = api.call("workflow_delete", path={"workflowId": workflow_id}).body

    for operation in (created, updated, deleted):
        reply = _get(api, operation["id"])
        assert reply.status == 200, reply.body
        assert reply.body == operation
    assert created["metadata"] == {
        "@type": WORKFLOWS + "CreateWorkflowMetadata",
        "workflowId": workflow_id,
    }
    assert created["response"]["@type"] == WORKFLOWS + "Workflow"
    assert updated["response"]["description"] == "second"
    assert created["response"]["description"] == ""  # the workflow as that operation left it
    assert deleted["metadata"]["@type"] == WORKFLOWS + "DeleteWorkflowMetadata"
    assert deleted["response"] == EMPTY
    assert all(o["done"] for o in (created, updated, deleted))
    assert len({o["id"] for o in (created, updated, deleted)}) == 3


def test_a_workflows_operations_are_listed_oldest_first(api: Api, folder: str) -> None:
    created = _create(api, folder)
    workflow_id = created["metadata"]["workflowId"]
    updates = [_update(api, workflow_id, f"v{n}") for n in range(2)]

    reply = _list(api, workflow_id)

    assert reply.status == 200, reply.body
    assert reply.body == {"operations": [created, *updates]}
    other = _create(api, folder, name="other")
    assert [o["id"] for o in _list(api, other["metadata"]["workflowId"]).body["operations"]] == [
        other["id"]
    ]


def test_operations_page_to_the_end_and_a_token_stays_with_its_workflow(
    api: Api, folder: str
) -> None:
    created = _create(api, folder)
    workflow_id = created["metadata"]["workflowId"]
    expected = [created["id"]] + [_update(api, workflow_id, f"v{n}")["id"] for n in range(4)]

    seen, pages, token = [], 0, None
    while True:
        query = {"pageSize": "2"} | ({"pageToken": token} if token else {})
        body = _list(api, workflow_id, **query).body
        seen += [o["id"] for o in body["operations"]]
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            break

    assert seen == expected
    assert pages == 3
    first = _list(api, workflow_id, pageSize="2").body["nextPageToken"]
    other = _create(api, folder, name="other")["metadata"]["workflowId"]
    reply = _list(api, other, pageToken=first)
    assert (reply.status, reply.body["code"]) == (400, 3)
    assert reply.body["message"].startswith("pageToken:")


def test_a_created_at_filter_narrows_the_list(api: Api, folder: str) -> None:
    created = _create(api, folder)
    workflow_id = created["metadata"]["workflowId"]
    later = _update(api, workflow_id, "later")

    after = _list(api, workflow_id, filter=f'created_at>"{created["createdAt"]}"').body
    upto = _list(api, workflow_id, filter=f"created_at<{later['createdAt']}").body
    exact = _list(api, workflow_id, filter=f"createdAt={created['createdAt']}").body
    none = _list(
        api,
        workflow_id,
        filter=f"created_at>{later['createdAt']} AND created_at<{created['createdAt']}",
    ).body

    assert [o["id"] for o in after["operations"]] == [later["id"]]
    assert [o["id"] for o in upto["operations"]] == [created["id"]]
    assert [o["id"] for o in exact["operations"]] == [created["id"]]
    assert none == {"operations": []}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status=DONE", "filter: unknown field 'status'; the supported field is created_at"),
        ("created_at>yesterday", "filter: created_at"),
        ("created_at!=2026-01-01T00:00:00Z", "filter: created_at supports '=', '<' and '>'"),
        ("created_at", "filter: cannot parse 'created_at'"),
    ],
)
def test_a_bad_filter_names_the_problem(
    api: Api, workflow_id: str, text: str, message: str
) -> None:
    reply = _list(api, workflow_id, filter=text)
    assert (reply.status, reply.body["code"]) == (400, 3)
    assert reply.body["message"].startswith(message), reply.body


def test_access_binding_changes_store_their_operations_too(api: Api, folder: str) -> None:
    workflow_id = _create(api, folder)["metadata"]["workflowId"]
    bindings = [binding(ADMIN, arn("stepline-dev")), binding(VIEWER, arn("reader"))]
    body = {"resourceId": workflow_id, "accessBindings": bindings}
    path = {"workflowId": f"{workflow_id}:setAccessBindings"}
    changed = api.call("access_set", path=path, body=body).body
    unchanged = api.call("access_set", path=path, body=body).body  # the same bindings again
    folder_set = api.call(
        "folder_access_set",
        path={"folderId": f"{folder}:setAccessBindings"},
        body={"resourceId": folder, "accessBindings": []},
    ).body

    for operation in (changed, unchanged, folder_set):
        assert _get(api, operation["id"]).body == operation
    assert changed["metadata"] == {
        "@type": ACCESS + "SetAccessBindingsMetadata",
        "resourceId": workflow_id,
    }
    assert folder_set["metadata"]["resourceId"] == folder
    listed = [o["id"] for o in _list(api, workflow_id).body["operations"]]
    assert listed[-2:] == [changed["id"], unchanged["id"]]


def test_cancel_answers_the_finished_operation_as_it_stands(api: Api, folder: str) -> None:
    created = _create(api, folder)
    reply = _get(api, f"{created['id']}:cancel")
    assert (reply.status, reply.body) == (200, created)


@pytest.mark.parametrize(
    ("operation_id", "status", "message"),
    [
        ("op" + "0" * 18, 404, "operationId: operation op000000000000000000 not found"),
        ("Not-An-Id", 400, "operationId: 'Not-An-Id' is not an operation id"),
        ("op" + "0" * 18 + ":retry", 404, "no such call"),
    ],
)
def test_an_unknown_or_malformed_operation_id(
    api: Api, operation_id: str, status: int, message: str
) -> None:
    reply = _get(api, operation_id)
    assert reply.status == status
    assert reply.body["message"].startswith(message), reply.body


def test_the_operations_of_a_missing_workflow_are_not_found(api: Api, folder: str) -> None:
    workflow_id = _create(api, folder)["metadata"]["workflowId"]
    api.call("workflow_delete", path={"workflowId": workflow_id})
    missing = "sw" + uuid.uuid4().hex[:18]

    for target in (workflow_id, missing):
        reply = _list(api, target)
        assert (reply.status, reply.body["code"]) == (404, 5)
        assert reply.body["message"] == f"workflowId: workflow {target} not found"
    bad = _list(api, "NOT_AN_ID")
    assert (bad.status, bad.body["message"]) == (
        400,
        "workflowId: 'NOT_AN_ID' is not a workflow id",
    )


def test_a_caller_who_may_not_view_the_workflow_sees_no_operation(api: Api, folder: str) -> None:
    workflow_id = _create(api, folder)["metadata"]["workflowId"]
    operation = _update(api, workflow_id, "private")
    set_folder(api, folder, binding(EDITOR, arn("stepline-dev")))

    reply = _get(someone(api), operation["id"])
    listed = _list(someone(api), workflow_id)

    assert (reply.status, reply.body["message"]) == (
        404,
        f"operationId: operation {operation['id']} not found",
    )
    assert (listed.status, listed.body["code"]) == (404, 5)
    assert _get(api, operation["id"]).body == operation
