"""The example workflows run to their end through ``stepline dev`` over HTTP.

One dev stack serves ``examples/functions`` as Lambda functions with waits and retry delays
fast-forwarded (``--time-scale 0.01``); a local HTTP server stands in for the service the
HTTPCall example talks to. Every wait is a poll with a deadline.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.conftest import RunningStack, launch_dev_stack, stop_dev_stack

pytestmark = pytest.mark.e2e

T = TypeVar("T")
ENDED = ("FINISHED", "FAILED", "STOPPED")
RUN_DEADLINE = 30.0
POLL_INTERVAL = 0.05
# A day, so a tenth of an hour even at --time-scale 0.01: long enough to still be waiting.
LONG_WAIT = """\
yawl: "0.1"
start: prepare
steps:
  prepare:
    noOp:
      output: '\\({prepared: true})'
      next: nap
  nap:
    wait:
      duration: "86400"
      next: after
  after:
    noOp:
      output: '\\({woke: true})'
"""


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner_stack() -> Iterator[RunningStack]:
    """``stepline dev`` serving the example functions, 100x faster waits and retries."""
    stack = launch_dev_stack("--functions", "examples/functions", "--time-scale", "0.01")
    yield stack
    stop_dev_stack(stack)


@pytest.fixture(scope="module")
def api(runner_stack: RunningStack) -> Iterator[httpx.Client]:
    """The Workflows REST API of the stack."""
    with runner_stack.client() as client:
        yield client


class UserService(ThreadingHTTPServer):
    """Users as JSON at ``/users/<id>.json``; some ids answer with server errors."""

    daemon_threads = True
    users = {"1": {"id": 1, "name": "Ada", "plan": "pro"}}

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _UserHandler)
        self.requests: dict[str, int] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        """Base URL to pass as ``baseUrl``."""
        return f"http://127.0.0.1:{self.server_port}"

    def count(self, path: str) -> int:
        """Number of requests made for ``path``, then the new count."""
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            return self.requests[path]


class _UserHandler(BaseHTTPRequestHandler):
    server: UserService

    def do_GET(self) -> None:
        calls = self.server.count(self.path)
        user_id = self.path.removeprefix("/users/").removesuffix(".json")
        if user_id.startswith("down-"):
            self._answer(500, {"message": "database is down"})
        elif user_id.startswith("flaky-") and calls == 1:
            self._answer(503, {"message": "warming up"})
        elif user_id.startswith("flaky-"):
            self._answer(200, {"id": user_id, "name": "Grace", "plan": "free"})
        elif user_id in self.server.users:
            self._answer(200, self.server.users[user_id])
        else:
            self._answer(404, {"message": f"no user {user_id}"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def user_service() -> Iterator[UserService]:
    """The HTTP service of the ``user-profile`` example, on a free port of 127.0.0.1."""
    server = UserService()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


# --- helpers -------------------------------------------------------------------------------


def poll(read: Callable[[], T], done: Callable[[T], bool], deadline: float = RUN_DEADLINE) -> T:
    """Call ``read`` until ``done`` holds for its answer; fail at the deadline."""
    end = time.monotonic() + deadline
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > end:
            pytest.fail(f"gave up after {deadline}s; last answer: {value!r}")
        time.sleep(POLL_INTERVAL)


def start(api: httpx.Client, workflow_id: str, execution_input: dict[str, Any]) -> str:
    """Start an execution with a JSON input; its id."""
    reply = api.post(
        "/execution/start",
        json={"workflowId": workflow_id, "input": {"inputJson": json.dumps(execution_input)}},
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["executionId"])


def get(api: httpx.Client, execution_id: str) -> dict[str, Any]:
    """The Execution."""
    reply = api.get(f"/execution/{execution_id}")
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["execution"])


def entries(api: httpx.Client, execution_id: str) -> list[dict[str, Any]]:
    """The history entries, oldest first."""
    reply = api.get(f"/execution/{execution_id}/history")
    assert reply.status_code == 200, reply.text
    return list(reply.json()["entries"])


def run(
    api: httpx.Client, stack: RunningStack, example: str, execution_input: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Run an example to its end: the Execution and its history entries by id."""
    execution_id = start(api, stack.workflow_id(example), execution_input)
    execution = poll(lambda: get(api, execution_id), lambda e: e["status"] in ENDED)
    history = entries(api, execution_id)
    by_id = {entry["id"]: entry for entry in history}
    assert len(by_id) == len(history), "an entry id appears twice"
    return execution, by_id


def result(execution: dict[str, Any]) -> Any:
    """The parsed ``result.resultJson``."""
    return json.loads(execution["result"]["resultJson"])


def output(entry: dict[str, Any]) -> Any:
    """The parsed ``output.outputJson`` of a history entry."""
    return json.loads(entry["output"]["outputJson"])


def shape(by_id: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Entry id → (type, status)."""
    return {i: (e["type"], e["status"]) for i, e in by_id.items()}


# --- order-review: FunctionCall + retry + Switch -------------------------------------------


def test_order_review_retries_the_failing_lookup_and_ships_a_small_order(
    api: httpx.Client, runner_stack: RunningStack
) -> None:
    request = {"orderId": 42, "requestId": uuid.uuid4().hex}
    execution, by_id = run(api, runner_stack, "order-review", request)

    assert execution["status"] == "FINISHED", execution
    assert result(execution) == {"orderId": 42, "decision": "ship", "total": 42.5}
    assert shape(by_id) == {
        "lookup": ("FunctionCall", "COMPLETED"),
        "route": ("Switch", "COMPLETED"),
        "ship": ("NoOp", "COMPLETED"),
    }
    lookup = by_id["lookup"]
    assert int(lookup["attempts"]) >= 2
    assert lookup["lastError"]["errorCode"] == "FUNCTION_CALL_INVALID_RESPONSE"
    assert "order database not ready" in lookup["lastError"]["message"]
    assert lookup["title"] == "Look up the order"
    assert json.loads(lookup["input"]["inputJson"]) == request
    assert output(lookup)["order"]["items"] == ["book", "pen"]


def test_order_review_sends_a_large_order_to_review(
    api: httpx.Client, runner_stack: RunningStack
) -> None:
    execution, by_id = run(
        api, runner_stack, "order-review", {"orderId": 7, "requestId": uuid.uuid4().hex}
    )

    assert result(execution) == {"orderId": 7, "decision": "review", "total": 1299}
    assert list(by_id) == ["lookup", "route", "review"]
    assert by_id["review"]["status"] == "COMPLETED"


def test_order_review_fails_an_unknown_order_with_step_fail(
    api: httpx.Client, runner_stack: RunningStack
) -> None:
    execution, by_id = run(
        api, runner_stack, "order-review", {"orderId": 5, "requestId": uuid.uuid4().hex}
    )

    assert execution["status"] == "FAILED"
    assert execution["error"] == {"message": "order 5 not found", "errorCode": "STEP_FAIL"}
    assert shape(by_id)["not_found"] == ("Fail", "FAILED")
    assert by_id["not_found"]["error"]["errorCode"] == "STEP_FAIL"


# --- basket-quote: Parallel + Foreach ------------------------------------------------------


def test_basket_quote_prices_every_line_while_estimating_delivery(
    api: httpx.Client, runner_stack: RunningStack
) -> None:
    items = [
        {"sku": "book", "qty": 2},
        {"sku": "pen", "qty": 4},
        {"sku": "mug", "qty": 1},
        {"sku": "lamp", "qty": 1},
        {"sku": "pen", "qty": 1},
    ]
    execution, by_id = run(api, runner_stack, "basket-quote", {"items": items})

    assert execution["status"] == "FINISHED", execution
    quote = result(execution)
    assert [(line["sku"], line["amount"]) for line in quote["lines"]] == [
        ("book", 25),
        ("pen", 6),
        ("mug", 8),
        ("lamp", 24),
        ("pen", 1.5),
    ]
    assert quote | {"lines": None} == {
        "lines": None,
        "subtotal": 64.5,
        "shipping": 0,
        "total": 64.5,
        "deliveryDays": 4,
    }
    expected = {
        "quote": ("Parallel", "COMPLETED"),
        "quote/pricing/price_lines": ("Foreach", "COMPLETED"),
        **{
            f"quote/pricing/price_lines[{i}]/price": ("FunctionCall", "COMPLETED") for i in range(5)
        },
        "quote/pricing/subtotal": ("NoOp", "COMPLETED"),
        "quote/delivery/estimate": ("NoOp", "COMPLETED"),
        "total": ("NoOp", "COMPLETED"),
    }
    assert shape(by_id) == expected
    assert output(by_id["quote/pricing/price_lines[3]/price"])["unitPrice"] == 24
    assert json.loads(by_id["quote/pricing/price_lines"]["input"]["inputJson"]) == items
    assert output(by_id["quote/delivery/estimate"]) == {"days": 4}


def test_basket_quote_fails_when_a_line_cannot_be_priced(
    api: httpx.Client, runner_stack: RunningStack
) -> None:
    items = [{"sku": "book", "qty": 1}, {"sku": "unicorn", "qty": 1}]
    execution, by_id = run(api, runner_stack, "basket-quote", {"items": items})

    assert execution["status"] == "FAILED"
    assert execution["error"]["errorCode"] == "FUNCTION_CALL_INVALID_RESPONSE"
    failed = by_id["quote/pricing/price_lines[1]/price"]
    assert failed["status"] == "FAILED"
    assert "unicorn" in failed["error"]["message"]
    assert "total" not in by_id


# --- user-profile: HTTPCall + retry + catch ------------------------------------------------


def test_user_profile_greets_a_known_user(
    api: httpx.Client, runner_stack: RunningStack, user_service: UserService
) -> None:
    execution, by_id = run(
        api, runner_stack, "user-profile", {"baseUrl": user_service.url, "userId": 1}
    )

    assert execution["status"] == "FINISHED", execution
    assert result(execution) == {"greeting": "Hello, Ada!", "plan": "pro"}
    assert shape(by_id) == {"fetch": ("HTTPCall", "COMPLETED"), "greet": ("NoOp", "COMPLETED")}
    assert output(by_id["fetch"]) == {"user": UserService.users["1"]}


def test_user_profile_catches_http_404_and_continues(
    api: httpx.Client, runner_stack: RunningStack, user_service: UserService
) -> None:
    execution, by_id = run(
        api, runner_stack, "user-profile", {"baseUrl": user_service.url, "userId": 404}
    )

    assert execution["status"] == "FINISHED", execution
    assert result(execution) == {"greeting": "Hello, stranger!", "problem": "HTTP_CALL_404"}
    assert shape(by_id) == {"fetch": ("HTTPCall", "FAILED"), "stranger": ("NoOp", "COMPLETED")}
    fetch = by_id["fetch"]
    assert fetch["error"]["errorCode"] == "HTTP_CALL_404"
    assert fetch["attempts"] == "1"  # 404 is not in the retry policy
    caught = output(fetch)
    assert caught["user"] is None
    assert caught["problem"]["error"] == "HTTP_CALL_404"
    assert "no user 404" in caught["problem"]["message"]


def test_user_profile_retries_a_server_error_then_succeeds(
    api: httpx.Client, runner_stack: RunningStack, user_service: UserService
) -> None:
    user = f"flaky-{uuid.uuid4().hex[:8]}"
    execution, by_id = run(
        api, runner_stack, "user-profile", {"baseUrl": user_service.url, "userId": user}
    )

    assert result(execution) == {"greeting": "Hello, Grace!", "plan": "free"}
    fetch = by_id["fetch"]
    assert fetch["status"] == "COMPLETED"
    assert fetch["attempts"] == "2"
    assert fetch["lastError"]["errorCode"] == "HTTP_CALL_503"
    assert user_service.requests[f"/users/{user}.json"] == 2


def test_user_profile_fails_cleanly_when_the_service_stays_down(
    api: httpx.Client, runner_stack: RunningStack, user_service: UserService
) -> None:
    user = f"down-{uuid.uuid4().hex[:8]}"
    execution, by_id = run(
        api, runner_stack, "user-profile", {"baseUrl": user_service.url, "userId": user}
    )

    assert execution["status"] == "FAILED"
    assert execution["error"]["errorCode"] == "STEP_FAIL"
    assert execution["error"]["message"].startswith("user service unavailable: GET ")
    fetch = by_id["fetch"]
    assert (fetch["status"], fetch["attempts"]) == ("FAILED", "3")  # first try + retryCount 2
    assert fetch["error"]["errorCode"] == "HTTP_CALL_500"
    assert shape(by_id)["unavailable"] == ("Fail", "FAILED")
    assert user_service.requests[f"/users/{user}.json"] == 3


# --- Stop and Terminate on a long Wait -----------------------------------------------------


@pytest.fixture(scope="module")
def long_wait(api: httpx.Client) -> str:
    """A workflow that waits a day between two steps."""
    reply = api.post(
        "/workflow",
        json={
            "folderId": "e2e-runner",
            "name": "long-wait",
            "specification": {"specYaml": LONG_WAIT},
        },
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["metadata"]["workflowId"])


def waiting_execution(api: httpx.Client, workflow_id: str) -> str:
    """Start the long-wait workflow and return once its Wait step has started."""
    execution_id = start(api, workflow_id, {})
    poll(
        lambda: entries(api, execution_id),
        lambda found: any(e["id"] == "nap" and e["status"] == "STARTED" for e in found),
    )
    return execution_id


@pytest.mark.parametrize("call", ["stop", "terminate"])
def test_stop_and_terminate_end_a_waiting_execution_with_the_wait_cancelled(
    api: httpx.Client, long_wait: str, call: str
) -> None:
    execution_id = waiting_execution(api, long_wait)

    reply = api.post(f"/execution/{execution_id}/{call}")

    assert reply.json() == {"executionId": execution_id}
    execution = poll(lambda: get(api, execution_id), lambda e: e["status"] in ENDED)
    assert execution["status"] == "STOPPED"
    assert not execution.get("result")
    history = poll(
        lambda: entries(api, execution_id),
        lambda found: found[-1]["status"] not in ("STARTED", "CANCEL_REQUESTED"),
        deadline=10.0,
    )
    # Nothing after the wait started, and the wait itself did not complete.
    assert [(e["id"], e["type"], e["status"]) for e in history] == [
        ("prepare", "NoOp", "COMPLETED"),
        ("nap", "Wait", "CANCELLED"),
    ]
