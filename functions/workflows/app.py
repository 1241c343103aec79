"""WorkflowService: Create, Get, Update, Delete and List of workflow definitions."""

from typing import Any

from stepline.api.http import (
    base_url,
    caller,
    make_app,
    make_handler,
    parse_body,
    query,
)
from stepline.api.models import CreateWorkflowRequest, UpdateWorkflowRequest
from stepline.service import workflows
from stepline.service.deps import services

app = make_app()


@app.post("/workflows/v1/workflow")
def create() -> dict[str, Any]:
    request = parse_body(app, CreateWorkflowRequest)
    return workflows.create(services(), request, caller=caller(app), base_url=base_url(app))


@app.get("/workflows/v1/workflow/<workflowId>")
def get(workflowId: str) -> dict[str, Any]:
    return workflows.get(services(), workflowId, base_url=base_url(app))


@app.patch("/workflows/v1/workflow/<workflowId>")
def update(workflowId: str) -> dict[str, Any]:
    request = parse_body(app, UpdateWorkflowRequest)
    return workflows.update(
        services(), workflowId, request, caller=caller(app), base_url=base_url(app)
    )


@app.delete("/workflows/v1/workflow/<workflowId>")
def delete(workflowId: str) -> dict[str, Any]:
    return workflows.delete(services(), workflowId, caller=caller(app))


@app.get("/workflows/v1/workflow")
def list_() -> dict[str, Any]:
    return workflows.list_workflows(
        services(),
        query(app, "folderId"),
        size=query(app, "pageSize"),
        token=query(app, "pageToken"),
        filter_text=query(app, "filter"),
        base_url=base_url(app),
    )


lambda_handler = make_handler(app)
