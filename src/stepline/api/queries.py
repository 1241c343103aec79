"""ExecutionService.Get, GetHistory and List as the API answers them: the service's records
(:mod:`stepline.service.executions`) rendered in proto3 JSON (:mod:`stepline.api.render`).

The query handlers answer with these; tests and benchmarks that read executions as a caller
does use them too.
"""

from __future__ import annotations

from typing import Any

from stepline.access import Principal
from stepline.api import render
from stepline.service import executions
from stepline.service.deps import Services


def get(svc: Services, execution_id: str, *, principal: Principal | None = None) -> dict[str, Any]:
    """``{execution: Execution}``."""
    shown = executions.view(svc, execution_id, principal=principal)
    body = render.execution(
        shown.record, input_json=shown.input_json, result_json=shown.result_json, now=svc.clock()
    )
    return {"execution": body}


def history(
    svc: Services,
    execution_id: str,
    *,
    size: str | None,
    token: str | None,
    principal: Principal | None = None,
) -> dict[str, Any]:
    """``{execution: ExecutionPreview, entries: [HistoryEntry], nextPageToken?}``."""
    page = executions.history_page(svc, execution_id, size=size, token=token, principal=principal)
    now = svc.clock()
    body: dict[str, Any] = {
        "execution": render.execution_preview(page.record, now),
        "entries": [render.history_entry(entry, now) for entry in page.entries],
    }
    if page.next_page_token is not None:
        body["nextPageToken"] = page.next_page_token
    return body


def list_executions(
    svc: Services,
    workflow_id: str | None,
    *,
    size: str | None,
    token: str | None,
    filter_text: str | None,
    principal: Principal | None = None,
) -> dict[str, Any]:
    """``{executions: [ExecutionPreview], nextPageToken?}``, newest first."""
    page = executions.list_page(
        svc, workflow_id, size=size, token=token, filter_text=filter_text, principal=principal
    )
    now = svc.clock()
    body: dict[str, Any] = {
        "executions": [render.execution_preview(record, now) for record in page.items]
    }
    if page.next_page_token:
        body["nextPageToken"] = page.next_page_token
    return body
