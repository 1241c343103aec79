"""Integration steps Stepline maps to AWS (REFERENCE §4) and their common fields (§2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    StrictBool,
    model_validator,
)

from stepline.yawl._base import (
    DURATION_SCHEMA,
    MAX_TIMEOUT,
    SpecModel,
    Str,
    Template,
    Timeout,
    _bounded,
    _duration,
    is_template,
)
from stepline.yawl.policies import CatchRule, RetryPolicy

HttpMethod = Literal["OPTIONS", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"]
HTTP_METHODS: tuple[str, ...] = get_args(HttpMethod)


class IntegrationStep(SpecModel):
    """Fields every integration step has: filters, transition, retries, timeout, catch."""

    input: Template | None = None
    output: Template | None = None
    next: Str | None = None
    retry_policy: RetryPolicy | None = None
    timeout: Timeout = MAX_TIMEOUT
    catch: tuple[CatchRule, ...] = ()


def _exactly_one(model: SpecModel, *names: str) -> None:
    present = [name for name in names if getattr(model, name) is not None]
    if len(present) != 1:
        aliases = ", ".join(f"'{name}'" for name in names)
        raise ValueError(f"exactly one of {aliases} is required")


class FunctionCall(IntegrationStep):
    """Invokes a function (AWS Lambda) with the step input as its event."""

    function_id: Str


class HTTPCall(IntegrationStep):
    """Calls an HTTP endpoint; non-2xx replies fail with HTTP_CALL_<status>."""

    url: Template
    method: HttpMethod = "GET"
    body: Template = ""
    headers: Mapping[str, Template] = Field(default_factory=dict)
    query: Mapping[str, Template] = Field(default_factory=dict)


class GRPCCall(IntegrationStep):
    """Calls a gRPC method found through server reflection."""

    endpoint: Template
    method: Template
    use_service_account: StrictBool = False
    body: Template = ""
    headers: Mapping[str, Template] = Field(default_factory=dict)


class YmqPut(SpecModel):
    """Message to send to the queue."""

    body: Template = ""


class YMQ(IntegrationStep):
    """Sends a message to a queue (SQS)."""

    queue_arn: Str
    put: YmqPut


class YdsPut(SpecModel):
    """Record to put into the stream."""

    body: Template = ""
    partition_key: Template = ""


class YDS(IntegrationStep):
    """Puts a record into a data stream (Kinesis)."""

    database: Str
    topic: Str
    put: YdsPut


class YdbGet(SpecModel):
    """Reads one document by key."""

    key: Template


class YdbPut(SpecModel):
    """Writes one document."""

    item: Template


class YdbUpdate(SpecModel):
    """Updates one document with an update expression."""

    key: Template
    expression: Template
    expression_attribute_values: Template = ""


class YdbScan(SpecModel):
    """Reads a page of documents."""

    limit: Template | None = None
    exclusive_start_key: Template | None = Field(
        default=None, validation_alias=AliasChoices("exclusive_start_key", "exclusiveStartKey")
    )


class YDBDocument(IntegrationStep):
    """One document-table operation (DynamoDB): get, put, update or scan."""

    database: Str
    table_name: Str
    get: YdbGet | None = None
    put: YdbPut | None = None
    update: YdbUpdate | None = None
    scan: YdbScan | None = None

    @model_validator(mode="after")
    def _one_operation(self) -> YDBDocument:
        _exactly_one(self, "get", "put", "update", "scan")
        return self


class ObjectPut(SpecModel):
    """Object body to store."""

    content: Template
    content_type: Literal["BINARY", "JSON", "TEXT"] = "TEXT"


class ObjectGet(SpecModel):
    """How to decode the object read."""

    content_type: Literal["BINARY", "JSON", "TEXT", "EXCEL", "CSV"] = "BINARY"


class ObjectStorage(IntegrationStep):
    """Puts or gets one object of a bucket (S3)."""

    bucket: Str
    object_key: Template = Field(alias="object")
    put: ObjectPut | None = None
    get: ObjectGet | None = None

    @model_validator(mode="after")
    def _one_operation(self) -> ObjectStorage:
        _exactly_one(self, "put", "get")
        return self


class WorkflowCall(IntegrationStep):
    """Runs another workflow to its end; its result is the step output."""

    workflow_id: Str
    execution_input: Template | None = None


class MessageData(SpecModel):
    """A piece of e-mail text and its character set."""

    data: Template
    charset: Literal["UTF_8", "ISO_8859_1", "Shift_JIS"]


class MessageBody(SpecModel):
    """Plain-text and HTML bodies of a simple e-mail."""

    text: MessageData
    html: MessageData


class SimpleMessage(SpecModel):
    """An e-mail built from a subject and bodies."""

    subject: MessageData
    body: MessageBody


class RawMessage(SpecModel):
    """An e-mail given as raw MIME."""

    data: Template


class Destination(SpecModel):
    """Recipients: comma-separated or bracketed lists of addresses."""

    to_addresses: Template
    cc_addresses: Template | None = Field(
        default=None, validation_alias=AliasChoices("ccAdresses", "ccAddresses", "cc_addresses")
    )


class Postbox(IntegrationStep):
    """Sends an e-mail (SES)."""

    from_address: Str
    destination: Destination
    simple: SimpleMessage | None = None
    raw: RawMessage | None = None

    @model_validator(mode="after")
    def _one_message(self) -> Postbox:
        _exactly_one(self, "simple", "raw")
        return self


def _check_method(value: str) -> str:
    if not is_template(value) and value not in HTTP_METHODS:
        raise ValueError(f"must be one of {', '.join(HTTP_METHODS)} or a template")
    return value


class ContainerCall(IntegrationStep):
    """Calls a container over HTTP; non-2xx replies fail with CONTAINER_CALL_<status>."""

    container_id: Str
    path: Template = ""
    method: Annotated[Template, AfterValidator(_check_method)] = "GET"
    body: Template = ""
    headers: Mapping[str, Template] = Field(default_factory=dict)
    query: Mapping[str, Template] = Field(default_factory=dict)


# --- Stepline extension: waiting for a task token (docs/signals.md) --------------------------

# At most what an execution may run (REFERENCE §7: 48 h); a day when not given.
MAX_TASK_SECONDS = 48 * 3600.0
DEFAULT_TASK_SECONDS = 24 * 3600.0
TaskTimeout = Annotated[
    float,
    BeforeValidator(_duration),
    AfterValidator(_bounded(1.0, MAX_TASK_SECONDS, "must be at least 1s and at most 48h")),
    DURATION_SCHEMA,
]


class TaskNotify(SpecModel):
    """The HTTP call that hands the task token out; its templates read it as ``$taskToken``."""

    url: Template
    method: HttpMethod = "POST"
    body: Template = ""
    headers: Mapping[str, Template] = Field(default_factory=dict)
    query: Mapping[str, Template] = Field(default_factory=dict)


class WaitForTask(IntegrationStep):
    """Stepline extension: issue a task token, hand it out (``notify``), and wait until a
    caller answers with it (sendTaskSuccess / sendTaskFailure) or a timeout passes."""

    notify: TaskNotify
    timeout: TaskTimeout = DEFAULT_TASK_SECONDS
    heartbeat_timeout: TaskTimeout | None = None

    @model_validator(mode="after")
    def _heartbeat_within_timeout(self) -> WaitForTask:
        if self.heartbeat_timeout is not None and self.heartbeat_timeout > self.timeout:
            raise ValueError("heartbeatTimeout must not be longer than timeout")
        return self

    def notify_call(self) -> HTTPCall:
        """The notification as an HTTPCall step (what the HTTP adapter performs)."""
        n = self.notify
        return HTTPCall(url=n.url, method=n.method, body=n.body, headers=n.headers, query=n.query)
