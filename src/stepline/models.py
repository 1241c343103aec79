"""Request models of the Workflows API (proto3 JSON: lowerCamelCase or snake_case accepted):
the messages the HTTP handlers parse and the services take, in no layer of their own."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from stepline import access, bounds

WORKFLOW_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
LABEL_KEY = re.compile(r"^[a-z][-_./\\@0-9a-z]{0,62}$")
LABEL_VALUE = re.compile(r"^[-_./\\@0-9a-z]{0,63}$")
FOLDER_ID = r"^[a-zA-Z0-9][-_a-zA-Z0-9]{0,49}$"
MAX_SPEC_BYTES = 256 * 1024


class ApiModel(BaseModel):
    """Base of request models: strict types, unknown fields refused, both name spellings."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )


class ExecutionInput(ApiModel):
    """oneof ``inputJson`` (a JSON text) | ``inputValue`` (any JSON value).

    ``inputValue`` must keep within :mod:`stepline.bounds` (nesting depth, number literals);
    ``inputJson`` is checked as text by ``service.executions.check_input_json``.
    """

    input_json: str | None = None
    input_value: JsonValue = None

    @field_validator("input_value")
    @classmethod
    def _bounded(cls, value: JsonValue) -> JsonValue:
        bounds.check_value(value)  # a BoundsError is a ValueError: pydantic names the field
        return value

    @model_validator(mode="after")
    def _one_of(self) -> ExecutionInput:
        if self.input_json is not None and "input_value" in self.model_fields_set:
            raise ValueError("give either inputJson or inputValue, not both")
        return self


class StartExecutionRequest(ApiModel):
    """Body of ``POST /workflows/v1/execution/start``."""

    workflow_id: Annotated[str, StringConstraints(min_length=1)]
    input: ExecutionInput | None = None


class Specification(ApiModel):
    """oneof ``specYaml``."""

    spec_yaml: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SPEC_BYTES)]


ROLE_PATH_ROOT: Final = "stepline-integrations"
"""First segment of the IAM path of the roles a workflow may name (``serviceAccountId``): the
stack's roles live under ``/stepline-integrations/<stack name>/`` (the runner may assume only
those; docs/security.md)."""
ROLE_NAME: Final = re.compile(r"[\w+=,.@-]{1,64}")
ROLE_ARN: Final = re.compile(
    rf"arn:aws[-a-z]*:iam::\d{{12}}:role/{ROLE_PATH_ROOT}/[\w+=,.@-]+/(?:[\w+=,.@-]+/)*"
    r"[\w+=,.@-]{1,64}"
)
LOG_GROUP_ROOT: Final = "/stepline/"
"""Log groups a workflow may name (``logOptions.logGroupId``) are ``/stepline/<stack name>/…``:
the runner's role may write only there."""
LOG_GROUP: Final = re.compile(r"/stepline/[A-Za-z][-A-Za-z0-9]*/[-._/#A-Za-z0-9]+")
MAX_LOG_GROUP = 512
LogLevel = Literal["LEVEL_UNSPECIFIED", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


def check_service_account(value: str) -> str:
    """A role name, or the ARN of a role under ``/stepline-integrations/<stack>/``; empty: the
    stack's integration role (ValueError otherwise)."""
    if not value or ROLE_NAME.fullmatch(value) or ROLE_ARN.fullmatch(value):
        return value
    shown = value if len(value) <= 120 else value[:117] + "..."
    raise ValueError(
        f"{shown!r} is not the name of an IAM role, nor the ARN of one under the stack's path "
        f"/{ROLE_PATH_ROOT}/<stack name>/ (arn:aws:iam::<account>:role/{ROLE_PATH_ROOT}/"
        "<stack name>/<role name>): the runner may assume only roles there"
    )


class LogOptions(ApiModel):
    """Where the runner writes an execution's log lines: a CloudWatch Logs group under
    ``/stepline/<stack name>/`` (``logGroupId``), from ``minLevel`` up; none when ``disabled``
    or without a group. ``folderId`` (a folder's default Cloud Logging group) is refused."""

    disabled: bool = False
    log_group_id: str | None = None
    folder_id: str | None = None
    min_level: LogLevel = "LEVEL_UNSPECIFIED"

    @field_validator("log_group_id")
    @classmethod
    def _allowed_group(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > MAX_LOG_GROUP or not LOG_GROUP.fullmatch(value)):
            shown = value if len(value) <= 120 else value[:117] + "..."
            raise ValueError(
                f"{shown!r} is not a CloudWatch Logs group the runner may write to: name one "
                f"under {LOG_GROUP_ROOT}<stack name>/ (letters, digits and -._/#, at most "
                f"{MAX_LOG_GROUP} characters)"
            )
        return value

    @field_validator("folder_id")
    @classmethod
    def _no_folder(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError(
                "a folder's default log group is not applicable here (CloudWatch Logs has no "
                "folders); name a log group with logGroupId"
            )
        return value

    @model_validator(mode="after")
    def _one_destination(self) -> LogOptions:
        if self.log_group_id is not None and self.folder_id is not None:
            raise ValueError("give either logGroupId or folderId, not both")
        return self


class Schedule(ApiModel):
    """A cron schedule that starts executions."""

    cron_expression: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)]


Name = Annotated[str, StringConstraints(pattern=WORKFLOW_NAME)]
Description = Annotated[str, StringConstraints(max_length=256)]
Labels = Annotated[dict[str, str], Field(max_length=64)]


def check_labels(labels: dict[str, str] | None) -> dict[str, str] | None:
    """Label keys and values must match the documented patterns."""
    for key, value in (labels or {}).items():
        if not LABEL_KEY.match(key):
            raise ValueError(f"label key {key!r} must match [a-z][-_./\\@0-9a-z]* (1-63 chars)")
        if not LABEL_VALUE.match(value):
            raise ValueError(f"label value {value!r} must match [-_./\\@0-9a-z]* (<= 63 chars)")
    return labels


class WorkflowFields(ApiModel):
    """Fields shared by Create and Update."""

    description: Description = ""
    labels: Labels = Field(default_factory=dict)
    log_options: LogOptions | None = None
    network_id: str = ""
    service_account_id: str = ""
    express: bool = False
    schedule: Schedule | None = None
    is_public: bool = False

    @model_validator(mode="after")
    def _labels(self) -> WorkflowFields:
        check_labels(self.labels)
        return self

    @field_validator("network_id")
    @classmethod
    def _no_network(cls, value: str) -> str:
        """A network cannot be honoured: the runner function makes every call."""
        if value:
            raise ValueError(
                "a VPC network is not applicable here: every call goes out from the runner "
                "function in your AWS account (private hosts: the AllowedPrivateHosts "
                "parameter); leave it empty"
            )
        return value

    @field_validator("service_account_id")
    @classmethod
    def _assumable_role(cls, value: str) -> str:
        """Only a role the runner may assume: by name, or by ARN under the stack's path."""
        return check_service_account(value)


class CreateWorkflowRequest(WorkflowFields):
    """Body of ``POST /workflows/v1/workflow``."""

    folder_id: Annotated[str, StringConstraints(pattern=FOLDER_ID)] = "default"
    name: Name
    specification: Specification


class UpdateWorkflowRequest(WorkflowFields):
    """Body of ``PATCH /workflows/v1/workflow/{workflowId}``; every field optional."""

    name: Name | None = None
    specification: Specification | None = None
    update_mask: str | None = None

    def requested_fields(self) -> set[str]:
        """Field names to change: the mask's, or every field present in the body."""
        if self.update_mask is None:
            return {f for f in self.model_fields_set if f != "update_mask"}
        names = {_snake(part.strip()) for part in self.update_mask.split(",") if part.strip()}
        unknown = names - set(UPDATABLE_FIELDS)
        if unknown:
            raise ValueError(
                f"updateMask names unknown fields {sorted(unknown)}; "
                f"known: {sorted(to_camel(f) for f in UPDATABLE_FIELDS)}"
            )
        return names


UPDATABLE_FIELDS = (
    "name",
    "description",
    "labels",
    "specification",
    "log_options",
    "network_id",
    "service_account_id",
    "express",
    "schedule",
    "is_public",
)


class Subject(ApiModel):
    """Whom a binding is for: an IAM user or role ARN (wildcards allowed), or every signed
    caller (``system``/``allAuthenticatedUsers``); see :mod:`stepline.access`."""

    type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    id: Annotated[str, StringConstraints(min_length=1, max_length=access.MAX_SUBJECT_ID)]

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in access.SUBJECT_TYPES:
            raise ValueError(f"unknown type {value!r}; one of {', '.join(access.SUBJECT_TYPES)}")
        return value

    @field_validator("id")
    @classmethod
    def _matchable(cls, value: str, info: ValidationInfo) -> str:
        subject_type = info.data.get("type")
        if subject_type is not None:  # else the type itself was refused
            access.check_subject(subject_type, value)
        return value


class AccessBinding(ApiModel):
    """A role given to a subject."""

    role_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    subject: Subject

    @field_validator("role_id")
    @classmethod
    def _known_role(cls, value: str) -> str:
        access.Role.from_id(value)
        return value

    def binding(self) -> access.Binding:
        """The binding as the core keeps it."""
        return access.Binding(self.role_id, self.subject.type, self.subject.id)


Bindings = Annotated[list[AccessBinding], Field(max_length=access.MAX_BINDINGS)]


class SetAccessBindingsRequest(ApiModel):
    """Body of ``POST …:setAccessBindings``: the bindings that replace all of the resource's."""

    resource_id: str | None = None
    """The path names the resource; when the body names it too, both must agree."""
    access_bindings: Bindings = Field(default_factory=list)


class AccessBindingDelta(ApiModel):
    """One change of ``updateAccessBindings``."""

    action: Literal["ADD", "REMOVE"]
    access_binding: AccessBinding


class UpdateAccessBindingsRequest(ApiModel):
    """Body of ``POST …:updateAccessBindings``: bindings to add and to remove."""

    resource_id: str | None = None
    access_binding_deltas: Annotated[
        list[AccessBindingDelta], Field(min_length=1, max_length=access.MAX_BINDINGS)
    ]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def dump(model: BaseModel) -> dict[str, Any]:
    """A request model as camelCase JSON (for storing nested settings)."""
    return model.model_dump(by_alias=True, exclude_none=True)


# --- waitForTask answers (a Stepline extension, docs/signals.md) -----------------------------

TaskToken = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class SendTaskSuccessRequest(ApiModel):
    """Body of ``POST /workflows/v1/execution:sendTaskSuccess``."""

    task_token: TaskToken
    output_json: Annotated[str, StringConstraints(min_length=1)] = "{}"


class SendTaskFailureRequest(ApiModel):
    """Body of ``POST /workflows/v1/execution:sendTaskFailure``."""

    task_token: TaskToken
    error_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    message: Annotated[str, StringConstraints(max_length=4096)] = ""


class SendTaskHeartbeatRequest(ApiModel):
    """Body of ``POST /workflows/v1/execution:sendTaskHeartbeat``."""

    task_token: TaskToken
