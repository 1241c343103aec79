"""The OpenAPI document: valid OpenAPI 3.1, every route of template.yaml's HttpApi, the
committed copy current, and the response models true to what the API renders."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from openapi_spec_validator import validate

from stepline.access import Binding
from stepline.api import openapi, render
from stepline.api.errors import HTTP_STATUS
from stepline.service.paging import Page
from stepline.store.operations import OperationRecord
from stepline.store.records import WorkflowRecord

ROOT = Path(__file__).parents[2]
METHODS = ("get", "post", "patch", "delete", "put")


def _template_routes() -> set[str]:
    template = decode_str((ROOT / "template.yaml").read_text())[0]
    routes = set()
    for resource in template["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            props = event.get("Properties") or {}
            if event.get("Type") == "HttpApi" and props.get("ApiId") == {"Ref": "HttpApi"}:
                routes.add(f"{props['Method'].upper()} {props['Path']}")
    return routes


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in METHODS
    ]


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_committed_document_is_current() -> None:
    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert committed == openapi.document_json(), "docs/openapi.json is stale: run make openapi"


def test_document_names_every_route_of_the_template_and_no_other() -> None:
    named = {spec["x-stepline-route"] for _, _, spec in _operations(openapi.document())}
    assert named == _template_routes()


def test_each_operation_reaches_its_route_by_method_and_path() -> None:
    for path, method, spec in _operations(openapi.document()):
        route_method, route_path = spec["x-stepline-route"].split(" ", 1)
        assert route_method == method.upper()
        # A custom method (`…/{workflowId}:listAccessBindings`) reaches its resource's route;
        # one of a collection (`…/execution:sendTaskSuccess`) has a route of its own.
        assert route_path in (path, re.sub(r":[a-zA-Z]+$", "", path)), (path, route_path)


def test_every_path_parameter_is_declared() -> None:
    for path, _, spec in _operations(openapi.document()):
        declared = {p["name"] for p in spec.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), path


def test_start_calls_take_the_idempotency_key_header() -> None:
    for _, _, spec in _operations(openapi.document()):
        headers = {p["name"] for p in spec.get("parameters", []) if p["in"] == "header"}
        starts = spec["operationId"] in ("ExecutionService_Start", "ExecutionService_StartByLink")
        assert ("Idempotency-Key" in headers) == starts, spec["operationId"]


def test_list_calls_take_page_size_and_token() -> None:
    for _, _, spec in _operations(openapi.document()):
        query = {p["name"] for p in spec.get("parameters", []) if p["in"] == "query"}
        if spec["operationId"].split("_")[1].startswith("List"):
            assert {"pageSize", "pageToken"} <= query, spec["operationId"]


def test_every_operation_documents_every_error_status_with_the_error_body() -> None:
    document = openapi.document()
    statuses = {str(int(status)) for status in HTTP_STATUS.values()}
    for _, _, spec in _operations(document):
        assert statuses | {"200"} == set(spec["responses"]), spec["operationId"]
    for response in document["components"]["responses"].values():
        refs = response["content"]["application/json"]["schema"]["anyOf"]
        assert {"$ref": "#/components/schemas/Error"} in refs
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "details"}


def test_every_operation_is_sigv4_signed() -> None:
    document = openapi.document()
    assert document["security"] == [{"sigv4": []}]
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert all("security" not in spec for _, _, spec in _operations(document))


def test_links_name_operations_of_the_document() -> None:
    document = openapi.document()
    ids = {spec["operationId"] for _, _, spec in _operations(document)}
    for _, _, spec in _operations(document):
        for link in spec["responses"]["200"].get("links", {}).values():
            assert link["operationId"] in ids


def test_ids_in_the_document_are_unique() -> None:
    ids = [spec["operationId"] for _, _, spec in _operations(openapi.document())]
    assert len(ids) == len(set(ids))


AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _workflow() -> WorkflowRecord:
    return WorkflowRecord(
        id="swabc",
        folder_id="default",
        name="orders",
        spec_yaml=openapi.EXAMPLE_SPEC,
        created_at=AT,
        labels={"team": "core"},
        schedule={"cronExpression": "0/5 * * * ? *", "timezone": "Europe/Moscow"},
    )


def _operation(metadata_type: str, workflow: WorkflowRecord | None) -> OperationRecord:
    return OperationRecord(
        id="opabc",
        kind="workflow" if metadata_type.endswith("WorkflowMetadata") else "folder",
        resource_id="swabc" if workflow else "default",
        folder_id="default",
        description="a change",
        metadata_type=metadata_type,
        created_at=AT,
        created_by="arn:aws:iam::123456789012:root",
        workflow=workflow,
    )


@pytest.mark.parametrize(
    ("metadata_type", "with_workflow"),
    [
        ("CreateWorkflowMetadata", True),
        ("DeleteWorkflowMetadata", False),
        ("SetAccessBindingsMetadata", False),
    ],
)
def test_operation_models_take_what_render_answers(metadata_type: str, with_workflow: bool) -> None:
    record = _operation(metadata_type, _workflow() if with_workflow else None)
    rendered = render.stored_operation(record, "http://127.0.0.1:8080")
    openapi.Operation.model_validate_json(json.dumps(rendered))
    page = render.operation_page(Page([record], next_page_token="t"), "http://127.0.0.1:8080")
    openapi.ListOperationsResponse.model_validate_json(json.dumps(page))


def test_access_bindings_model_takes_what_render_answers() -> None:
    binding = Binding("serverless.workflows.viewer", "system", "allAuthenticatedUsers")
    page = {"accessBindings": [render.access_binding(binding)]}
    openapi.ListAccessBindingsResponse.model_validate_json(json.dumps(page))


def test_workflow_models_take_what_render_answers() -> None:
    body = {"workflow": render.workflow(_workflow(), "http://127.0.0.1:8080")}
    openapi.GetWorkflowResponse.model_validate_json(json.dumps(body))
    page = {"workflows": [render.workflow_preview(_workflow(), "http://127.0.0.1:8080")]}
    openapi.ListWorkflowsResponse.model_validate_json(json.dumps(page))


def test_swagger_page_is_offline_and_loads_the_served_document() -> None:
    status, headers, body = openapi.serve("/docs")
    page = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle(" in page and '"url": "/openapi.json"' in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)  # nothing fetched from elsewhere
