"""The YaWL JSON schema: what an editor checks is what Stepline accepts."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from stepline.yawl import load
from stepline.yawl.schema import MODELINE, schema, schema_json
from stepline.yawl.source import parse_document

ROOT = Path(__file__).parents[3]
CASES = Path(__file__).parent / "cases"
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.yaml") if ".test." not in p.name)
GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.yaml"))
SPECS = [*EXAMPLES, *GOLDEN, ROOT / "bench" / "reference.yaml"]
VALID = sorted(p for p in (CASES / "valid").iterdir() if p.suffix in (".yaml", ".json"))
# Invalid cases whose problems only `stepline validate` sees: references between steps, jq,
# reachability, where $global is defined, bounds that depend on the limits.
SEMANTIC = {
    "dangling_references.yaml",
    "global_where_undefined.yaml",
    "invalid_jq.yaml",
    "scope_escapes.yaml",
    "secret_in_child_input.yaml",
    "unreachable_steps.yaml",
    "wait_durations_out_of_range.yaml",
}
INVALID = sorted(
    p
    for p in (CASES / "invalid").iterdir()
    if p.suffix in (".yaml", ".json") and p.name not in SEMANTIC and "too_deep" not in p.name
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema())
    return jsonschema.Draft202012Validator(schema())


def _problems(validator: jsonschema.Draft202012Validator, path: Path) -> list[str]:
    data = parse_document(path.read_text()).data
    errors = validator.iter_errors(data)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


@pytest.mark.parametrize("path", [*SPECS, *VALID], ids=lambda p: p.name)
def test_every_spec_stepline_accepts_passes_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    load(path.read_text())
    assert _problems(validator, path) == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_a_structural_mistake_is_caught_by_the_schema_too(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    assert _problems(validator, path)


def test_stepline_extensions_and_durations_are_described() -> None:
    definitions = schema()["$defs"]
    policy = definitions["RetryPolicy"]["properties"]
    assert policy["jitter"]["enum"] == ["FULL", "NONE"]
    assert policy["initialDelay"]["type"] == "string"
    assert policy["initialDelay"]["default"] == "1s"
    assert "concurrency" in definitions["Foreach"]["properties"]
    assert {"required": ["httpCall"]} in definitions["Step"]["oneOf"]


def test_the_committed_schema_is_current() -> None:
    committed = (ROOT / "schema" / "yawl.schema.json").read_text()
    assert committed == schema_json(), "regenerate it: stepline schema > schema/yawl.schema.json"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_names_the_schema_for_editors(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith(MODELINE)
    target = (path.parent / first.removeprefix(MODELINE)).resolve()
    assert target == ROOT / "schema" / "yawl.schema.json"
