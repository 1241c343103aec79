"""Templating (REFERENCE §5.2): plain strings, whole-field values, interpolation, bounds."""

from __future__ import annotations

from typing import Any

import pytest

from stepline.yawl import TemplateError, WorkflowErrorCode, evaluate, render, templating
from stepline.yawl.templating import (
    Limits,
    evaluate_condition,
    parse_template,
    secret_references,
)

DATA = {
    "a": {"b": {"c": "value_2"}},
    "data": [{"x": 1}, {"x": "value_x"}],
    "posts": [{"body": "first post"}, {"body": "second"}],
    "users": [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}],
}
QUICK = Limits(timeout=0.3)


@pytest.fixture(params=["in-process", "worker"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test both on the in-process fast path and in the worker."""
    if request.param == "worker":
        monkeypatch.setattr(templating, "FAST_INPUT_BYTES", -1)
    return str(request.param)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("this is just a string", "this is just a string"),
        ("\\({x: 1, y: .a.b.c})", {"x": 1, "y": "value_2"}),
        ("value \\(.data[1].x)", "value value_x"),
        ("\\(.posts.[0].body)", "first post"),
        ("\\({users: .users | map(.name)})", {"users": ["Ann", "Bob"]}),
        ("\\(.users[0])\n", {"id": 1, "name": "Ann"}),
        ("  \\(.a.b)  ", {"c": "value_2"}),
        (
            "\\({\n  first: .posts.[0].body,\n  n: (.posts | length)\n})",
            {"first": "first post", "n": 2},
        ),
        ("id=\\(.users[0].id) obj=\\(.a.b)", 'id=1 obj={"c":"value_2"}'),
        ('\\("a)b" + .a.b.c)', "a)bvalue_2"),
        ('\\("nested \\(.a.b.c) ok")', "nested value_2 ok"),
        ('quote " and backslash \\\\ stay \\(.data[0].x)', 'quote " and backslash \\\\ stay 1'),
        ("\\(.missing)", None),
        ("\\(.users | length > 1)", True),
    ],
)
def test_render_follows_reference_rules(template: str, expected: Any, path: str) -> None:
    assert render(template, DATA) == expected


def test_interpolation_keeps_surrounding_whitespace() -> None:
    assert render("  n=\\(.users | length)\n", DATA) == "  n=2\n"


def test_global_and_counter_variables_are_available() -> None:
    value = render(
        "\\({g: $global.k, c: $counter})", {}, variables={"global": {"k": 1}, "counter": 4}
    )
    assert value == {"g": 1, "c": 4}


def test_undeclared_variable_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match=r"\$counter is not defined"):
        render("\\($counter)", {})


def test_unknown_variable_name_is_rejected() -> None:
    with pytest.raises(TemplateError, match="unknown template variables"):
        render("\\(.)", {}, variables={"other": 1})


def test_lockbox_payload_reads_resolved_secrets() -> None:
    secrets = {"sec1": {"token": "t0k"}, "sec1@v2": {"token": "old"}}
    assert render('Bearer \\(lockboxPayload("sec1"; "token"))', {}, secrets=secrets) == "Bearer t0k"
    assert render('\\(lockboxPayload("sec1"; "token"; "v2"))', {}, secrets=secrets) == "old"
    with pytest.raises(TemplateError, match="no key"):
        render('\\(lockboxPayload("sec1"; "other"))', {}, secrets=secrets)


def test_secret_references_lists_literal_lockbox_calls() -> None:
    refs = secret_references('\\(lockboxPayload("s"; "k")) \\(lockboxPayload("s"; "k2"; "v"))')
    assert refs == {("s", "k", None), ("s", "k2", "v")}


def test_process_environment_is_hidden(path: str) -> None:
    assert render("\\($ENV)", {}) == {}
    assert render("\\(env)", {}) == {}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("\\(.a |)", "invalid jq"),
        ("\\(.a", "never closed"),
        ('\\("abc)', "never closed"),
        ("\\(.a.b.c | error)", "value_2"),
        ("\\(.users | .x)", "Cannot index array"),
        ("\\(empty)", "produced no value"),
        ("\\(1 / 0)", "divided"),
    ],
)
def test_every_jq_failure_is_one_template_error(template: str, message: str, path: str) -> None:
    with pytest.raises(TemplateError, match=message) as caught:
        render(template, DATA)
    assert caught.value.code is WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION


@pytest.mark.parametrize(
    "template",
    [
        "\\([repeat(.)])",
        "\\([range(1e12)])",
        "\\(last(range(1e12)))",
        "\\([limit(1e12; repeat(1))])",
    ],
)
def test_non_terminating_template_fails_within_its_deadline(template: str) -> None:
    with pytest.raises(TemplateError, match=r"did not finish within 0\.3s"):
        render(template, {}, limits=QUICK)
    assert render("\\(.a)", {"a": 1}, limits=QUICK) == 1  # the caller carries on


def test_huge_output_is_refused() -> None:
    with pytest.raises(TemplateError, match="larger than 1000 bytes"):
        render("\\([range(10000)])", {}, limits=Limits(timeout=2, max_output_bytes=1000))


def test_memory_hungry_template_fails_cleanly() -> None:
    limits = Limits(timeout=2, memory_bytes=256 * 1024 * 1024)
    with pytest.raises(TemplateError):
        render('\\("x" * 1e9 | length)', {}, limits=limits)


def test_non_json_data_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="not JSON"):
        render("\\(.)", {"x": float("nan")})
    with pytest.raises(TemplateError, match="not JSON"):
        render("\\(.)", {"x": object()})


def test_evaluate_runs_bare_expressions() -> None:
    assert evaluate(".users | map(.id)", DATA) == [1, 2]
    assert evaluate(".posts.[1].body", DATA) == "second"


def test_condition_must_yield_a_boolean() -> None:
    assert evaluate_condition(".users | length > 1", DATA) is True
    with pytest.raises(TemplateError, match="not a boolean"):
        evaluate_condition(".users | length", DATA)


def test_non_string_template_is_a_template_error() -> None:
    with pytest.raises(TemplateError):
        render(42, {})  # type: ignore[arg-type]


def test_compiled_programs_are_cached() -> None:
    render("\\(.cache_probe)", {})
    before = templating._compile.cache_info().hits
    render("\\(.cache_probe)", {"cache_probe": 2})
    assert templating._compile.cache_info().hits == before + 1


@pytest.mark.parametrize(
    "template",
    [
        "\\({users: .})",
        "\\(.posts.[0].body)",
        "\\({x: 1, y: .a.b.c})",
        "\\(.items | map({id, name}))",
        "\\(.body | length > 160)",
        "hello \\(.name)",
        "\\([.data[] | {x}])",
    ],
)
def test_typical_templates_run_in_process(template: str) -> None:
    assert parse_template(template).fast


@pytest.mark.parametrize(
    "template",
    [
        "\\([repeat(.)])",
        "\\([range(10)])",
        "\\(def f: f; f)",
        '\\("x" * 10)',
        "\\($ENV)",
        '\\(test("a+")) ',
        "\\([.[] | .[] as $x | .[]])",
        "\\({a: .x[], b: .y[]})",
        "\\(.a # comment\n)",
        "\\(.a |= 1)",
    ],
)
def test_risky_templates_run_in_the_worker(template: str) -> None:
    assert not parse_template(template).fast


def test_plain_strings_have_no_program() -> None:
    parsed = parse_template("just text (with parens)")
    assert parsed.program is None and not parsed.whole_value
