"""Property: whatever JSON, YAML or text reaches an entry point that parses input, only
Stepline's own errors escape it — never RecursionError, a bare ValueError, KeyError ...

The roots: ``stepline.errors.SteplineError`` (rendered as ``{code, message, details}``; the
store's ``StoreError`` and ``yawl.problems.SpecError`` are under it), the workflow failures of
``yawl.errors`` (``StepFailure``, and ``TemplateError`` under it); and, for the request models
only, pydantic's ``ValidationError``, which ``api.http`` turns into INVALID_ARGUMENT.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stepline.errors import InvalidArgument, SteplineError
from stepline.integrations.function_call import parse_answer
from stepline.models import CreateWorkflowRequest, StartExecutionRequest, UpdateWorkflowRequest
from stepline.service import specs, triggers
from stepline.service.executions import check_input_json, input_from_request
from stepline.service.paging import page_size
from stepline.yawl import SpecError, StepFailure, evaluate_condition, load, render
from stepline.yawl.templating import Limits

OWN = (SteplineError, StepFailure)
QUICK = Limits(timeout=0.5)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**90, max_value=10**120)
    | st.floats()  # inf and nan included
    | st.text(max_size=10)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)
# The bounds' edges and the sizes that broke parsers before, as well as anything in between;
# past 10 000 too, since Hypothesis runs a test with 2 000 stack frames more than Python allows.
EDGES = [0, 1, 63, 64, 65, 100, 500, 700, 1_000, 10_000, 100_000]
depths = st.sampled_from(EDGES) | st.integers(min_value=0, max_value=20_000)
deep_texts = st.one_of(
    depths.map(lambda n: "[" * n + "]" * n),
    depths.map(lambda n: '{"a":' * n + "1" + "}" * n),
    depths.map(lambda n: "[" * n),  # never closed
    st.integers(min_value=1, max_value=6_000).map(lambda n: "9" * n),
    st.sampled_from(["1e400", "-1e999", "NaN", "Infinity", "[1e309]", '{"a": -Infinity}']),
)
json_texts = st.one_of(
    json_values.map(lambda v: json.dumps(v)),  # NaN and Infinity included
    deep_texts,
    st.text(max_size=40),
)

YAML_FRAGMENTS = [
    "yawl: ",
    '"0.1"',
    "start: a\n",
    "steps:\n",
    "  a:\n",
    "    noOp: {}\n",
    "    wait: {duration: ",
    '"1e300"}\n',
    "    ",
    "  ",
    "\n",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    ", ",
    "&a ",
    "*a",
    "<<: ",
    "? ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!binary ",
    "!!set ",
    ".inf",
    ".nan",
    "1e400",
    "9" * 200,
    "x",
    "'\\($global)'",
    "'\\(.a'",
    "\t",
    "#",
    "---\n",
    "%YAML 1.2\n",
    "|\n",
    '"\\u0000"',
]
block_depths = st.sampled_from(EDGES[:8]) | st.integers(min_value=0, max_value=800)
yaml_texts = st.one_of(
    st.lists(st.sampled_from(YAML_FRAGMENTS), max_size=30).map("".join),
    block_depths.map(lambda n: "".join("  " * i + f"k{i}:\n" for i in range(n)) + "  " * n + "v"),
    block_depths.map(lambda n: "".join("  " * i + "-\n" for i in range(n)) + "  " * n + "1"),
    depths.map(lambda n: "x: " + "[" * n + "]" * n),
    depths.map(lambda n: "x: &a [1]\n" + "".join(f"a{i}: &a{i} [*a]\n" for i in range(n % 300))),
    st.text(max_size=60),
)
STEP_KINDS = ["noOp", "wait", "while", "foreach", "parallel", "switch", "httpCall", "fail"]
spec_shaped = st.builds(
    lambda kind, body, top: json.dumps(
        {"yawl": "0.1", "start": "a", "steps": {"a": {kind: body}}, **top}, allow_nan=True
    ),
    st.sampled_from(STEP_KINDS),
    json_values,
    st.dictionaries(st.sampled_from(["defaultRetryPolicy", "x"]), json_values, max_size=1),
)
spec_texts = st.one_of(yaml_texts, spec_shaped, json_texts)


@SETTINGS
@given(text=json_texts, field=st.sampled_from(["inputJson", "inputValue"]))
def test_start_request_and_its_input_let_only_own_errors_escape(text: str, field: str) -> None:
    inner = json.dumps(text) if field == "inputJson" else text
    body = f'{{"workflowId": "w", "input": {{"{field}": {inner}}}}}'
    with contextlib.suppress(*OWN, ValidationError):
        input_from_request(StartExecutionRequest.model_validate_json(body))


@SETTINGS
@given(text=json_texts)
def test_input_checks_and_start_by_link_let_only_own_errors_escape(text: str) -> None:
    with contextlib.suppress(*OWN):
        check_input_json(text, "body")
    with contextlib.suppress(*OWN):
        check_input_json(triggers.message_input(text), "body")


@SETTINGS
@given(body=json_texts | json_values.map(lambda v: json.dumps({"name": "a", "labels": v})))
def test_workflow_requests_let_only_own_errors_escape(body: str) -> None:
    for model in (CreateWorkflowRequest, UpdateWorkflowRequest):
        with contextlib.suppress(*OWN, ValidationError):
            model.model_validate_json(body)


@SETTINGS
@given(text=spec_texts)
def test_spec_loader_and_validator_let_only_own_errors_escape(text: str) -> None:
    with contextlib.suppress(SpecError):
        load(text)
    with contextlib.suppress(InvalidArgument):
        specs.check(text)


@SETTINGS
@given(
    template=st.one_of(st.text(max_size=30), json_texts.map(lambda t: f"\\({t[:400]})")),
    data=json_values | deep_texts.map(lambda t: {"s": t}),
)
def test_templating_lets_only_template_errors_escape(template: str, data: Any) -> None:
    # The second yields whatever JSON text `.s` holds: deep, long numbers, not JSON at all.
    for expression in (template, "\\(.s? | fromjson?)"):
        with contextlib.suppress(StepFailure):
            render(expression, data, variables={"global": data}, limits=QUICK)
    with contextlib.suppress(StepFailure):
        evaluate_condition(template, data, limits=QUICK)


@SETTINGS
@given(payload=json_texts.map(str.encode) | st.binary(max_size=40))
def test_function_answer_parser_lets_only_step_failures_escape(payload: bytes) -> None:
    with contextlib.suppress(StepFailure):
        parse_answer("f", payload)


@SETTINGS
@given(raw=st.text(max_size=30) | st.integers().map(str) | json_texts)
def test_page_size_lets_only_api_errors_escape(raw: str) -> None:
    with contextlib.suppress(InvalidArgument):
        assert 1 <= page_size(raw) <= 1000
