"""Shared building blocks of the spec models: the base class and constrained field types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

from stepline.yawl.durations import DURATION_HINT, DURATION_PATTERN, parse_duration

TEMPLATE_OPEN = "\\("


class SpecModel(BaseModel):
    """Frozen YaWL object: camelCase keys in the spec, unknown keys rejected."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=True,
    )


def is_template(value: str) -> bool:
    """Whether a templated field holds jq (`\\(...)`) rather than a plain string."""
    return TEMPLATE_OPEN in value


def _require_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_type_name(value)}")
    return value


def _duration(value: object) -> float:
    if not isinstance(value, str):
        raise ValueError(f"expected a duration string, got {_type_name(value)}: {DURATION_HINT}")
    return parse_duration(value)


def _type_name(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _bounded(low: float | None, high: float | None, message: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(message)
        return value

    return check


Str = Annotated[str, BeforeValidator(_require_str)]
# A field marked "tpl" in REFERENCE: plain text, or jq inside `\(...)`.
Template = Annotated[str, BeforeValidator(_require_str)]
# A bare jq expression (Switch choice and While condition).
Expression = Annotated[str, BeforeValidator(_require_str)]

# What the JSON schema says of a duration field (stepline.yawl.schema writes its default back as
# a duration too): the text, not the seconds it is parsed into.
DURATION_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": DURATION_PATTERN,
        "x-duration": True,
        "description": DURATION_HINT,
    }
)

# REFERENCE §2 / §7: one attempt at most 15 minutes, default 15 minutes.
MAX_TIMEOUT = 900.0
Timeout = Annotated[
    float,
    BeforeValidator(_duration),
    AfterValidator(_bounded(0.001, MAX_TIMEOUT, "must be more than 0s and at most 15m (900s)")),
    DURATION_SCHEMA,
]
# REFERENCE §2.1: initialDelay ≥ 1s, maxDelay ≤ 1h.
MAX_DELAY = 3600.0
InitialDelay = Annotated[
    float,
    BeforeValidator(_duration),
    AfterValidator(_bounded(1.0, MAX_DELAY, "must be at least 1s and at most 1h")),
    DURATION_SCHEMA,
]
MaxDelay = Annotated[
    float,
    BeforeValidator(_duration),
    AfterValidator(_bounded(0.0, MAX_DELAY, "must be at most 1h (3600s)")),
    DURATION_SCHEMA,
]
MAX_RETRY_COUNT = 100
