"""Access bindings through the deployed functions and the signed edge (AccessBindings=when-bound).

Callers are IAM principals named as API Gateway names them (``requestContext.authorizer.iam``):
``Api.as_caller`` for the functions, real IAM users and their SigV4 signatures at the edge.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials

from stepline.access import Binding, Role
from stepline.dev.gateway import Gateway
from stepline.dev.stack import EmulatedStack
from stepline.store import keys
from stepline.store.access import AccessChanged

from .conftest import PARKED, SPEC, Api
from .test_edge import ROOT, call, user

ACCOUNT = "123456789012"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
VIEWER, EXECUTOR, EDITOR, ADMIN = (r.id for r in sorted(Role))


def arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def binding(role_id: str, subject_id: str, subject_type: str = "iamUser") -> dict[str, Any]:
    return {"roleId": role_id, "subject": {"id": subject_id, "type": subject_type}}


def someone(api: Api) -> Api:
    """A caller of its own (an IAM user no binding names unless the test says so)."""
    return api.as_caller(arn("u-" + uuid.uuid4().hex[:8]))


def who(caller: Api) -> str:
    """The caller's ARN."""
    assert caller.identity is not None
    return str(caller.identity["userArn"])


def set_bindings(caller: Api, workflow_id: str, *bindings: dict[str, Any]) -> dict[str, Any]:
    path = {"workflowId": f"{workflow_id}:setAccessBindings"}
    reply = caller.call("access_set", path=path, body={"accessBindings": list(bindings)})
    assert reply.status == 200, reply.body
    return reply.body


def set_folder(caller: Api, folder: str, *bindings: dict[str, Any]) -> dict[str, Any]:
    path = {"folderId": f"{folder}:setAccessBindings"}
    reply = caller.call("folder_access_set", path=path, body={"accessBindings": list(bindings)})
    assert reply.status == 200, reply.body
    return reply.body


def listed(caller: Api, workflow_id: str, **query: str) -> dict[str, Any]:
    path = {"workflowId": f"{workflow_id}:listAccessBindings"}
    reply = caller.call("access_list", path=path, query=query)
    assert reply.status == 200, reply.body
    return reply.body


def names(caller: Api, folder: str) -> list[str]:
    reply = caller.call("workflow_list", query={"folderId": folder})
    assert reply.status == 200, reply.body
    return [w["name"] for w in reply.body["workflows"]]


def refused(reply: Any, status: int, code: int, message: str) -> None:
    assert (reply.status, reply.body["code"]) == (status, code), reply.body
    assert reply.body["message"] == message


@pytest.fixture(scope="module")
def root(api: Api) -> Api:
    return api.as_caller(ROOT_ARN)


# --- the messages -------------------------------------------------------------------------


def test_set_list_and_update_have_the_messages_of_the_api(root: Api, workflow_id: str) -> None:
    a, b, c = (binding(VIEWER, arn(n)) for n in ("a", "b", "c"))
    operation = set_bindings(root, workflow_id, a, b)
    assert operation["done"] is True
    assert operation["createdBy"] == ROOT_ARN
    assert operation["metadata"] == {
        "@type": "type.googleapis.com/yandex.cloud.access.SetAccessBindingsMetadata",
        "resourceId": workflow_id,
    }
    assert operation["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    assert listed(root, workflow_id) == {"accessBindings": [a, b]}

    first = listed(root, workflow_id, pageSize="1")
    assert first["accessBindings"] == [a]
    rest = listed(root, workflow_id, pageToken=first["nextPageToken"])
    assert rest == {"accessBindings": [b]}

    deltas = [
        {"action": "ADD", "accessBinding": c},
        {"action": "REMOVE", "accessBinding": a},
        {"action": "ADD", "accessBinding": b},  # already there: no change
        {"action": "REMOVE", "accessBinding": binding(ADMIN, arn("nobody"))},  # not there
    ]
    path = {"workflowId": f"{workflow_id}:updateAccessBindings"}
    reply = root.call("access_update", path=path, body={"accessBindingDeltas": deltas})
    assert reply.status == 200, reply.body
    assert reply.body["metadata"] == {
        "@type": "type.googleapis.com/yandex.cloud.access.UpdateAccessBindingsMetadata",
        "resourceId": workflow_id,
    }
    assert listed(root, workflow_id) == {"accessBindings": [b, c]}
    set_bindings(root, workflow_id, b, b)  # a repeat is kept once
    assert listed(root, workflow_id) == {"accessBindings": [b]}


def test_folder_bindings_have_the_same_messages(root: Api, folder: str) -> None:
    editor = binding(EDITOR, arn("folder-editor"))
    operation = set_folder(root, folder, editor)
    assert operation["metadata"]["resourceId"] == folder
    reply = root.call("folder_access_list", path={"folderId": f"{folder}:listAccessBindings"})
    assert reply.body == {"accessBindings": [editor]}
    deltas = [{"action": "REMOVE", "accessBinding": editor}]
    path = {"folderId": f"{folder}:updateAccessBindings"}
    reply = root.call("folder_access_update", path=path, body={"accessBindingDeltas": deltas})
    assert reply.status == 200, reply.body
    reply = root.call("folder_access_list", path={"folderId": f"{folder}:listAccessBindings"})
    assert reply.body == {"accessBindings": []}


GOOD = binding(VIEWER, arn("x"))
ROLE_WITH_PATH = f"arn:aws:iam::{ACCOUNT}:role/a/*"
UNSPECIFIED = {"action": "ACCESS_BINDING_ACTION_UNSPECIFIED", "accessBinding": GOOD}
BAD_SETS = [
    ([binding("serverless.workflows.owner", arn("x"))], ".0.roleId: Value error, unknown role"),
    ([binding(VIEWER, arn("x"), "userAccount")], ".0.subject.type: Value error, unknown type"),
    ([binding(VIEWER, "aje1")], ".0.subject.id: Value error, 'aje1' is not an IAM user ARN"),
    ([binding(VIEWER, ROLE_WITH_PATH, "iamRole")], ".0.subject.id: Value error, a role ARN with"),
    ([{"roleId": VIEWER}], ".0.subject: Field required"),
    ([GOOD] * 1001, ": List should have at most 1000 items"),
]
BAD_BODIES = [
    ("access_set", {"accessBindings": bindings}, "accessBindings" + field)
    for bindings, field in BAD_SETS
] + [
    ("access_set", {"resourceId": "swother"}, "resourceId: 'swother' is not the workflow of"),
    ("access_set", {"bindings": []}, "bindings: unknown field"),
    ("access_update", {}, "accessBindingDeltas: Field required"),
    ("access_update", {"accessBindingDeltas": []}, "accessBindingDeltas: List should have at"),
    ("access_update", {"accessBindingDeltas": [UNSPECIFIED]}, "accessBindingDeltas.0.action: "),
]


@pytest.mark.parametrize(("event", "body", "field"), BAD_BODIES)
def test_bad_bindings_are_refused_naming_the_field(
    api: Api, workflow_id: str, event: str, body: dict[str, Any], field: str
) -> None:
    verb = "setAccessBindings" if event == "access_set" else "updateAccessBindings"
    reply = api.call(event, path={"workflowId": f"{workflow_id}:{verb}"}, body=body)
    assert (reply.status, reply.body["code"]) == (400, 3), reply.body
    assert reply.body["message"].startswith(field), reply.body["message"]


def test_other_custom_methods_and_bad_ids_are_refused(api: Api, workflow_id: str) -> None:
    reply = api.call("access_list", path={"workflowId": f"{workflow_id}:listBindings"})
    refused(reply, 404, 5, f"no such call: GET /workflows/v1/workflow/{workflow_id}:listBindings")
    reply = api.call("access_set", path={"workflowId": workflow_id}, body={})
    assert (reply.status, reply.body["code"]) == (404, 5)
    reply = api.call("folder_access_list", path={"folderId": "-bad:listAccessBindings"})
    assert (reply.status, reply.body["message"]) == (400, "folderId: '-bad' is not a folder id")
    reply = api.call("access_list", path={"workflowId": "swnosuchworkflow00:listAccessBindings"})
    refused(reply, 404, 5, "workflowId: workflow swnosuchworkflow00 not found")


# --- no bindings: as before ---------------------------------------------------------------


def test_with_no_binding_anywhere_every_signed_caller_may_do_everything(
    api: Api, folder: str
) -> None:
    anyone = someone(api)
    workflow_id = anyone.create_workflow(folder, name="open")
    execution_id = anyone.start(workflow_id)
    assert anyone.call("get", path={"executionId": execution_id}).status == 200
    assert names(someone(api), folder) == ["open"]
    assert listed(someone(api), workflow_id) == {"accessBindings": []}
    update = someone(api).call(
        "workflow_update", path={"workflowId": workflow_id}, body={"description": "d"}
    )
    assert update.status == 200, update.body


# --- roles ---------------------------------------------------------------------------------


def test_a_viewer_sees_but_may_not_start_stop_update_or_bind(
    api: Api, root: Api, parked_id: str
) -> None:
    execution_id = root.start(parked_id)
    viewer = someone(api)
    set_bindings(root, parked_id, binding(VIEWER, who(viewer)))

    on = {"workflowId": parked_id}
    assert viewer.call("workflow_get", path=on).status == 200
    assert viewer.call("get", path={"executionId": execution_id}).status == 200
    assert viewer.call("history", path={"executionId": execution_id}).status == 200
    listed_executions = viewer.call("list", query={"workflowId": parked_id}).body
    assert [e["id"] for e in listed_executions["executions"]] == [execution_id]
    assert len(listed(viewer, parked_id)["accessBindings"]) == 1

    executor_needed = f"permission denied: {EXECUTOR} on workflow {parked_id} is required"
    start = {"workflowId": parked_id, "input": {"inputJson": "{}"}}
    refused(viewer.call("start", body=start), 403, 7, executor_needed)
    refused(viewer.call("start_by_link", path=on, raw_body="{}"), 403, 7, executor_needed)
    for event in ("stop", "terminate"):
        reply = viewer.call(event, path={"executionId": execution_id})
        refused(reply, 403, 7, executor_needed)
    reply = viewer.call("workflow_update", path=on, body={"description": "mine"})
    refused(reply, 403, 7, f"permission denied: {EDITOR} on workflow {parked_id} is required")
    reply = viewer.call(
        "access_set", path={"workflowId": f"{parked_id}:setAccessBindings"}, body={}
    )
    refused(reply, 403, 7, f"permission denied: {ADMIN} on workflow {parked_id} is required")


def test_a_caller_who_may_not_view_a_workflow_is_told_it_does_not_exist(
    api: Api, root: Api, parked_id: str
) -> None:
    execution_id = root.start(parked_id)
    set_bindings(root, parked_id, binding(ADMIN, arn("the-owner")))
    stranger = someone(api)  # the fixture files' caller is no stranger to other tests' workflows
    workflow_missing = f"workflowId: workflow {parked_id} not found"
    execution_missing = f"executionId: execution {execution_id} not found"
    on = {"workflowId": parked_id}
    for event in ("workflow_get", "workflow_delete"):
        refused(stranger.call(event, path=on), 404, 5, workflow_missing)
    refused(stranger.call("workflow_update", path=on, body={}), 404, 5, workflow_missing)
    start = {"workflowId": parked_id, "input": {"inputJson": "{}"}}
    refused(stranger.call("start", body=start), 404, 5, workflow_missing)
    path = {"workflowId": f"{parked_id}:listAccessBindings"}
    refused(stranger.call("access_list", path=path), 404, 5, workflow_missing)
    for event in ("get", "history", "stop", "terminate"):
        reply = stranger.call(event, path={"executionId": execution_id})
        refused(reply, 404, 5, execution_missing)
    assert stranger.call("list", query={"workflowId": parked_id}).body == {"executions": []}


def test_an_executor_starts_and_stops_but_may_not_update(
    api: Api, root: Api, parked_id: str
) -> None:
    executor = someone(api)
    set_bindings(root, parked_id, binding(EXECUTOR, who(executor)))
    execution_id = executor.start(parked_id)
    assert executor.call("stop", path={"executionId": execution_id}).status == 200
    reply = executor.call("workflow_update", path={"workflowId": parked_id}, body={})
    refused(reply, 403, 7, f"permission denied: {EDITOR} on workflow {parked_id} is required")
    reply = executor.call("workflow_delete", path={"workflowId": parked_id})
    refused(reply, 403, 7, f"permission denied: {EDITOR} on workflow {parked_id} is required")


def test_an_editor_updates_and_an_admin_binds(api: Api, root: Api, workflow_id: str) -> None:
    editor, admin = someone(api), someone(api)
    set_bindings(
        root,
        workflow_id,
        binding(EDITOR, who(editor)),
        binding(ADMIN, who(admin)),
    )
    reply = editor.call(
        "workflow_update", path={"workflowId": workflow_id}, body={"description": "e"}
    )
    assert reply.status == 200, reply.body
    reply = editor.call(
        "access_set", path={"workflowId": f"{workflow_id}:setAccessBindings"}, body={}
    )
    refused(reply, 403, 7, f"permission denied: {ADMIN} on workflow {workflow_id} is required")
    set_bindings(admin, workflow_id, binding(ADMIN, who(admin)))
    assert editor.call("workflow_get", path={"workflowId": workflow_id}).status == 404


def test_the_account_root_may_do_everything_everywhere(api: Api, root: Api, parked_id: str) -> None:
    set_bindings(root, parked_id, binding(VIEWER, arn("only-viewer")))
    execution_id = root.start(parked_id)
    assert root.call("terminate", path={"executionId": execution_id}).status == 200
    reply = root.call("workflow_update", path={"workflowId": parked_id}, body={"description": "r"})
    assert reply.status == 200, reply.body
    other_root = api.as_caller("arn:aws:iam::999999999999:root")  # not this account's
    assert other_root.call("workflow_get", path={"workflowId": parked_id}).status == 404


# --- folders -------------------------------------------------------------------------------


def test_folder_bindings_apply_to_every_workflow_in_it_and_to_create(
    api: Api, root: Api, folder: str
) -> None:
    first, second = (root.create_workflow(folder, name=n) for n in ("first", "second"))
    executor, stranger = someone(api), someone(api)
    set_folder(root, folder, binding(EXECUTOR, who(executor)))

    for workflow_id in (first, second):
        executor.start(workflow_id)
    assert names(executor, folder) == ["first", "second"]
    body = {"folderId": folder, "name": "third", "specification": {"specYaml": SPEC}}
    editor_needed = f"permission denied: {EDITOR} on folder {folder} is required"
    refused(executor.call("workflow_create", body=body), 403, 7, editor_needed)
    path = {"folderId": f"{folder}:listAccessBindings"}
    assert executor.call("folder_access_list", path=path).status == 200
    path = {"folderId": f"{folder}:setAccessBindings"}
    reply = executor.call("folder_access_set", path=path, body={})
    refused(reply, 403, 7, f"permission denied: {ADMIN} on folder {folder} is required")

    assert names(stranger, folder) == []
    reply = stranger.call("workflow_get", path={"workflowId": first})
    refused(reply, 404, 5, f"workflowId: workflow {first} not found")
    refused(stranger.call("workflow_create", body=body), 403, 7, editor_needed)
    reply = stranger.call("folder_access_list", path={"folderId": f"{folder}:listAccessBindings"})
    refused(reply, 403, 7, f"permission denied: {VIEWER} on folder {folder} is required")
    assert names(stranger, folder + "x") == []  # another folder: nothing of this one's
    stranger.create_workflow(folder + "x", name="elsewhere")  # and not guarded


def test_list_shows_only_the_workflows_the_caller_may_view(
    api: Api, root: Api, admin: Any, folder: str
) -> None:
    bound = root.create_workflow(folder, name="a-bound")
    root.create_workflow(folder, name="b-open")
    root.create_workflow(folder, name="c-open")
    viewer, stranger = someone(api), someone(api)
    set_bindings(root, bound, binding(VIEWER, who(viewer)))
    assert admin.access.folder(folder).bound_workflows == 1

    assert names(viewer, folder) == ["a-bound", "b-open", "c-open"]
    assert names(stranger, folder) == ["b-open", "c-open"]
    pages, token = [], None
    while True:  # a page may hold fewer than pageSize, and still have a next one
        query = {"folderId": folder, "pageSize": "1"} | ({"pageToken": token} if token else {})
        body = stranger.call("workflow_list", query=query).body
        pages.append([w["name"] for w in body["workflows"]])
        if not (token := body.get("nextPageToken")):
            break
    assert pages == [[], ["b-open"], ["c-open"]]

    set_bindings(root, bound)  # no bindings left: open again, and not counted
    assert admin.access.folder(folder).bound_workflows == 0
    assert names(stranger, folder) == ["a-bound", "b-open", "c-open"]


# --- subjects ------------------------------------------------------------------------------


def test_wildcards_roles_and_every_authenticated_user_match(
    api: Api, root: Api, workflow_id: str
) -> None:
    set_bindings(
        root,
        workflow_id,
        binding(VIEWER, arn("team-*")),
        binding(EXECUTOR, f"arn:aws:iam::{ACCOUNT}:role/ops/deployer", "iamRole"),
    )
    on = {"workflowId": workflow_id}
    team = api.as_caller(arn("team-a"))
    assert team.call("workflow_get", path=on).status == 200
    start = {"workflowId": workflow_id, "input": {"inputJson": "{}"}}
    assert team.call("start", body=start).status == 403
    assert api.as_caller(arn("teamless")).call("workflow_get", path=on).status == 404
    session = api.as_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci-7")
    assert session.call("start", body=start).status == 200
    other = api.as_caller(f"arn:aws:sts::{ACCOUNT}:assumed-role/tester/ci-7")
    assert other.call("workflow_get", path=on).status == 404

    set_bindings(root, workflow_id, binding(VIEWER, "allAuthenticatedUsers", "system"))
    assert other.call("workflow_get", path=on).status == 200
    assert other.call("start", body=start).status == 403


# --- what outlives what ----------------------------------------------------------------------


def test_the_executions_of_a_deleted_workflow_stay_guarded(
    api: Api, root: Api, folder: str
) -> None:
    workflow_id = root.create_workflow(folder, name="gone")
    execution_id = root.start(workflow_id)
    viewer, stranger = someone(api), someone(api)
    set_bindings(root, workflow_id, binding(VIEWER, who(viewer)))
    assert root.call("workflow_delete", path={"workflowId": workflow_id}).status == 200

    assert viewer.call("get", path={"executionId": execution_id}).status == 200
    assert stranger.call("get", path={"executionId": execution_id}).status == 404
    executions = viewer.call("list", query={"workflowId": workflow_id}).body["executions"]
    assert [e["id"] for e in executions] == [execution_id]
    assert stranger.call("list", query={"workflowId": workflow_id}).body == {"executions": []}


def test_an_execution_head_without_its_folder_is_guarded_by_its_workflows(
    api: Api, root: Api, aws: dict[str, str], folder: str
) -> None:
    workflow_id = root.create_workflow(folder, name="older")
    execution_id = root.start(workflow_id)
    table = boto3.resource("dynamodb").Table(aws["Table"])
    table.update_item(Key=keys.execution(execution_id), UpdateExpression="REMOVE folderId")
    viewer = someone(api)
    set_folder(root, folder, binding(VIEWER, who(viewer)))
    assert viewer.call("get", path={"executionId": execution_id}).status == 200
    assert someone(api).call("get", path={"executionId": execution_id}).status == 404


def test_a_change_made_meanwhile_is_not_overwritten(
    admin: Any, workflow_id: str, folder: str
) -> None:
    old = admin.access.workflow(workflow_id)
    first = (Binding(Role.VIEWER.id, "iamUser", arn("first")),)
    admin.access.replace_workflow(workflow_id, folder, old, first)
    with pytest.raises(AccessChanged):
        admin.access.replace_workflow(workflow_id, folder, old, ())
    assert admin.access.workflow(workflow_id).bindings == first


# --- the signed edge ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge(stack: EmulatedStack) -> Gateway:
    return stack.gateway()


def _creds(stack: EmulatedStack, name: str) -> tuple[Credentials, str]:
    return user(stack, name, ["execute-api:Invoke"]), arn(name)


def test_two_iam_users_at_the_edge_get_what_their_bindings_give(
    stack: EmulatedStack, edge: Gateway, folder: str
) -> None:
    (viewer, viewer_arn), (executor, executor_arn) = (
        _creds(stack, f"edge-{role}-{folder}") for role in ("viewer", "executor")
    )
    spec = {"folderId": folder, "name": "signed", "specification": {"specYaml": PARKED}}
    status, created = call(edge, "POST", "/workflows/v1/workflow", spec, credentials=ROOT)
    assert status == 200, created
    workflow_id = created["metadata"]["workflowId"]
    bindings = {"accessBindings": [binding(VIEWER, viewer_arn), binding(EXECUTOR, executor_arn)]}
    resource = f"/workflows/v1/workflow/{workflow_id}"
    status, body = call(edge, "POST", f"{resource}:setAccessBindings", bindings, credentials=ROOT)
    assert status == 200, body

    for path in (f"{resource}:listAccessBindings", f"{resource}%3AlistAccessBindings"):
        status, body = call(edge, "GET", path, credentials=viewer)
        assert (status, body) == (200, bindings), path
    start = {"workflowId": workflow_id, "input": {"inputJson": "{}"}}
    status, body = call(edge, "POST", "/workflows/v1/execution/start", start, credentials=viewer)
    assert (status, body["code"]) == (403, 7)
    assert body["message"] == f"permission denied: {EXECUTOR} on workflow {workflow_id} is required"

    status, body = call(edge, "POST", "/workflows/v1/execution/start", start, credentials=executor)
    assert status == 200, body
    execution = f"/workflows/v1/execution/{body['executionId']}"
    assert call(edge, "GET", execution, credentials=viewer)[0] == 200
    assert call(edge, "POST", f"{execution}/stop", credentials=viewer)[0] == 403
    assert call(edge, "POST", f"{execution}/stop", credentials=executor)[0] == 200

    stranger, _ = _creds(stack, f"edge-stranger-{folder}")
    status, body = call(
        edge, "GET", f"/workflows/v1/workflow?folderId={folder}", credentials=stranger
    )
    assert (status, body) == (200, {"workflows": []})
    status, body = call(
        edge, "GET", f"/workflows/v1/workflow?folderId={folder}", credentials=viewer
    )
    assert [w["id"] for w in body["workflows"]] == [workflow_id]
    assert call(edge, "GET", resource, credentials=stranger)[0] == 404


def test_folder_bindings_at_the_edge_match_a_role_session(
    stack: EmulatedStack, edge: Gateway, folder: str
) -> None:
    iam = stack.clients("iam")
    name = f"deployer-{folder}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = iam.create_role(
        RoleName=name, Path="/ops/", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    invoke = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="api", PolicyDocument=json.dumps(invoke))
    granted = stack.clients("sts").assume_role(RoleArn=role_arn, RoleSessionName="ci")[
        "Credentials"
    ]
    session = Credentials(
        granted["AccessKeyId"], granted["SecretAccessKey"], granted["SessionToken"]
    )

    folder_path = f"/workflows/v1/folder/{folder}"
    editor = {"accessBindings": [binding(EDITOR, role_arn, "iamRole")]}
    status, body = call(edge, "POST", f"{folder_path}:setAccessBindings", editor, credentials=ROOT)
    assert status == 200, body
    spec = {"folderId": folder, "name": "by-role", "specification": {"specYaml": SPEC}}
    status, body = call(edge, "POST", "/workflows/v1/workflow", spec, credentials=session)
    assert status == 200, body
    assert body["createdBy"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/ci"
    status, body = call(edge, "GET", f"{folder_path}:listAccessBindings", credentials=session)
    assert (status, body) == (200, editor)
