"""The transcoder's mapping of RPCs onto HTTP requests and answers, without a stack."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2
from yandex.cloud.operation import operation_pb2
from yandex.cloud.serverless.workflows.v1 import execution_pb2
from yandex.cloud.serverless.workflows.v1 import execution_service_pb2 as ex
from yandex.cloud.serverless.workflows.v1 import workflow_service_pb2 as wf

from stepline.cli.client import ApiError
from stepline.errors import Code
from stepline.gateway import transcoder


def _route(method: str) -> transcoder.Route:
    return next(r for r in transcoder.routes() if r.method == method and "Execution" in r.service)


class _PagedApi:
    """The HTTP API answering GetHistory in two pages, as it does past 4 MB of entries."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    def request(
        self, verb: str, path: str, *, params: dict[str, str], body: Any, headers: Any = None
    ) -> dict[str, Any]:
        self.asked.append(dict(params))
        if "pageToken" not in params:
            return {"execution": {"id": "e1"}, "entries": [{"id": "a"}], "nextPageToken": "t"}
        return {"execution": {"id": "e1"}, "entries": [{"id": "b"}]}


def test_a_history_the_api_pages_reaches_a_grpc_client_whole() -> None:
    api = _PagedApi()
    route = _route("GetHistory")
    path, query, body = route.http(ex.GetExecutionHistoryRequest(execution_id="e1"))

    data = transcoder.Transcoder(api).whole(route, path, query, body)  # type: ignore[arg-type]

    assert [e["id"] for e in data["entries"]] == ["a", "b"]
    assert "nextPageToken" not in data
    assert api.asked == [{}, {"pageToken": "t"}]


def test_path_fields_fill_the_path_and_the_rest_the_query() -> None:
    route = _route("List")
    request = ex.ListExecutionsRequest(workflow_id="w1", page_size=5, filter="status=FAILED")

    path, query, body = route.http(request)

    assert (route.verb, path, body) == ("GET", "/workflows/v1/execution", None)
    assert query == {"workflowId": "w1", "pageSize": "5", "filter": "status=FAILED"}
    stop = _route("Stop")
    assert stop.http(ex.StopExecutionRequest(execution_id="e1")) == (
        "/workflows/v1/execution/e1/stop",
        {},
        None,
    )


def test_a_path_field_stays_one_segment_whatever_it_holds() -> None:
    path, _, _ = _route("Get").http(ex.GetExecutionRequest(execution_id="../workflow/x"))

    assert path == "/workflows/v1/execution/..%2Fworkflow%2Fx"


class _NoApi:
    def request(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("not called")


def test_a_taken_port_is_refused_not_shared() -> None:
    server, port = transcoder.serve(_NoApi())  # type: ignore[arg-type]
    try:
        with pytest.raises(OSError, match=f"gRPC port {port} .* is in use"):
            transcoder.serve(_NoApi(), port=port)  # type: ignore[arg-type]
    finally:
        server.stop(grace=None)


def _update() -> transcoder.Route:
    return next(r for r in transcoder.routes() if r.method == "Update")


def test_every_field_a_mask_names_goes_with_its_value_defaults_included() -> None:
    request = wf.UpdateWorkflowRequest(workflow_id="w1", description="", name="kept-out")
    request.update_mask.paths.extend(["description", "labels", "logOptions", "is_public"])

    path, query, body = _update().http(request)

    assert (path, query) == ("/workflows/v1/workflow/w1", {})
    assert body == {
        "name": "kept-out",
        "description": "",
        "labels": {},
        "logOptions": None,
        "isPublic": False,
        "updateMask": "description,labels,logOptions,isPublic",
    }


def test_a_mask_path_naming_no_field_is_passed_on_for_the_api_to_refuse() -> None:
    request = wf.UpdateWorkflowRequest(workflow_id="w1")
    request.update_mask.paths.extend(["colour", "log_options.min_level"])

    _, _, body = _update().http(request)

    assert body == {"updateMask": "colour,log_options.min_level"}


def test_without_a_mask_only_the_fields_holding_a_value_go() -> None:
    request = wf.UpdateWorkflowRequest(
        workflow_id="w1", description="", labels={}, is_public=False, express=True
    )
    request.log_options.SetInParent()

    _, _, body = _update().http(request)

    assert body == {"express": True, "logOptions": {}}


def test_a_value_with_no_json_form_is_an_invalid_argument_naming_its_field() -> None:
    value = struct_pb2.Value()
    value.struct_value.update({"n": 1.0})
    value.struct_value["n"] = float("inf")
    request = ex.StartExecutionRequest(
        workflow_id="w1", input=execution_pb2.ExecutionInput(input_value=value)
    )

    with pytest.raises(ApiError) as raised:
        _route("Start").http(request)

    assert raised.value.code == Code.INVALID_ARGUMENT
    assert raised.value.message == "input.inputValue: Infinity is not a JSON value"


def test_the_query_is_encoded_as_sigv4_signs_it() -> None:
    text = transcoder.query_string({"filter": 'name="a/b" AND created_at>1+1', "pageSize": "2"})

    assert text == "filter=name%3D%22a%2Fb%22%20AND%20created_at%3E1%2B1&pageSize=2"


class _Aborted(Exception):
    pass


class _Context:
    def abort(self, code: Any, details: str) -> None:
        raise _Aborted(code, details)

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [("idempotency-key", "k1"), ("user-agent", "grpc-python")]


class _DeleteApi:
    def __init__(self) -> None:
        self.headers: list[Any] = []

    def request(self, *args: Any, headers: Any = None, **kwargs: Any) -> dict[str, Any]:
        self.headers.append(headers)
        return {
            "id": "op1",
            "done": True,
            "metadata": {
                "@type": "type.googleapis.com/"
                "yandex.cloud.serverless.workflows.v1.DeleteWorkflowMetadata",
                "workflowId": "w1",
            },
            "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
        }


def test_an_operation_answering_empty_reaches_the_client_and_its_key_the_api() -> None:
    route = next(r for r in transcoder.routes() if r.method == "Delete")
    api = _DeleteApi()
    answer = transcoder.Transcoder(api).handler(route)  # type: ignore[arg-type]

    operation = answer(wf.DeleteWorkflowRequest(workflow_id="w1"), _Context())  # type: ignore[arg-type]

    assert isinstance(operation, operation_pb2.Operation)
    assert operation.response.TypeName() == "google.protobuf.Empty"
    assert api.headers == [{"idempotency-key": "k1"}]
