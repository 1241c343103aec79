"""Responses in proto3 JSON form, carrying exactly the fields of the public messages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepline.access import Binding
from stepline.api.proto import duration, from_stored, timestamp
from stepline.store.operations import OperationRecord
from stepline.store.records import ExecutionRecord, WorkflowRecord

if TYPE_CHECKING:
    from stepline.service.paging import Page

_TYPE_PREFIX = "type.googleapis.com/"
_WORKFLOWS_PACKAGE = "yandex.cloud.serverless.workflows.v1"
_ACCESS_PACKAGE = "yandex.cloud.access"


def _elapsed(record: ExecutionRecord, now: datetime) -> str:
    end = record.finished_at or now
    return duration(end - record.started_at)


def execution_preview(record: ExecutionRecord, now: datetime) -> dict[str, Any]:
    """ExecutionPreview: id, workflowId, status, startedAt, duration."""
    return {
        "id": record.id,
        "workflowId": record.workflow_id,
        "status": record.status,
        "startedAt": timestamp(record.started_at),
        "duration": _elapsed(record, now),
    }


def execution(
    record: ExecutionRecord, *, input_json: str, result_json: str | None, now: datetime
) -> dict[str, Any]:
    """Execution: the preview fields plus input, result and error."""
    body: dict[str, Any] = {
        "id": record.id,
        "workflowId": record.workflow_id,
        "input": {"inputJson": input_json},
    }
    if result_json is not None:
        body["result"] = {"resultJson": result_json}
    if record.error:
        body["error"] = {
            "message": record.error.get("message", ""),
            "errorCode": record.error.get("errorCode", ""),
        }
    body |= {
        "status": record.status,
        "startedAt": timestamp(record.started_at),
        "duration": _elapsed(record, now),
    }
    if record.redrive_count:  # a Stepline extension: how often it was redriven
        body["redriveCount"] = str(record.redrive_count)
    return body


def workflow_preview(
    record: WorkflowRecord, base_url: str, public_url: str | None = None
) -> dict[str, Any]:
    """WorkflowPreview: the workflow without specification and schedule."""
    body: dict[str, Any] = {
        "id": record.id,
        "folderId": record.folder_id,
        "createdAt": timestamp(record.created_at),
        "name": record.name,
        "description": record.description,
        "labels": record.labels,
        "status": record.status,
    }
    if record.log_options is not None:
        body["logOptions"] = record.log_options
    body |= {
        "networkId": record.network_id,
        "serviceAccountId": record.service_account_id,
        "express": record.express,
        "isPublic": record.is_public,
        "executionUrl": execution_url(
            public_url if record.is_public and public_url else base_url, record.id
        ),
    }
    return body


def workflow(
    record: WorkflowRecord, base_url: str, public_url: str | None = None
) -> dict[str, Any]:
    """Workflow: the preview plus specification and schedule."""
    body = workflow_preview(record, base_url, public_url)
    body["specification"] = {"specYaml": record.spec_yaml}
    if record.schedule is not None:
        body["schedule"] = record.schedule
    return body


def execution_url(base_url: str, workflow_id: str) -> str:
    """The start-by-link URL of a workflow."""
    return f"{base_url.rstrip('/')}/workflows/v1/execution/{workflow_id}/start"


def stored_operation(
    record: OperationRecord, base_url: str, public_url: str | None = None
) -> dict[str, Any]:
    """Operation: finished, its metadata naming the resource (a workflow's metadata message, or
    ``yandex.cloud.access``'s for access bindings), its response the workflow it left (Create,
    Update) or Empty."""
    if record.metadata_type.endswith("AccessBindingsMetadata"):
        metadata = {
            "@type": f"{_TYPE_PREFIX}{_ACCESS_PACKAGE}.{record.metadata_type}",
            "resourceId": record.resource_id,
        }
    else:
        metadata = {
            "@type": f"{_TYPE_PREFIX}{_WORKFLOWS_PACKAGE}.{record.metadata_type}",
            "workflowId": record.resource_id,
        }
    response: dict[str, Any] = {"@type": f"{_TYPE_PREFIX}google.protobuf.Empty"}
    if record.workflow is not None:
        response = {
            "@type": f"{_TYPE_PREFIX}{_WORKFLOWS_PACKAGE}.Workflow",
            **workflow(record.workflow, base_url, public_url),
        }
    return {
        "id": record.id,
        "description": record.description,
        "createdAt": timestamp(record.created_at),
        "createdBy": record.created_by,
        "modifiedAt": timestamp(record.created_at),
        "done": True,
        "metadata": metadata,
        "response": response,
    }


def operation_page(
    page: Page[OperationRecord], base_url: str, public_url: str | None = None
) -> dict[str, Any]:
    """ListOperationsResponse: ``operations`` and ``nextPageToken`` when there are more."""
    operations = [stored_operation(o, base_url, public_url) for o in page.items]
    return _paged({"operations": operations}, page)


def workflow_page(
    page: Page[WorkflowRecord], base_url: str, public_url: str | None = None
) -> dict[str, Any]:
    """ListWorkflowsResponse: ``workflows`` (previews) and ``nextPageToken``."""
    workflows = [workflow_preview(w, base_url, public_url) for w in page.items]
    return _paged({"workflows": workflows}, page)


def access_binding_page(page: Page[Binding]) -> dict[str, Any]:
    """ListAccessBindingsResponse: ``accessBindings`` and ``nextPageToken``."""
    return _paged({"accessBindings": [access_binding(b) for b in page.items]}, page)


def _paged(body: dict[str, Any], page: Page[Any]) -> dict[str, Any]:
    if page.next_page_token:
        body["nextPageToken"] = page.next_page_token
    return body


def access_binding(binding: Binding) -> dict[str, Any]:
    """AccessBinding: ``roleId`` and ``subject{id, type}``."""
    return {
        "roleId": binding.role_id,
        "subject": {"id": binding.subject_id, "type": binding.subject_type},
    }


def history_entry(entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A stored entry in the public HistoryEntry form."""
    out: dict[str, Any] = {"id": entry["id"]}
    for key in ("title", "description"):
        if key in entry:
            out[key] = entry[key]
    started = from_stored(entry["startedAt"])
    out["startedAt"] = timestamp(started)
    out["duration"] = entry.get("duration") or duration(now - started)
    for key in ("input", "output", "error"):
        if key in entry:
            out[key] = entry[key]
    out["status"] = entry["status"]
    out["type"] = entry["type"]
    out["attempts"] = str(entry.get("attempts", 1))
    if "lastError" in entry:
        out["lastError"] = entry["lastError"]
    return out
