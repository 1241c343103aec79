"""WorkflowService: Create, Get, Update, Delete, List."""

from __future__ import annotations

import pytest

from tests.integration.conftest import SPEC, Api


def test_create_answers_with_a_finished_operation(api: Api, folder: str) -> None:
    reply = api.call(
        "workflow_create",
        body={
            "folderId": folder,
            "name": "orders",
            "description": "Order processing",
            "labels": {"team": "payments"},
            "specification": {"specYaml": SPEC},
        },
    )
    assert reply.status == 200, reply.body
    operation = reply.body
    assert operation["done"] is True
    assert operation["metadata"]["workflowId"] == operation["response"]["id"]
    workflow = operation["response"]
    assert workflow["status"] == "ACTIVE"
    assert workflow["specification"] == {"specYaml": SPEC}
    assert workflow["labels"] == {"team": "payments"}
    assert workflow["executionUrl"].endswith(f"/workflows/v1/execution/{workflow['id']}/start")


def test_get_returns_what_was_created(api: Api, workflow_id: str, folder: str) -> None:
    workflow = api.call("workflow_get", path={"workflowId": workflow_id}).body["workflow"]
    assert (workflow["id"], workflow["folderId"], workflow["name"]) == (
        workflow_id,
        folder,
        "orders",
    )


def test_folder_defaults_to_default(api: Api) -> None:
    import uuid

    name = "w" + uuid.uuid4().hex[:10]
    reply = api.call("workflow_create", body={"name": name, "specification": {"specYaml": SPEC}})
    assert reply.body["response"]["folderId"] == "default"


def test_names_are_unique_per_folder(api: Api, folder: str) -> None:
    api.create_workflow(folder, "orders")
    again = api.call(
        "workflow_create",
        body={"folderId": folder, "name": "orders", "specification": {"specYaml": SPEC}},
    )
    elsewhere = api.call(
        "workflow_create",
        body={"folderId": folder + "x", "name": "orders", "specification": {"specYaml": SPEC}},
    )
    assert (again.status, again.body["code"]) == (409, 6)
    assert again.body["message"].startswith("name:")
    assert elsewhere.status == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "Orders"}, "name: String should match pattern"),
        ({"name": "a" * 64}, "name: String should match pattern"),
        ({"name": "orders-"}, "name: String should match pattern"),
        ({"description": "d" * 257}, "description: String should have at most 256"),
        ({"labels": {"Team": "x"}}, "label key 'Team'"),
        ({"labels": {"team": "X"}}, "label value 'X'"),
        ({"specification": {"specYaml": "just text"}}, "must be a mapping with yawl, start"),
        (
            {"specification": {"specYaml": "yawl: '0.1'"}},
            "start: required field is missing; line 1 col 1: steps: required field is missing",
        ),
        ({"specification": {"specYaml": "a: [1"}}, "line 1 col 6: <root>: not valid YAML"),
        ({"specification": {}}, "specification.specYaml: Field required"),
        ({"express": "yes"}, "express: Input should be a valid boolean"),
        ({"logOptions": {"minLevel": "LOUD"}}, "logOptions.minLevel: Input should be"),
        ({"schedule": {"cronExpression": "0 * * * ? *"}}, "schedule.timezone: Field required"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"networkId": "enp1"}, "networkId: Value error, a VPC network is not applicable"),
    ],
)
def test_create_rejects_bad_fields_naming_them(
    api: Api, folder: str, fields: dict, message: str
) -> None:
    reply = api.call(
        "workflow_create",
        body={"folderId": folder, "name": "orders", "specification": {"specYaml": SPEC}} | fields,
    )
    assert (reply.status, reply.body["code"]) == (400, 3), reply.body
    assert message in reply.body["message"]
    listed = api.call("workflow_list", query={"folderId": folder}).body
    assert listed["workflows"] == []


def test_update_with_mask_changes_only_listed_fields(api: Api, workflow_id: str) -> None:
    reply = api.call(
        "workflow_update",
        path={"workflowId": workflow_id},
        body={"description": "new", "labels": {"a": "b"}, "updateMask": "description"},
    )
    workflow = reply.body["response"]
    assert (workflow["description"], workflow["labels"]) == ("new", {})


def test_update_mask_resets_listed_but_absent_fields(api: Api, folder: str) -> None:
    created = api.call(
        "workflow_create",
        body={
            "folderId": folder,
            "name": "orders",
            "description": "old",
            "specification": {"specYaml": SPEC},
        },
    ).body["response"]
    reply = api.call(
        "workflow_update", path={"workflowId": created["id"]}, body={"updateMask": "description"}
    )
    assert reply.body["response"]["description"] == ""


def test_update_without_mask_changes_fields_present(api: Api, workflow_id: str) -> None:
    reply = api.call("workflow_update", path={"workflowId": workflow_id}, body={"name": "renamed"})
    workflow = reply.body["response"]
    assert (workflow["name"], workflow["specification"]["specYaml"]) == ("renamed", SPEC)


def test_rename_frees_the_old_name_and_respects_uniqueness(api: Api, folder: str) -> None:
    first = api.create_workflow(folder, "alpha")
    api.create_workflow(folder, "beta")
    clash = api.call("workflow_update", path={"workflowId": first}, body={"name": "beta"})
    assert (clash.status, clash.body["code"]) == (409, 6)
    moved = api.call("workflow_update", path={"workflowId": first}, body={"name": "gamma"})
    assert moved.status == 200
    api.create_workflow(folder, "alpha")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"updateMask": "name"}, "name: required"),
        ({"updateMask": "colour"}, "updateMask: updateMask names unknown fields ['colour']"),
        ({"specification": {"specYaml": "nope"}}, "specification.specYaml: line 1 col 1"),
        ({"folderId": "other"}, "folderId: unknown field"),
        ({"networkId": "enp1", "updateMask": "networkId"}, "networkId: Value error, a VPC"),
    ],
)
def test_update_rejects_bad_requests(api: Api, workflow_id: str, body: dict, message: str) -> None:
    reply = api.call("workflow_update", path={"workflowId": workflow_id}, body=body)
    assert (reply.status, reply.body["code"]) == (400, 3), reply.body
    assert message in reply.body["message"]


def test_delete_removes_the_workflow_and_frees_its_name(api: Api, folder: str) -> None:
    workflow_id = api.create_workflow(folder, "orders")
    reply = api.call("workflow_delete", path={"workflowId": workflow_id})
    assert reply.status == 200
    assert reply.body["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    assert api.call("workflow_get", path={"workflowId": workflow_id}).status == 404
    start = api.call("start", body={"workflowId": workflow_id})
    assert start.status == 404
    api.create_workflow(folder, "orders")


def test_delete_and_get_of_unknown_workflow_are_not_found(api: Api) -> None:
    for call in ("workflow_get", "workflow_delete"):
        reply = api.call(call, path={"workflowId": "swnosuchworkflow00000"})
        assert (reply.status, reply.body["code"]) == (404, 5)


def test_list_pages_by_name_and_filters_by_name(api: Api, folder: str) -> None:
    for name in ["c-flow", "a-flow", "b-flow"]:
        api.create_workflow(folder, name)
    first = api.call("workflow_list", query={"folderId": folder, "pageSize": "2"}).body
    second = api.call(
        "workflow_list",
        query={"folderId": folder, "pageSize": "2", "pageToken": first["nextPageToken"]},
    ).body
    names = [w["name"] for w in first["workflows"] + second["workflows"]]
    assert names == ["a-flow", "b-flow", "c-flow"]
    assert "specification" not in first["workflows"][0]

    only = api.call("workflow_list", query={"folderId": folder, "filter": 'name="b-flow"'}).body
    assert [w["name"] for w in only["workflows"]] == ["b-flow"]


def test_list_filters_by_creation_time_alone_or_with_the_name(api: Api, folder: str) -> None:
    api.create_workflow(folder, "early")
    listed = api.call("workflow_list", query={"folderId": folder}).body["workflows"]
    created = listed[0]["createdAt"]
    api.create_workflow(folder, "late")
    late = [w for w in api.call("workflow_list", query={"folderId": folder}).body["workflows"]]
    assert [w["name"] for w in late] == ["early", "late"]

    def names(filter_text: str) -> list[str]:
        reply = api.call("workflow_list", query={"folderId": folder, "filter": filter_text})
        assert reply.status == 200, reply.body
        return [w["name"] for w in reply.body["workflows"]]

    assert names(f"created_at>{created}") == ["late"]
    assert names(f"created_at<{created}") == []
    assert names(f'created_at={created} AND name="early"') == ["early"]
    assert names("created_at>2000-01-01T00:00:00Z AND name=late") == ["late"]


@pytest.mark.parametrize(
    ("filter_text", "message"),
    [
        ("owner=me", "unknown field 'owner'; supported fields are name, created_at"),
        ("name>a", "name supports only '='"),
        ("created_at>yesterday", "is not an RFC 3339 timestamp"),
        ("name=a AND name=b", "name is given twice"),
    ],
)
def test_list_refuses_filters_it_cannot_answer(
    api: Api, folder: str, filter_text: str, message: str
) -> None:
    reply = api.call("workflow_list", query={"folderId": folder, "filter": filter_text})
    assert (reply.status, reply.body["code"]) == (400, 3)
    assert message in reply.body["message"]


def test_list_rejects_unsupported_filters(api: Api, folder: str) -> None:
    reply = api.call("workflow_list", query={"folderId": folder, "filter": "owner=me"})
    assert (reply.status, reply.body["code"]) == (400, 3)
    assert reply.body["message"].startswith("filter:")


def test_unknown_route_is_a_json_not_found(api: Api) -> None:
    reply = api.call("workflow_get", path={"workflowId": "x/y"})
    assert reply.status in (400, 404)
    assert reply.body["code"] in (3, 5)


def test_create_lists_every_spec_problem_with_path_and_line(api: Api, folder: str) -> None:
    spec = (
        "yawl: '0.1'\n"
        "start: first\n"
        "steps:\n"
        "  first:\n"
        "    httpCall:\n"
        "      url: https://example.com\n"
        "      retryPolicy: {errorList: [ALL], retryCount: 500}\n"
        "      next: nowhere\n"
        "  telegram:\n"
        "    telegramBot: {token: x}\n"
    )
    reply = api.call(
        "workflow_create",
        body={"folderId": folder, "name": "bad", "specification": {"specYaml": spec}},
    )
    assert (reply.status, reply.body["code"]) == (400, 3)
    message = reply.body["message"]
    assert "steps.first.httpCall.retryPolicy.retryCount" in message
    assert "steps.first.httpCall.next" in message and "nowhere" in message
    assert "telegramBot" in message and "not supported" in message
    assert "line 7" in message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    noOp: {}\nx: " + "[" * 500 + "]" * 500,
            "specification.specYaml: line 6 col 68: x: nested deeper than 64 levels",
        ),
        (
            "".join("  " * i + f"k{i}:\n" for i in range(300)),
            "specification.specYaml: line 65 col 129: k0.k1.k2",
        ),
        (
            "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    while:\n      max_iterations: "
            + "9" * 5000
            + "\n      do: {start: w, steps: {w: {wait: {duration: 1s}}}}\n",
            "steps.a.while.max_iterations: a number literal has 5000 characters",
        ),
        (
            "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    wait: {duration: '1e300'}\n",
            "steps.a.wait.duration: wait duration '1e300' is longer than an execution may run",
        ),
        (
            "yawl: '0.1'\nstart: a\nsteps:\n  a:\n    httpCall: {url: 'https://x/\\($global.id)'}\n",
            "steps.a.httpCall.url: $global is not defined in httpCall url",
        ),
    ],
    ids=["flow-500-deep", "block-300-deep", "5000-digits", "wait-1e300", "global-in-url"],
)
def test_create_refuses_specs_beyond_the_bounds_with_a_located_error(
    api: Api, folder: str, spec: str, message: str
) -> None:
    reply = api.call(
        "workflow_create",
        body={"folderId": folder, "name": "bounded", "specification": {"specYaml": spec}},
    )
    assert (reply.status, reply.body["code"]) == (400, 3), reply.body
    assert message in reply.body["message"]
