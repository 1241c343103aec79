"""The transcoder's mapping of RPCs onto HTTP requests and answers, without a stack."""

from __future__ import annotations

from typing import Any

import pytest
from yandex.cloud.serverless.workflows.v1 import execution_service_pb2 as ex

from stepline.gateway import transcoder


def _route(method: str) -> transcoder.Route:
    return next(r for r in transcoder.routes() if r.method == method and "Execution" in r.service)


class _PagedApi:
    """The HTTP API answering GetHistory in two pages, as it does past 4 MB of entries."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    def request(
        self, verb: str, path: str, *, params: dict[str, str], body: dict[str, Any] | None
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
