"""HTTPCall against a server the test runs on 127.0.0.1 (shared with the ContainerCall tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepline.integrations import http_call
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import HTTPCall
from tests.unit.integrations.conftest import MakeContext
from tests.unit.integrations.test_container_call import LOCAL, base  # noqa: F401 - fixture

Code = WorkflowErrorCode


def step(url: str, **fields: Any) -> HTTPCall:
    return HTTPCall.model_validate({"url": url, **fields})


def test_templated_request_is_sent_and_json_is_parsed(base: str, make_ctx: MakeContext) -> None:  # noqa: F811
    data = {"id": 3, "doc": {"x": [1]}}
    spec = step(
        base + "/api/\\(.id)",
        method="POST",
        body="\\(.doc)",
        query={"q": "\\(.id)"},
        headers={"x-id": "\\(.id)"},
    )
    output = http_call.call(spec, data, make_ctx(data, allow_private_hosts=LOCAL))
    assert (output["method"], output["path"]) == ("POST", "/api/3?q=3")
    assert json.loads(output["body"]) == {"x": [1]}
    assert output["headers"]["x-id"] == "3"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, Code.HTTP_CALL_404),
        (503, Code.HTTP_CALL_503),
        (432, Code.HTTP_CALL_400),
        (599, Code.HTTP_CALL_500),
    ],
)
def test_non_2xx_is_http_call_status(
    status: int,
    code: WorkflowErrorCode,
    base: str,  # noqa: F811 - the imported fixture
    make_ctx: MakeContext,
) -> None:
    with pytest.raises(StepFailure) as caught:
        http_call.call(step(f"{base}/status/{status}"), {}, make_ctx({}, allow_private_hosts=LOCAL))
    assert caught.value.code == code


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/"]
)
def test_loopback_link_local_and_private_targets_are_refused(
    url: str, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        http_call.call(step(url), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED


def test_a_url_that_is_not_http_is_an_invalid_argument(make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        http_call.call(step("file:///etc/passwd"), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT
