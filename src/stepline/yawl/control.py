"""Control steps (REFERENCE §3): Switch, Foreach, Parallel, Success, Fail, NoOp, Wait, While."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from stepline.yawl._base import Expression, SpecModel, Str, Template, _bounded, is_template
from stepline.yawl.durations import parse_duration

if TYPE_CHECKING:
    from stepline.yawl.spec import Block


def _positive(name: str) -> AfterValidator:
    return AfterValidator(_bounded(1, None, f"{name} must be at least 1"))


class Choice(SpecModel):
    """One Switch branch: a bare jq condition and the step to go to when it is true."""

    condition: Expression
    next: Str


class SwitchDefault(SpecModel):
    """Where a Switch goes when no condition holds."""

    next: Str


def _default_as_object(value: Any) -> Any:
    # REFERENCE §3.1: the prose gives a string step ID, the schema an object {next}.
    return {"next": value} if isinstance(value, str) else value


def _non_empty_list(value: Any) -> Any:
    if isinstance(value, list) and not value:
        raise ValueError("a Switch needs at least one choice")
    return value


class Switch(SpecModel):
    """Jumps to the first choice whose condition is true, else to `default`."""

    input: Template | None = None
    choices: Annotated[tuple[Choice, ...], BeforeValidator(_non_empty_list), Field(min_length=1)]
    default: Annotated[
        SwitchDefault | None,
        BeforeValidator(_default_as_object, json_schema_input_type=SwitchDefault | str | None),
    ] = None


class Foreach(SpecModel):
    """Runs `do` once per element of the array that `input` yields, collecting the results."""

    input: Template
    output: Template
    do_: Block = Field(alias="do")
    concurrency: Annotated[StrictInt, _positive("concurrency")] = 1
    next: Str | None = None


class Parallel(SpecModel):
    """Runs every branch on its own copy of the state; the result is keyed by branch name."""

    input: Template | None = None
    output: Template | None = None
    branches: Annotated[dict[str, Block], Field(min_length=1)]
    concurrency: Annotated[StrictInt, _positive("concurrency")] = 30
    next: Str | None = None


class Success(SpecModel):
    """Ends the whole execution successfully."""


class Fail(SpecModel):
    """Ends the whole execution with STEP_FAIL and the rendered `errorMessage`."""

    error_message: Template


class NoOp(SpecModel):
    """Does nothing, or reshapes the state with `output`."""

    output: Template | None = None
    next: Str | None = None


def _check_wait_duration(value: str | None) -> str | None:
    if value is not None and not is_template(value):
        parse_wait_seconds(value)
    return value


# REFERENCE §7: "One execution | 48 h | limit": a longer Wait could never end.
MAX_WAIT_SECONDS: Final = 48 * 3600.0
# A number of seconds as the docs write it ("5", "2.5"), plainly: float() would also take
# "inf", "nan", "1_0" and other scripts' digits.
_SECONDS = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_wait_seconds(value: str) -> float:
    """Seconds a rendered Wait `duration` denotes: a bare number of seconds or a duration, at
    most 48 h (zero or less means no wait); raise ValueError otherwise."""
    text = value.strip()
    seconds = float(text) if _SECONDS.fullmatch(text) else parse_duration(text)
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {value[:40]!r}: not a finite number of seconds")
    if seconds > MAX_WAIT_SECONDS:
        raise ValueError(
            f"wait duration {value[:40]!r} is longer than an execution may run "
            f"(48h, {MAX_WAIT_SECONDS:g}s)"
        )
    return seconds


class Wait(SpecModel):
    """Pauses for `duration` or until the instant `until`."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["duration"]}, {"required": ["until"]}]}
    )

    duration: Annotated[Template | None, AfterValidator(_check_wait_duration)] = None
    until: Template | None = None
    next: Str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Wait:
        if (self.duration is None) == (self.until is None):
            raise ValueError("exactly one of 'duration' or 'until' is required")
        return self


def _max_iterations(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and is_template(value):
        return value
    raise ValueError("must be a non-negative integer or a template")


class While(SpecModel):
    """Repeats `do` while `condition` holds and fewer than `max_iterations` ran."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["condition"]},
                {"required": ["max_iterations"]},
                {"required": ["maxIterations"]},
            ]
        }
    )

    input: Template | None = None
    output: Template | None = None
    do_: Block = Field(alias="do")
    condition: Expression | None = None
    max_iterations: Annotated[int | str | None, BeforeValidator(_max_iterations)] = Field(
        default=None, validation_alias=AliasChoices("max_iterations", "maxIterations")
    )
    next: Str | None = None

    @model_validator(mode="after")
    def _bounded_loop(self) -> While:
        if self.condition is None and self.max_iterations is None:
            raise ValueError("at least one of 'condition' or 'max_iterations' is required")
        return self
