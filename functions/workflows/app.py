"""WorkflowService: Create, Get, Update, Delete, List and ListOperations of workflow
definitions, the access bindings of workflows and (a Stepline extension) of folders, and
OperationService.Get of the operations these calls store."""

from typing import Any

from stepline.api import render
from stepline.api.http import (
    base_url,
    caller,
    custom_method,
    custom_verb,
    make_app,
    make_handler,
    parse_body,
    principal,
    query,
)
from stepline.models import (
    CreateWorkflowRequest,
    SetAccessBindingsRequest,
    UpdateAccessBindingsRequest,
    UpdateWorkflowRequest,
)
from stepline.service import bindings, operations, workflows
from stepline.service.bindings import Target
from stepline.service.deps import services
from stepline.store.operations import OperationRecord

app = make_app()
LIST, SET, UPDATE = "listAccessBindings", "setAccessBindings", "updateAccessBindings"
CANCEL = "cancel"


@app.post("/workflows/v1/workflow")
def create() -> dict[str, Any]:
    request = parse_body(app, CreateWorkflowRequest)
    done = workflows.create(services(), request, caller=caller(app), principal=principal(app))
    return _operation(done)


@app.get("/workflows/v1/workflow/<workflowId>")
def get(workflowId: str) -> dict[str, Any]:
    workflow_id, verb = custom_method(app, workflowId, LIST)
    if verb == LIST:
        return _list_bindings(Target.workflow(workflow_id))
    record = workflows.get(services(), workflow_id, principal=principal(app))
    return {"workflow": render.workflow(record, base_url(app), _public_url())}


@app.post("/workflows/v1/workflow/<workflowId>")
def change_bindings(workflowId: str) -> dict[str, Any]:
    workflow_id, verb = custom_verb(app, workflowId, SET, UPDATE)
    return _change_bindings(Target.workflow(workflow_id), verb)


@app.patch("/workflows/v1/workflow/<workflowId>")
def update(workflowId: str) -> dict[str, Any]:
    request = parse_body(app, UpdateWorkflowRequest)
    svc, who = services(), principal(app)
    return _operation(workflows.update(svc, workflowId, request, caller=caller(app), principal=who))


@app.delete("/workflows/v1/workflow/<workflowId>")
def delete(workflowId: str) -> dict[str, Any]:
    done = workflows.delete(services(), workflowId, caller=caller(app), principal=principal(app))
    return _operation(done)


@app.get("/workflows/v1/workflow")
def list_() -> dict[str, Any]:
    page = workflows.list_workflows(
        services(),
        query(app, "folderId"),
        size=query(app, "pageSize"),
        token=query(app, "pageToken"),
        filter_text=query(app, "filter"),
        principal=principal(app),
    )
    return render.workflow_page(page, base_url(app), _public_url())


@app.get("/workflows/v1/workflow/<workflowId>/operations")
def list_operations(workflowId: str) -> dict[str, Any]:
    page = operations.list_operations(
        services(),
        workflowId,
        size=query(app, "pageSize"),
        token=query(app, "pageToken"),
        filter_text=query(app, "filter"),
        principal=principal(app),
    )
    return render.operation_page(page, base_url(app), _public_url())


@app.get("/operations/<operationId>")
def get_operation(operationId: str) -> dict[str, Any]:
    # OperationService.Cancel (`{operationId}:cancel`) answers the operation as it stands:
    # every operation is done when it is stored, so there is never anything to cancel.
    operation_id, _ = custom_method(app, operationId, CANCEL)
    return _operation(operations.get(services(), operation_id, principal=principal(app)))


@app.get("/workflows/v1/folder/<folderId>")
def folder_bindings(folderId: str) -> dict[str, Any]:
    folder_id, _ = custom_verb(app, folderId, LIST)
    return _list_bindings(Target.folder(folder_id))


@app.post("/workflows/v1/folder/<folderId>")
def change_folder_bindings(folderId: str) -> dict[str, Any]:
    folder_id, verb = custom_verb(app, folderId, SET, UPDATE)
    return _change_bindings(Target.folder(folder_id), verb)


def _list_bindings(target: Target) -> dict[str, Any]:
    size, token = query(app, "pageSize"), query(app, "pageToken")
    page = bindings.list_bindings(
        services(), target, principal=principal(app), size=size, token=token
    )
    return render.access_binding_page(page)


def _change_bindings(target: Target, verb: str) -> dict[str, Any]:
    svc, who, name = services(), principal(app), caller(app)
    if verb == SET:
        request = parse_body(app, SetAccessBindingsRequest)
        return _operation(bindings.set_bindings(svc, target, request, principal=who, caller=name))
    changes = parse_body(app, UpdateAccessBindingsRequest)
    return _operation(bindings.update_bindings(svc, target, changes, principal=who, caller=name))


def _operation(record: OperationRecord) -> dict[str, Any]:
    return render.stored_operation(record, base_url(app), _public_url())


def _public_url() -> str | None:
    return services().settings.public_api_url


lambda_handler = make_handler(app)
