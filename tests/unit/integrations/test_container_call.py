"""ContainerCall → HTTP to a container endpoint, against a server the test runs on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from stepline.integrations import CallContext, container_call
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import ContainerCall
from tests.unit.integrations.conftest import MakeContext

Code = WorkflowErrorCode
LOCAL = frozenset({"127.0.0.1"})
RELEASE = threading.Event()


class Handler(BaseHTTPRequestHandler):
    """Echoes the request as JSON; /status/<n> answers n, /hang waits, /big is over 2 MB."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode()
        if self.path.startswith("/status/"):
            self._send(int(self.path.split("/")[2]), b"nope")
        elif self.path == "/hang":
            RELEASE.wait(5)
            self._send(200, b"late")
        elif self.path == "/big":
            self._send(200, b"x" * (container_call.MAX_RESPONSE_BYTES + 1))
        elif self.path == "/text":
            self._send(200, b"plain words")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("location", "/api/x")
            self.send_header("content-length", "0")
            self.end_headers()
        else:
            echo = {
                "method": self.command,
                "path": self.path,
                "body": body,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            self._send(200, json.dumps(echo).encode())

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    RELEASE.set()
    server.shutdown()
    server.server_close()


def step(container: str, **fields: Any) -> ContainerCall:
    return ContainerCall.model_validate({"containerId": container, **fields})


def test_call_sends_rendered_request_and_returns_json(base: str, make_ctx: MakeContext) -> None:
    data = {"id": 7, "doc": {"a": 1}, "token": "t"}
    spec = step(
        base + "/",
        path="/api/\\(.id)",
        method='\\("POST")',
        body="\\(.doc)",
        headers={"x-token": "\\(.token)"},
        query={"n": "\\(.id)"},
    )
    output = container_call.call(spec, data, make_ctx(data, allow_private_hosts=LOCAL))
    assert output["method"] == "POST"
    assert output["path"] == "/api/7?n=7"
    assert json.loads(output["body"]) == {"a": 1}
    assert output["headers"]["x-token"] == "t"
    assert output["headers"]["content-type"] == "application/json"


def test_non_json_reply_is_returned_as_text(base: str, make_ctx: MakeContext) -> None:
    output = container_call.call(
        step(base, path="text"), {}, make_ctx({}, allow_private_hosts=LOCAL)
    )
    assert output == "plain words"


def test_redirects_are_followed(base: str, make_ctx: MakeContext) -> None:
    output = container_call.call(
        step(base, path="moved"), {}, make_ctx({}, allow_private_hosts=LOCAL)
    )
    assert output["path"] == "/api/x"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, Code.CONTAINER_CALL_404),
        (429, Code.CONTAINER_CALL_429),
        (503, Code.CONTAINER_CALL_503),
        (430, Code.CONTAINER_CALL_400),
        (450, Code.CONTAINER_CALL_400),
        (599, Code.CONTAINER_CALL_500),
        (304, Code.STEP_INVALID_OUTPUT),
    ],
)
def test_non_2xx_statuses_map_to_container_call_codes(
    status: int, expected: Code, base: str, make_ctx: MakeContext
) -> None:
    ctx = make_ctx({}, allow_private_hosts=LOCAL)
    with pytest.raises(StepFailure) as caught:
        container_call.call(step(base, path=f"status/{status}"), {}, ctx)
    assert caught.value.code == expected


def test_private_hosts_are_refused_unless_allowed(base: str, make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        container_call.call(step(base), {}, make_ctx({}))
    assert caught.value.code == Code.STEP_PERMISSION_DENIED
    assert container_call.call(step(base), {}, make_ctx({}, allow_private_hosts=frozenset("*")))


def test_slow_container_times_out(base: str, make_ctx: MakeContext) -> None:
    ctx = dataclasses.replace(make_ctx({}, allow_private_hosts=LOCAL), timeout=0.2)
    with pytest.raises(StepFailure) as caught:
        container_call.call(step(base, path="hang"), {}, ctx)
    assert caught.value.code == Code.STEP_TIMEOUT


def test_response_over_two_megabytes_exceeds_the_data_limit(
    base: str, make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        container_call.call(step(base, path="big"), {}, make_ctx({}, allow_private_hosts=LOCAL))
    assert caught.value.code == Code.STEP_DATA_LIMIT_EXCEEDED


def test_unreachable_container_is_container_call_503(make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        container_call.call(step("http://127.0.0.1:9"), {}, make_ctx({}, allow_private_hosts=LOCAL))
    assert caught.value.code == Code.CONTAINER_CALL_503


@pytest.mark.parametrize(
    ("container", "fields"),
    [
        ("my-container-id", {}),
        ("ftp://host", {}),
        ("http://127.0.0.1:9", {"method": '\\("FETCH")'}),
        ("http://127.0.0.1:9", {"path": "\\({a: 1})"}),
    ],
)
def test_bad_target_or_method_is_an_invalid_argument(
    container: str, fields: dict[str, str], make_ctx: MakeContext
) -> None:
    with pytest.raises(StepFailure) as caught:
        container_call.call(step(container, **fields), {}, make_ctx({}, allow_private_hosts=LOCAL))
    assert caught.value.code == Code.STEP_INVALID_ARGUMENT


def test_lambda_function_url_requests_are_signed_with_the_steps_credentials() -> None:
    from botocore.credentials import Credentials

    request = httpx.Request("POST", "https://abc123.lambda-url.eu-west-1.on.aws/x", content=b"{}")
    ctx = CallContext(
        client=lambda name: None,
        render=lambda t: t,
        timeout=1.0,
        credentials=lambda: Credentials("integration", "secret", "token"),
    )
    container_call._sign_function_url(request, ctx)
    assert "Credential=integration/" in request.headers["authorization"]
    assert request.headers["x-amz-security-token"] == "token"
    assert "/eu-west-1/lambda/aws4_request" in request.headers["authorization"]
    assert request.headers["x-amz-date"]
