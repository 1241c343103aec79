"""The workflow object, the Step wrapper and the table of step types (REFERENCE §1)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from stepline.yawl import control
from stepline.yawl._base import SpecModel, Str
from stepline.yawl.control import Fail, Foreach, NoOp, Parallel, Success, Switch, Wait, While
from stepline.yawl.integration import (
    YDS,
    YMQ,
    ContainerCall,
    FunctionCall,
    GRPCCall,
    HTTPCall,
    IntegrationStep,
    ObjectStorage,
    Postbox,
    WaitForTask,
    WorkflowCall,
    YDBDocument,
)
from stepline.yawl.policies import RetryPolicy

StepBody = (
    Switch
    | Foreach
    | Parallel
    | Success
    | Fail
    | NoOp
    | Wait
    | While
    | FunctionCall
    | ContainerCall
    | HTTPCall
    | GRPCCall
    | YMQ
    | YDS
    | YDBDocument
    | ObjectStorage
    | WorkflowCall
    | Postbox
    | WaitForTask
)

# YAML key of each step type → the model of its body.
STEP_TYPES: Mapping[str, type[SpecModel]] = {
    "switch": Switch,
    "foreach": Foreach,
    "parallel": Parallel,
    "success": Success,
    "fail": Fail,
    "noOp": NoOp,
    "wait": Wait,
    "while": While,
    "functionCall": FunctionCall,
    "containerCall": ContainerCall,
    "httpCall": HTTPCall,
    "grpcCall": GRPCCall,
    "ymq": YMQ,
    "yds": YDS,
    "ydbDocument": YDBDocument,
    "objectStorage": ObjectStorage,
    "workflow": WorkflowCall,
    "postbox": Postbox,
    "waitForTask": WaitForTask,
}
CONTROL_TYPES = frozenset(
    {"switch", "foreach", "parallel", "success", "fail", "noOp", "wait", "while"}
)
INTEGRATION_TYPES = frozenset(STEP_TYPES) - CONTROL_TYPES
# Stepline-only step types (docs/signals.md): `stepline validate --strict` refuses them.
EXTENSION_TYPES = frozenset({"waitForTask"})
# Step types that hold nested scopes, and where: `do` (Foreach, While) or `branches` (Parallel).
NESTED_TYPES = frozenset({"foreach", "parallel", "while"})
# Step types whose (filtered) output is merged into the state and may become the result.
OUTPUT_TYPES = frozenset(INTEGRATION_TYPES | {"foreach", "parallel", "noOp", "while"})

# REFERENCE §4.11: Yandex-only integrations without an AWS counterpart.
UNSUPPORTED_TYPES = frozenset(
    {
        "foundationModelsCall",
        "tracker",
        "disk",
        "aiAgent",
        "telegramBot",
        "aiStudioAgent",
        "vectorStore",
        "databaseQuery",
        "ocr",
        "stt",
        "recognizeText",
        "speechkit",
    }
)
STEP_META_FIELDS = frozenset({"title", "description"})

# Fields holding templates, per step type: "a.b" nested, "a.*" map values, "a[].b" list items.
# kind "template" = text with `\(...)`; "expression" = bare jq. `$counter` only in While
# input/condition (REFERENCE §5.2).
TemplateKind = Literal["template", "expression"]
_COMMON: tuple[tuple[str, TemplateKind], ...] = (
    ("input", "template"),
    ("output", "template"),
    ("catch[].output", "template"),
)
TEMPLATED_FIELDS: Mapping[str, tuple[tuple[str, TemplateKind], ...]] = {
    "switch": (("input", "template"), ("choices[].condition", "expression")),
    "foreach": (("input", "template"), ("output", "template")),
    "parallel": (("input", "template"), ("output", "template")),
    "success": (),
    "fail": (("errorMessage", "template"),),
    "noOp": (("output", "template"),),
    "wait": (("duration", "template"), ("until", "template")),
    "while": (
        ("input", "template"),
        ("output", "template"),
        ("condition", "expression"),
        ("max_iterations", "template"),
        ("maxIterations", "template"),
    ),
    "functionCall": _COMMON,
    "containerCall": (
        *_COMMON,
        ("path", "template"),
        ("method", "template"),
        ("body", "template"),
        ("headers.*", "template"),
        ("query.*", "template"),
    ),
    "httpCall": (
        *_COMMON,
        ("url", "template"),
        ("body", "template"),
        ("headers.*", "template"),
        ("query.*", "template"),
    ),
    "grpcCall": (
        *_COMMON,
        ("endpoint", "template"),
        ("method", "template"),
        ("body", "template"),
        ("headers.*", "template"),
    ),
    "ymq": (*_COMMON, ("put.body", "template")),
    "yds": (*_COMMON, ("put.body", "template"), ("put.partitionKey", "template")),
    "ydbDocument": (
        *_COMMON,
        ("get.key", "template"),
        ("put.item", "template"),
        ("update.key", "template"),
        ("update.expression", "template"),
        ("update.expressionAttributeValues", "template"),
        ("scan.limit", "template"),
        ("scan.exclusive_start_key", "template"),
        ("scan.exclusiveStartKey", "template"),
    ),
    "objectStorage": (*_COMMON, ("object", "template"), ("put.content", "template")),
    "workflow": (*_COMMON, ("executionInput", "template")),
    "postbox": (
        *_COMMON,
        ("destination.toAddresses", "template"),
        ("destination.ccAdresses", "template"),
        ("destination.ccAddresses", "template"),
        ("raw.data", "template"),
        ("simple.subject.data", "template"),
        ("simple.body.text.data", "template"),
        ("simple.body.html.data", "template"),
    ),
    "waitForTask": (
        *_COMMON,
        ("notify.url", "template"),
        ("notify.body", "template"),
        ("notify.headers.*", "template"),
        ("notify.query.*", "template"),
    ),
}
# Template fields that may use `$counter`.
COUNTER_FIELDS: Mapping[str, frozenset[str]] = {"while": frozenset({"input", "condition"})}
# Template fields that may use `$taskToken` (the notification of a waitForTask step).
TASK_TOKEN_FIELDS: Mapping[str, frozenset[str]] = {
    "waitForTask": frozenset({"notify.url", "notify.body", "notify.headers.*", "notify.query.*"})
}
# `$global` (REFERENCE §5.2) is the top-level state, which the engine binds in the templates of
# steps inside a nested scope (Foreach `do`, Parallel branch, While `do`), and, at any depth, in
# a While's own input, condition and max_iterations (stepline.engine.machine: `_variables`,
# `_while`). An integration step's own fields (url, body, headers ...) are rendered by its
# adapter against the step input alone (stepline.service.runner `_attempt`, service.children):
# `$global` is never defined there.
_GLOBAL_AT_TOP_LEVEL: Mapping[str, frozenset[str]] = {
    "while": frozenset({"input", "condition", "max_iterations", "maxIterations"})
}
ENGINE_RENDERED_FIELDS = frozenset(pattern for pattern, _ in _COMMON)


def global_defined(kind: str, pattern: str, *, nested: bool) -> bool:
    """Whether `$global` is defined in the templated field `pattern` of a `kind` step."""
    if kind in INTEGRATION_TYPES and pattern not in ENGINE_RENDERED_FIELDS:
        return False
    return nested or pattern in _GLOBAL_AT_TOP_LEVEL.get(kind, frozenset())


class Step(SpecModel):
    """One entry of a `steps` map: optional title/description and exactly one step type."""

    title: Str | None = None
    description: Str | None = None
    switch: Switch | None = None
    foreach: Foreach | None = None
    parallel: Parallel | None = None
    success: Success | None = None
    fail: Fail | None = None
    no_op: NoOp | None = None
    wait: Wait | None = None
    while_: While | None = Field(default=None, alias="while")
    function_call: FunctionCall | None = None
    container_call: ContainerCall | None = None
    http_call: HTTPCall | None = None
    grpc_call: GRPCCall | None = None
    ymq: YMQ | None = None
    yds: YDS | None = None
    ydb_document: YDBDocument | None = None
    object_storage: ObjectStorage | None = None
    workflow: WorkflowCall | None = None
    postbox: Postbox | None = None
    wait_for_task: WaitForTask | None = None

    @model_validator(mode="after")
    def _exactly_one_type(self) -> Step:
        if len(self._present()) != 1:
            raise ValueError(f"a step needs exactly one step type, one of: {', '.join(STEP_TYPES)}")
        return self

    def _present(self) -> list[tuple[str, StepBody]]:
        return [
            (alias, getattr(self, name))
            for name, alias in _STEP_FIELDS.items()
            if getattr(self, name) is not None
        ]

    @cached_property
    def kind(self) -> str:
        """The YAML key of this step's type, e.g. `httpCall`."""
        return self._present()[0][0]

    @cached_property
    def body(self) -> StepBody:
        """The step-type object holding this step's fields."""
        return self._present()[0][1]

    @property
    def next(self) -> str | None:
        """The following step ID, for step types that have `next`."""
        value = getattr(self.body, "next", None)
        return value if isinstance(value, str) else None

    @property
    def is_integration(self) -> bool:
        """Whether this step calls something outside the engine."""
        return isinstance(self.body, IntegrationStep)

    @property
    def carries_output(self) -> bool:
        """Whether this step's output is merged into the state (and may be the result)."""
        return self.kind in OUTPUT_TYPES


# Python attribute name → YAML key, for the step-type fields of Step.
_STEP_FIELDS: dict[str, str] = {
    name: info.alias
    for name, info in Step.model_fields.items()
    if info.alias is not None and info.alias in STEP_TYPES
}


def _non_empty_steps(value: object) -> object:
    if isinstance(value, dict) and not value:
        raise ValueError("must contain at least one step")
    return value


class Block(SpecModel):
    """A scope of steps: a Parallel branch, a Foreach or While `do`, or the workflow itself."""

    start: Str
    steps: Annotated[dict[str, Step], BeforeValidator(_non_empty_steps)]

    def walk(self, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Step]]:
        """Yield (scope path, step) for every step of this scope and of nested scopes."""
        for step_id, step in self.steps.items():
            yield (*prefix, step_id), step
            for name, block in nested_blocks(step):
                yield from block.walk((*prefix, step_id, name))


def nested_blocks(step: Step) -> list[tuple[str, Block]]:
    """The scopes nested directly in a step: `do`, or one per Parallel branch."""
    body = step.body
    if isinstance(body, Foreach | While):
        return [("do", body.do_)]
    if isinstance(body, Parallel):
        return list(body.branches.items())
    return []


def _version_hint(value: object) -> object:
    if isinstance(value, float | int) and not isinstance(value, bool):
        raise ValueError(f'expected a string: quote the version, e.g. yawl: "{value}"')
    return value


class Workflow(Block):
    """A whole YaWL specification."""

    yawl: Annotated[Literal["0.1", "1.0"], BeforeValidator(_version_hint)]
    default_retry_policy: RetryPolicy | None = None

    def retry_policy_for(self, step: Step) -> RetryPolicy | None:
        """The retry policy that applies to an integration step: its own, else the default."""
        body = step.body
        if not isinstance(body, IntegrationStep):
            return None
        return body.retry_policy or self.default_retry_policy


control.Foreach.model_rebuild(_types_namespace={"Block": Block})
control.While.model_rebuild(_types_namespace={"Block": Block})
control.Parallel.model_rebuild(_types_namespace={"Block": Block})
Step.model_rebuild()
Workflow.model_rebuild()
