"""The HTTP API as an OpenAPI 3.1 document, and the Swagger UI page that shows it.

Request bodies are the request models the handlers parse (:mod:`stepline.models`); responses
are the models below, which state the JSON that :mod:`stepline.api.render` and the services
answer with; the JSON schemas are pydantic's. Every route of the ``HttpApi`` in template.yaml
is one entry of :data:`ROUTES` (a test holds the two together): custom methods, which share
their resource's route (``{workflowId}:listAccessBindings`` reaches ``GET
…/workflow/{workflowId}``), are operations of their own on a path ending in the verb, and
``x-stepline-route`` names the route each operation reaches. Errors are documented per HTTP
status from :data:`stepline.api.errors.HTTP_STATUS`: the API's ``{code, message, details}``,
or API Gateway's own ``{"message": ...}`` for what the edge refuses before a function runs.

``make openapi`` writes :func:`document` to ``docs/openapi.json``; the dev stack serves it at
``/openapi.json`` and Swagger UI at ``/docs``, whose assets come from Powertools (offline).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from importlib import resources
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema

from stepline import access, models
from stepline.api.errors import HTTP_STATUS, RETRY_AFTER_SECONDS
from stepline.errors import Code
from stepline.service import ids, operations, paging
from stepline.statuses import EntryStatus, ExecutionStatus

PREFIX: Final = "/workflows/v1"
SCHEMAS: Final = "#/components/schemas/"
TYPE_PREFIX: Final = "type.googleapis.com/"
WORKFLOWS: Final = "yandex.cloud.serverless.workflows.v1"
EXAMPLE_WORKFLOW_ID: Final = ids.stable_workflow_id("default", "hello")
"""The dev stack's ``hello`` example (``make dev`` registers it under this id)."""
EXAMPLE_SPEC: Final = 'yawl: "0.1"\nstart: done\nsteps:\n  done:\n    success: {}\n'

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""An RFC 3339 timestamp (``google.protobuf.Timestamp`` in proto3 JSON)."""
Seconds = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]{1,9})?s$")]
"""A ``google.protobuf.Duration`` in proto3 JSON: ``1.5s``."""


class Reply(BaseModel):
    """Base of response models: camelCase JSON, nothing beyond the declared fields.

    The document says so (``additionalProperties: false``: schemathesis holds the API to it),
    while reading an answer ignores a field it does not know, so that ``stepline.client``,
    which reads answers into these models, keeps working against a newer stack.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        json_schema_extra={"additionalProperties": False},
    )


class StartExecutionResponse(Reply):
    """Answer of Start and start by link."""

    execution_id: str


class StopExecutionResponse(Reply):
    """Answer of Stop, Terminate, Pause and Resume."""

    execution_id: str


class RedriveExecutionResponse(Reply):
    """Answer of Redrive: the execution and how many times it has been redriven (an int64,
    as text, as proto3 JSON writes one)."""

    execution_id: str
    redrive_count: str


class TaskAnswerResponse(Reply):
    """Answer of sendTaskSuccess, sendTaskFailure and sendTaskHeartbeat: an empty object."""


class ExecutionInputJson(Reply):
    """An execution's input, always as JSON text."""

    input_json: str


class ExecutionResult(Reply):
    """The result of a FINISHED execution."""

    result_json: str


class ExecutionError(Reply):
    """The error of a FAILED execution or step: a YaWL error code and a message."""

    message: str
    error_code: str


class Execution(Reply):
    """Execution: the preview fields plus input, result and error."""

    id: str
    workflow_id: str
    input: ExecutionInputJson
    result: ExecutionResult | None = None
    error: ExecutionError | None = None
    status: ExecutionStatus
    started_at: Timestamp
    duration: Seconds
    redrive_count: str | None = None
    """How many times the execution was redriven, an int64 as text; absent before the first
    (a Stepline extension, beyond the proto)."""


class ExecutionPreview(Reply):
    """ExecutionPreview: id, workflowId, status, startedAt, duration."""

    id: str
    workflow_id: str
    status: ExecutionStatus
    started_at: Timestamp
    duration: Seconds


class GetExecutionResponse(Reply):
    """Answer of Get."""

    execution: Execution


class HistoryEntryInput(Reply):
    """A step's input as JSON text."""

    input_json: str


class HistoryEntryOutput(Reply):
    """A step's output as JSON text."""

    output_json: str


class HistoryEntry(Reply):
    """One step execution of the history."""

    id: str
    title: str | None = None
    description: str | None = None
    started_at: Timestamp
    duration: Seconds
    input: HistoryEntryInput | None = None
    output: HistoryEntryOutput | None = None
    error: ExecutionError | None = None
    status: EntryStatus
    type: str
    attempts: str = Field(pattern=r"^[0-9]+$", description="int64, a string in proto3 JSON")
    last_error: ExecutionError | None = None


class GetExecutionHistoryResponse(Reply):
    """Answer of GetHistory: the preview and the entries, oldest first."""

    execution: ExecutionPreview
    entries: list[HistoryEntry]
    next_page_token: str | None = None


class ListExecutionsResponse(Reply):
    """Answer of List: a page of executions, newest first."""

    executions: list[ExecutionPreview]
    next_page_token: str | None = None


class WorkflowStatus(StrEnum):
    """``Workflow.Status`` of the API (Stepline's workflows are ACTIVE)."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    UPDATING = "UPDATING"
    ERROR = "ERROR"
    DELETING = "DELETING"


class WorkflowPreview(Reply):
    """WorkflowPreview: the workflow without specification and schedule."""

    id: str
    folder_id: str
    created_at: Timestamp
    name: str
    description: str
    labels: dict[str, str]
    status: WorkflowStatus
    log_options: models.LogOptions | None = None
    network_id: str
    service_account_id: str
    express: bool
    is_public: bool
    execution_url: str = Field(description="The start-by-link URL of the workflow")


class Workflow(WorkflowPreview):
    """Workflow: the preview plus specification and schedule."""

    specification: models.Specification
    schedule: models.Schedule | None = None


class GetWorkflowResponse(Reply):
    """Answer of WorkflowService.Get."""

    workflow: Workflow


class ListWorkflowsResponse(Reply):
    """Answer of WorkflowService.List: a page of a folder's workflows, by name."""

    workflows: list[WorkflowPreview]
    next_page_token: str | None = None


class ListAccessBindingsResponse(Reply):
    """Answer of ListAccessBindings: a page of bindings, in the order they were given."""

    access_bindings: list[models.AccessBinding]
    next_page_token: str | None = None


class WorkflowMetadata(Reply):
    """Metadata of a workflow's operation (Create, Update, Delete)."""

    type_: str = Field(alias="@type", pattern=rf"^{TYPE_PREFIX}{WORKFLOWS}\.[A-Za-z]+Metadata$")
    workflow_id: str


class AccessBindingsMetadata(Reply):
    """Metadata of Set/UpdateAccessBindings: the resource whose bindings changed."""

    type_: str = Field(
        alias="@type", pattern=rf"^{TYPE_PREFIX}yandex\.cloud\.access\.[A-Za-z]+Metadata$"
    )
    resource_id: str


class WorkflowAny(Workflow):
    """The Workflow an operation left, as a ``google.protobuf.Any``."""

    type_: Literal["type.googleapis.com/yandex.cloud.serverless.workflows.v1.Workflow"] = Field(
        alias="@type"
    )


class EmptyAny(Reply):
    """``google.protobuf.Empty`` as a ``google.protobuf.Any``."""

    type_: Literal["type.googleapis.com/google.protobuf.Empty"] = Field(alias="@type")


class Status(Reply):
    """``google.rpc.Status``: a gRPC code, a message and details."""

    code: int = Field(description="gRPC status code (google.rpc.Code)")
    message: str
    details: list[dict[str, JsonValue]]


class Operation(Reply):
    """A finished Operation (every change is synchronous)."""

    id: str
    description: str
    created_at: Timestamp
    created_by: str
    modified_at: Timestamp
    done: bool
    metadata: WorkflowMetadata | AccessBindingsMetadata
    response: WorkflowAny | EmptyAny | None = None
    error: Status | None = None


class ListOperationsResponse(Reply):
    """Answer of ListOperations: a page of a workflow's operations."""

    operations: list[Operation]
    next_page_token: str | None = None


class Error(Status):
    """The body of every error the API answers: ``{code, message, details}``; the message
    names the field."""


class GatewayError(BaseModel):
    """What API Gateway answers itself (no route, a missing or bad signature, throttling)."""

    model_config = ConfigDict(extra="forbid")
    message: str


class GatewayDenied(BaseModel):
    """API Gateway's answer to a signed caller whose policies deny ``execute-api:Invoke``."""

    model_config = ConfigDict(extra="forbid")
    Message: str


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter."""

    name: str
    where: Literal["path", "query", "header"]
    schema: Mapping[str, Any]
    description: str
    required: bool = False
    example: Any = None

    def spec(self) -> dict[str, Any]:
        """The Parameter Object."""
        out: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "description": self.description,
            "required": self.required or self.where == "path",
            "schema": dict(self.schema),
        }
        if self.example is not None:
            out["example"] = self.example
        return out


WORKFLOW_ID = Param(
    "workflowId",
    "path",
    {"type": "string", "pattern": ids.WORKFLOW_ID.pattern},
    "Workflow id",
    example=EXAMPLE_WORKFLOW_ID,
)
EXECUTION_ID = Param(
    "executionId",
    "path",
    {"type": "string", "pattern": ids.EXECUTION_ID.pattern},
    "Execution id: `<workflowId>-<uuid4>`",
)
FOLDER_ID = Param(
    "folderId",
    "path",
    {"type": "string", "pattern": models.FOLDER_ID},
    "Folder id",
    example="default",
)
OPERATION_ID = Param(
    "operationId",
    "path",
    {"type": "string", "pattern": operations.OPERATION_ID.pattern},
    "Operation id",
)
PAGE_SIZE = Param(
    "pageSize",
    "query",
    {"type": "integer", "minimum": 0, "maximum": paging.LARGEST_PAGE_SIZE},
    f"Entries per page: 0 or absent means {paging.DEFAULT_PAGE_SIZE}; a page holds at most "
    f"{paging.MAX_PAGE_SIZE} and `nextPageToken` goes on",
)
PAGE_TOKEN = Param(
    "pageToken",
    "query",
    {"type": "string"},
    "`nextPageToken` of the previous page (valid for the same resource and filter only)",
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "minLength": 1},
    "A Stepline extension: a second start with the same key (and caller) answers the first "
    "start's executionId",
)
PAGING = (PAGE_SIZE, PAGE_TOKEN)


def _filter(terms: str) -> Param:
    return Param("filter", "query", {"type": "string"}, f"Terms joined with ` AND `: {terms}")


@dataclass(frozen=True)
class Call:
    """One operation of the document: the route it reaches and what it takes and answers."""

    operation_id: str
    method: str
    path: str
    summary: str
    response: type[BaseModel]
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    body_schema: Mapping[str, Any] | None = None
    """A body that is no model (start by link: any JSON value is the input)."""
    body_example: Any = None
    route: str = ""
    """The template route it reaches, when not ``method path`` (custom methods)."""
    links: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def route_key(self) -> str:
        """``METHOD /path`` of the HttpApi route this operation reaches."""
        return self.route or f"{self.method.upper()} {self.path}"


def _verb(method: str, resource: str, verb: str) -> tuple[str, str]:
    """The path of a custom method and the route it reaches."""
    return f"{resource}:{verb}", f"{method.upper()} {resource}"


def _link(operation_id: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters}


_EXECUTION_LINKS = {
    name: _link(f"ExecutionService_{name}", executionId="$response.body#/executionId")
    for name in ("Get", "GetHistory", "Stop", "Terminate")
}
_CREATED = "$response.body#/metadata/workflowId"
_WORKFLOW_LINKS = {
    "Get": _link("WorkflowService_Get", workflowId=_CREATED),
    "Update": _link("WorkflowService_Update", workflowId=_CREATED),
    "ListAccessBindings": _link("WorkflowService_ListAccessBindings", workflowId=_CREATED),
    "StartByLink": _link("ExecutionService_StartByLink", workflowId=_CREATED),
    "ListExecutions": _link("ExecutionService_List", workflowId=_CREATED),
    "Start": {
        "operationId": "ExecutionService_Start",
        "requestBody": {"workflowId": _CREATED, "input": {"inputJson": "{}"}},
    },
    "Delete": _link("WorkflowService_Delete", workflowId=_CREATED),
}
_LISTED = "$response.body#/workflows/0/id"
_LISTED_LINKS = {
    "Get": _link("WorkflowService_Get", workflowId=_LISTED),
    "StartByLink": _link("ExecutionService_StartByLink", workflowId=_LISTED),
    "ListExecutions": _link("ExecutionService_List", workflowId=_LISTED),
    "ListOperations": _link("WorkflowService_ListOperations", workflowId=_LISTED),
    "Start": {
        "operationId": "ExecutionService_Start",
        "requestBody": {"workflowId": _LISTED, "input": {"inputJson": "{}"}},
    },
}
_LISTED_EXECUTION = "$response.body#/executions/0/id"
_LIST_EXECUTIONS_LINKS = {
    name: _link(f"ExecutionService_{name}", executionId=_LISTED_EXECUTION)
    for name in ("Get", "GetHistory")
}
_LIST_BINDINGS_PATH, _LIST_BINDINGS_ROUTE = _verb(
    "get", f"{PREFIX}/workflow/{{workflowId}}", "listAccessBindings"
)
_SET_PATH, _CHANGE_ROUTE = _verb("post", f"{PREFIX}/workflow/{{workflowId}}", "setAccessBindings")
_UPDATE_PATH, _ = _verb("post", f"{PREFIX}/workflow/{{workflowId}}", "updateAccessBindings")
_FOLDER_LIST_PATH, _FOLDER_LIST_ROUTE = _verb(
    "get", f"{PREFIX}/folder/{{folderId}}", "listAccessBindings"
)
_FOLDER_SET_PATH, _FOLDER_CHANGE_ROUTE = _verb(
    "post", f"{PREFIX}/folder/{{folderId}}", "setAccessBindings"
)
_FOLDER_UPDATE_PATH, _ = _verb("post", f"{PREFIX}/folder/{{folderId}}", "updateAccessBindings")
_PAUSE_PATH, _PAUSE_ROUTE = _verb("post", f"{PREFIX}/execution/{{executionId}}", "pause")
_RESUME_PATH, _ = _verb("post", f"{PREFIX}/execution/{{executionId}}", "resume")
_REDRIVE_PATH, _ = _verb("post", f"{PREFIX}/execution/{{executionId}}", "redrive")

ROUTES: Final[tuple[Call, ...]] = (
    Call(
        "ExecutionService_Start",
        "post",
        f"{PREFIX}/execution/start",
        "Start an execution of a workflow",
        StartExecutionResponse,
        (IDEMPOTENCY_KEY,),
        body=models.StartExecutionRequest,
        body_example={"workflowId": EXAMPLE_WORKFLOW_ID, "input": {"inputJson": "{}"}},
        links=_EXECUTION_LINKS,
    ),
    Call(
        "ExecutionService_StartByLink",
        "post",
        f"{PREFIX}/execution/{{workflowId}}/start",
        "Start by link: the whole body is the input (a Stepline extension; the public API "
        "serves this path unsigned for isPublic workflows)",
        StartExecutionResponse,
        (WORKFLOW_ID, IDEMPOTENCY_KEY),
        body_schema={"description": "Any JSON value: the execution's input"},
        body_example={"name": "Ada"},
        links=_EXECUTION_LINKS,
    ),
    Call(
        "ExecutionService_Stop",
        "post",
        f"{PREFIX}/execution/{{executionId}}/stop",
        "Stop an execution: the running step may finish, nothing new starts",
        StopExecutionResponse,
        (EXECUTION_ID,),
    ),
    Call(
        "ExecutionService_Terminate",
        "post",
        f"{PREFIX}/execution/{{executionId}}/terminate",
        "Terminate an execution: as Stop, and calls under way are cancelled",
        StopExecutionResponse,
        (EXECUTION_ID,),
    ),
    Call(
        "ExecutionService_Pause",
        "post",
        _PAUSE_PATH,
        "Pause an execution: the running step finishes, nothing new starts until Resume "
        "(a Stepline extension)",
        StopExecutionResponse,
        (EXECUTION_ID,),
        route=_PAUSE_ROUTE,
    ),
    Call(
        "ExecutionService_Resume",
        "post",
        _RESUME_PATH,
        "Resume a paused execution (a Stepline extension)",
        StopExecutionResponse,
        (EXECUTION_ID,),
        route=_PAUSE_ROUTE,
    ),
    Call(
        "ExecutionService_Redrive",
        "post",
        _REDRIVE_PATH,
        "Redrive a FAILED or STOPPED execution: the steps that failed or did not finish run "
        "again, finished ones keep their results (a Stepline extension; FAILED_PRECONDITION "
        "when it finished or has not ended)",
        RedriveExecutionResponse,
        (EXECUTION_ID,),
        route=_PAUSE_ROUTE,
    ),
    Call(
        "ExecutionService_SendTaskSuccess",
        "post",
        f"{PREFIX}/execution:sendTaskSuccess",
        "Answer a waitForTask step with its output (a Stepline extension, docs/signals.md)",
        TaskAnswerResponse,
        body=models.SendTaskSuccessRequest,
        body_example={"taskToken": "<token>", "outputJson": '{"approved": true}'},
    ),
    Call(
        "ExecutionService_SendTaskFailure",
        "post",
        f"{PREFIX}/execution:sendTaskFailure",
        "Fail a waitForTask step with a YaWL error code (a Stepline extension)",
        TaskAnswerResponse,
        body=models.SendTaskFailureRequest,
        body_example={"taskToken": "<token>", "errorCode": "STEP_FAIL", "message": "rejected"},
    ),
    Call(
        "ExecutionService_SendTaskHeartbeat",
        "post",
        f"{PREFIX}/execution:sendTaskHeartbeat",
        "Keep a waitForTask step's heartbeat timeout from passing (a Stepline extension)",
        TaskAnswerResponse,
        body=models.SendTaskHeartbeatRequest,
        body_example={"taskToken": "<token>"},
    ),
    Call(
        "ExecutionService_Get",
        "get",
        f"{PREFIX}/execution/{{executionId}}",
        "Get an execution",
        GetExecutionResponse,
        (EXECUTION_ID,),
    ),
    Call(
        "ExecutionService_GetHistory",
        "get",
        f"{PREFIX}/execution/{{executionId}}/history",
        "Get an execution's history, oldest entry first",
        GetExecutionHistoryResponse,
        (EXECUTION_ID, *PAGING),
    ),
    Call(
        "ExecutionService_List",
        "get",
        f"{PREFIX}/execution",
        "List a workflow's executions, newest first",
        ListExecutionsResponse,
        (
            Param(
                "workflowId",
                "query",
                {"type": "string"},
                "Workflow id",
                required=True,
                example=EXAMPLE_WORKFLOW_ID,
            ),
            *PAGING,
            _filter("`status=<STATUS>`, `started_at` and `finished_at` with `<`, `>` or `=`"),
        ),
        links=_LIST_EXECUTIONS_LINKS,
    ),
    Call(
        "WorkflowService_Create",
        "post",
        f"{PREFIX}/workflow",
        "Create a workflow (answers with a finished Operation)",
        Operation,
        body=models.CreateWorkflowRequest,
        body_example={
            "folderId": "default",
            "name": "orders",
            "specification": {"specYaml": EXAMPLE_SPEC},
        },
        links=_WORKFLOW_LINKS,
    ),
    Call(
        "WorkflowService_List",
        "get",
        f"{PREFIX}/workflow",
        "List a folder's workflows, ordered by name",
        ListWorkflowsResponse,
        (
            Param(
                "folderId",
                "query",
                {"type": "string"},
                "Folder id (absent: `default`)",
                example="default",
            ),
            *PAGING,
            _filter("`name=<name>`, `created_at` with `<`, `>` or `=`"),
        ),
        links=_LISTED_LINKS,
    ),
    Call(
        "WorkflowService_Get",
        "get",
        f"{PREFIX}/workflow/{{workflowId}}",
        "Get a workflow",
        GetWorkflowResponse,
        (WORKFLOW_ID,),
    ),
    Call(
        "WorkflowService_Update",
        "patch",
        f"{PREFIX}/workflow/{{workflowId}}",
        "Update a workflow: the fields of `updateMask`, or every field in the body",
        Operation,
        (WORKFLOW_ID,),
        body=models.UpdateWorkflowRequest,
        body_example={"description": "Says hello", "updateMask": "description"},
    ),
    Call(
        "WorkflowService_Delete",
        "delete",
        f"{PREFIX}/workflow/{{workflowId}}",
        "Delete a workflow; its running executions go on",
        Operation,
        (WORKFLOW_ID,),
    ),
    Call(
        "WorkflowService_ListOperations",
        "get",
        f"{PREFIX}/workflow/{{workflowId}}/operations",
        "List a workflow's operations",
        ListOperationsResponse,
        (WORKFLOW_ID, *PAGING, _filter("`created_at` with `<`, `>` or `=`")),
    ),
    Call(
        "WorkflowService_ListAccessBindings",
        "get",
        _LIST_BINDINGS_PATH,
        "List a workflow's access bindings",
        ListAccessBindingsResponse,
        (WORKFLOW_ID, *PAGING),
        route=_LIST_BINDINGS_ROUTE,
    ),
    Call(
        "WorkflowService_SetAccessBindings",
        "post",
        _SET_PATH,
        "Replace every access binding of a workflow",
        Operation,
        (WORKFLOW_ID,),
        body=models.SetAccessBindingsRequest,
        route=_CHANGE_ROUTE,
    ),
    Call(
        "WorkflowService_UpdateAccessBindings",
        "post",
        _UPDATE_PATH,
        "Add and remove access bindings of a workflow",
        Operation,
        (WORKFLOW_ID,),
        body=models.UpdateAccessBindingsRequest,
        route=_CHANGE_ROUTE,
    ),
    Call(
        "FolderService_ListAccessBindings",
        "get",
        _FOLDER_LIST_PATH,
        "List a folder's access bindings (a Stepline extension)",
        ListAccessBindingsResponse,
        (FOLDER_ID, *PAGING),
        route=_FOLDER_LIST_ROUTE,
    ),
    Call(
        "FolderService_SetAccessBindings",
        "post",
        _FOLDER_SET_PATH,
        "Replace every access binding of a folder (a Stepline extension)",
        Operation,
        (FOLDER_ID,),
        body=models.SetAccessBindingsRequest,
        route=_FOLDER_CHANGE_ROUTE,
    ),
    Call(
        "FolderService_UpdateAccessBindings",
        "post",
        _FOLDER_UPDATE_PATH,
        "Add and remove access bindings of a folder (a Stepline extension)",
        Operation,
        (FOLDER_ID,),
        body=models.UpdateAccessBindingsRequest,
        route=_FOLDER_CHANGE_ROUTE,
    ),
    Call(
        "OperationService_Get",
        "get",
        "/operations/{operationId}",
        "Get an operation",
        Operation,
        (OPERATION_ID,),
    ),
    Call(
        "OperationService_Cancel",
        "get",
        "/operations/{operationId}:cancel",
        "Cancel an operation: every operation is done when stored, so it answers it as it is",
        Operation,
        (OPERATION_ID,),
        route="GET /operations/{operationId}",
    ),
)
"""Every operation of the API, in the order of the document."""

_ERROR_MODELS: Final = (Error, GatewayError, GatewayDenied)

_LABELS: Final = {
    "propertyNames": {"pattern": models.LABEL_KEY.pattern},
    "additionalProperties": {"type": "string", "pattern": models.LABEL_VALUE.pattern},
}
_SERVICE_ACCOUNT: Final = {
    "pattern": f"^(|{models.ROLE_NAME.pattern}|{models.ROLE_ARN.pattern})$",
    "description": "An IAM role's name, or the ARN of one under "
    f"/{models.ROLE_PATH_ROOT}/<stack name>/; empty: the stack's integration role",
}
_REFINED: Final[dict[tuple[str, str], dict[str, Any]]] = {
    # What the request models check in validators, said in the schema (the same constants).
    ("CreateWorkflowRequest", "labels"): _LABELS,
    ("UpdateWorkflowRequest", "labels"): _LABELS,
    ("CreateWorkflowRequest", "networkId"): {"maxLength": 0, "description": "Not applicable"},
    ("UpdateWorkflowRequest", "networkId"): {"maxLength": 0, "description": "Not applicable"},
    ("CreateWorkflowRequest", "serviceAccountId"): _SERVICE_ACCOUNT,
    ("UpdateWorkflowRequest", "serviceAccountId"): _SERVICE_ACCOUNT,
    ("AccessBinding", "roleId"): {"enum": [role.id for role in access.Role]},
    ("Subject", "type"): {"enum": list(access.SUBJECT_TYPES)},
}


def _schemas() -> dict[str, Any]:
    """Every model's JSON schema, each under its class name."""
    wanted: set[type[BaseModel]] = {c.response for c in ROUTES} | set(_ERROR_MODELS)
    wanted |= {c.body for c in ROUTES if c.body}
    mode: Literal["validation"] = "validation"
    ordered = [(m, mode) for m in sorted(wanted, key=lambda m: m.__name__)]
    _, top = models_json_schema(ordered, by_alias=True, ref_template=SCHEMAS + "{model}")
    replies = {m.__name__ for m in _replies(Reply)}
    defs = top.get("$defs", {})
    for name, schema in defs.items():
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)  # pydantic's, from the Python name: noise beside the key
            if name in replies:
                _omitted_not_null(prop)
    for (name, prop), extra in _REFINED.items():
        target = defs[name]["properties"][prop]
        target.update(extra)
    return dict(sorted(defs.items()))


def _replies(base: type[BaseModel]) -> list[type[BaseModel]]:
    found = []
    for sub in base.__subclasses__():
        found += [sub, *_replies(sub)]
    return found


def _omitted_not_null(prop: dict[str, Any]) -> None:
    """A response field that is None is left out of the JSON, never null: say so."""
    choices = prop.get("anyOf")
    if prop.get("default", ...) is not None or not choices or {"type": "null"} not in choices:
        return
    rest = [c for c in choices if c != {"type": "null"}]
    del prop["default"], prop["anyOf"]
    if len(rest) == 1:
        prop.update(rest[0])
    else:
        prop["anyOf"] = rest


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS + model.__name__}


def _json(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}}


def _error_statuses() -> dict[int, list[Code]]:
    by_status: dict[int, list[Code]] = {}
    for code, status in HTTP_STATUS.items():
        by_status.setdefault(int(status), []).append(code)
    return dict(sorted(by_status.items()))


def _error_responses() -> dict[str, Any]:
    """One response per HTTP status an error comes with, naming its gRPC codes."""
    out: dict[str, Any] = {}
    for status, codes in _error_statuses().items():
        names = ", ".join(f"{c.name} ({int(c)})" for c in codes)
        schema = {"anyOf": [_ref(m) for m in _ERROR_MODELS]}
        response: dict[str, Any] = {
            "description": f"{HTTPStatus(status).phrase}: {names}; or API Gateway's own refusal",
            "content": _json(schema),
        }
        if any(c in RETRY_AFTER_SECONDS for c in codes):
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer", "minimum": 0},
                }
            }
        out[HTTPStatus(status).name] = response
    return out


def _errors() -> dict[str, Any]:
    return {
        str(status): {"$ref": f"#/components/responses/{HTTPStatus(status).name}"}
        for status in _error_statuses()
    }


def _operation(call: Call) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK", "content": _json(_ref(call.response))}
    if call.links:
        ok["links"] = {name: dict(link) for name, link in call.links.items()}
    spec: dict[str, Any] = {
        "operationId": call.operation_id,
        "summary": call.summary,
        "tags": [call.operation_id.split("_")[0]],
        "x-stepline-route": call.route_key,
    }
    if call.params:
        spec["parameters"] = [p.spec() for p in call.params]
    body = _ref(call.body) if call.body else call.body_schema
    if body is not None:
        content = _json(body)
        if call.body_example is not None:
            content["application/json"]["example"] = call.body_example
        spec["requestBody"] = {"required": call.body is not None, "content": content}
    spec["responses"] = {"200": ok, **_errors()}
    return spec


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP API."""
    paths: dict[str, dict[str, Any]] = {}
    for call in ROUTES:
        paths.setdefault(call.path, {})[call.method] = _operation(call)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stepline",
            "version": "v1",
            "description": (
                "The Yandex Cloud Workflows ExecutionService and WorkflowService REST API as "
                "Stepline serves it on AWS. Every route takes only SigV4-signed requests "
                "(service `execute-api`); errors are `{code, message, details}` with the gRPC "
                "code's HTTP status."
            ),
        },
        "servers": [
            {"url": "/", "description": "Where this document is served (the dev stack)"},
            {
                "url": "https://{apiId}.execute-api.{region}.amazonaws.com",
                "description": "A deployed stack (output ApiUrl)",
                "variables": {"apiId": {"default": "api-id"}, "region": {"default": "us-east-1"}},
            },
        ],
        "security": [{"sigv4": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "responses": _error_responses(),
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": (
                        "AWS Signature Version 4 for service `execute-api` (the caller needs "
                        "`execute-api:Invoke` on the route); the dev stack's root key is "
                        "`stepline-dev`/`stepline-dev`, region `us-east-1`"
                    ),
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }
            },
        },
    }


def document_json() -> str:
    """:func:`document` as the text of ``docs/openapi.json``."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def _swagger_asset(name: str) -> str:
    folder = resources.files("aws_lambda_powertools.event_handler.openapi") / "swagger_ui"
    return (folder / name).read_text(encoding="utf-8")


def swagger_page(document_url: str = "/openapi.json") -> str:
    """A Swagger UI page of the document at ``document_url``, its assets inline (offline)."""
    css, js = _swagger_asset("swagger-ui.min.css"), _swagger_asset("swagger-ui-bundle.min.js")
    options = json.dumps({"url": document_url, "dom_id": "#swagger-ui", "deepLinking": True})
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Stepline API</title>\n"
        f'<style>{css}</style>\n</head>\n<body>\n<div id="swagger-ui"></div>\n'
        f"<script>{js}</script>\n<script>SwaggerUIBundle({options});</script>\n"
        "</body>\n</html>\n"
    )


def serve(path: str) -> tuple[int, dict[str, str], bytes]:
    """``/openapi.json`` or ``/docs`` as the dev stack answers them: status, headers, body."""
    if path == "/openapi.json":
        return 200, {"content-type": "application/json"}, document_json().encode()
    return 200, {"content-type": "text/html; charset=utf-8"}, swagger_page().encode()


def write(path: str) -> None:
    """Write :func:`document_json` to ``path`` (``make openapi``: docs/openapi.json)."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(document_json())


if __name__ == "__main__":
    import sys

    write(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi.json")
