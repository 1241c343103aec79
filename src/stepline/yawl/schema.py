"""The JSON schema of YaWL as Stepline reads it, generated from the spec models.

The models that parse a specification (:mod:`stepline.yawl.spec`) are the source: every step
type, field, enum and default the parser takes is in the schema, Stepline's extensions
included (``jitter``, ``concurrency``, …), and nothing else. What the schema cannot say is
checked by ``stepline validate`` (step references, jq, the bounds of a while loop). Editors
use it through the ``yaml-language-server`` modeline of a workflow file, or by a file mapping
(README, "Editor support"). ``schema/yawl.schema.json`` in the repository is this document,
and a test fails when it is stale.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema

from stepline.yawl.durations import format_duration
from stepline.yawl.spec import STEP_TYPES, Workflow

SCHEMA_ID: Final = "https://stepline.dev/schema/yawl.schema.json"
DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
MODELINE: Final = "# yaml-language-server: $schema="
"""The first line of the examples: editors with the YAML language server then complete and
check the file (the path is relative to the file)."""


class _Generator(GenerateJsonSchema):
    """pydantic's generator without the titles it makes up from field names ("Errorlist")."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _finish(node: Any) -> None:
    """Walk the schema: durations' defaults as durations (``1s``, not ``1.0``), no marker
    keys, ``minItems`` for a list's least length."""
    if isinstance(node, dict):
        if node.pop("x-duration", False) and isinstance(node.get("default"), int | float):
            node["default"] = format_duration(float(node["default"]))
        if node.get("type") == "array" and "minLength" in node:  # a tuple's min_length
            node["minItems"] = node.pop("minLength")
        for value in node.values():
            _finish(value)
    elif isinstance(node, list):
        for value in node:
            _finish(value)


def _exactly_one_step_type(definitions: dict[str, Any]) -> None:
    """A step holds exactly one step type (the parser's ``_exactly_one_type``)."""
    step = definitions["Step"]
    step["oneOf"] = [{"required": [kind]} for kind in STEP_TYPES]
    for prop in step["properties"].values():
        _drop_null(prop)


def _drop_null(prop: dict[str, Any]) -> None:
    """``X | None = None`` means "may be left out", not "may be null" in a YAML file."""
    options = prop.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        prop.pop("anyOf")
        if prop.get("default", ...) is None:
            prop.pop("default")
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept


@cache
def _document() -> str:
    schema: dict[str, Any] = Workflow.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_Generator
    )
    definitions = schema.get("$defs", {})
    _exactly_one_step_type(definitions)
    for model in (*definitions.values(), schema):
        model.pop("title", None)
        for prop in (model.get("properties") or {}).values():
            _drop_null(prop)
    _finish(schema)
    document = {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "YaWL workflow specification (Stepline)",
        **schema,
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def schema() -> dict[str, Any]:
    """The schema as a JSON value."""
    loaded: dict[str, Any] = json.loads(_document())
    return loaded


def schema_json() -> str:
    """The schema as the text ``stepline schema`` prints and the repository keeps."""
    return _document()
