"""Property: whatever the template and data, render returns a value or raises TemplateError."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepline.yawl import TemplateError, render
from stepline.yawl.templating import Limits

QUICK = Limits(timeout=0.3)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
FRAGMENTS = [
    "\\(",
    ")",
    "(",
    ".",
    ".a",
    ".b",
    "[0]",
    ".[]",
    "[]",
    "|",
    ",",
    '"',
    "\\",
    "{",
    "}",
    ":",
    " ",
    "x",
    "1",
    "length",
    "map(",
    "select(",
    "$global",
    "$counter",
    "tostring",
    "+",
    "-",
    "==",
    "and",
    "if",
    "then",
    "else",
    "end",
    "//",
    "?",
    "error",
    "keys",
    "@base64",
    "#",
    "\n",
    "reduce",
    "as",
    "$x",
    ";",
    "range(3)",
    "def f:",
    "try",
    "empty",
    "..",
    "*",
]
templates = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(lambda xs: "\\(" + "".join(xs) + ")"),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=templates, data=json_values, with_global=st.booleans())
def test_only_template_error_escapes_render(template: str, data: Any, with_global: bool) -> None:
    variables = {"global": data} if with_global else None
    with contextlib.suppress(TemplateError):
        render(template, data, variables=variables, limits=QUICK)


@settings(max_examples=200, deadline=None)
@given(text=st.text().filter(lambda t: "\\(" not in t), data=json_values)
def test_plain_strings_pass_through_untouched(text: str, data: Any) -> None:
    assert render(text, data) == text
