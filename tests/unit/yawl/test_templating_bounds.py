"""Templates yield data within the bounds, on either path; no input makes render fail otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepline.bounds import MAX_DEPTH
from stepline.yawl import TemplateError, render, templating
from stepline.yawl.templating import Limits

QUICK = Limits(timeout=2.0)


@pytest.fixture(params=["in-process", "worker"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test both on the in-process fast path and in the worker."""
    if request.param == "worker":
        monkeypatch.setattr(templating, "FAST_INPUT_BYTES", -1)
    return str(request.param)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.usefixtures("path")
def test_render_refuses_a_value_nested_deeper_than_the_limit() -> None:
    with pytest.raises(TemplateError, match=f"nested deeper than {MAX_DEPTH} levels") as caught:
        render("\\(.s | fromjson)", {"s": _nested(2_000)}, limits=QUICK)
    assert caught.value.code == "STEP_INVALID_TEMPLATE_EXPRESSION"


@pytest.mark.usefixtures("path")
def test_render_yields_a_value_nested_to_the_limit() -> None:
    value = render("\\(.s | fromjson)", {"s": _nested(MAX_DEPTH)}, limits=QUICK)
    assert json.dumps(value) == _nested(MAX_DEPTH)


def test_render_refuses_a_literal_nested_deeper_than_the_limit() -> None:
    with pytest.raises(TemplateError, match="nested deeper than"):
        render("\\(" + _nested(MAX_DEPTH + 1) + ")", {})


def test_render_of_data_too_deep_to_serialise_is_a_template_error() -> None:
    data: Any = []
    for _ in range(5_000):
        data = [data]
    with pytest.raises(TemplateError, match="template data is not JSON"):
        render("\\(.)", data)
