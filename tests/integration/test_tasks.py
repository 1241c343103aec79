"""waitForTask: an execution parks on a task token until a caller answers it (sendTaskSuccess,
sendTaskFailure, sendTaskHeartbeat), or its timeout passes."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from stepline.api import queries
from stepline.errors import FailedPrecondition, NotFound
from stepline.service import executions, reconciler, runner, tasks
from stepline.statuses import ENDED
from stepline.store.queue import StepMessage
from stepline.store.tasks import TaskStore
from stepline.testing import drive
from tests.integration.conftest import Api, Runs
from tests.integration.test_runner_lost_responses import _lossy

APPROVAL = r"""
yawl: "0.1"
start: approve
steps:
  approve:
    waitForTask:
      input: '\({order: .input.order})'
      notify:
        url: 'http://127.0.0.1:@PORT@/approve?order=\(.order)&token=\($taskToken)'
        body: '\({token: $taskToken, order: .order})'
      timeout: @TIMEOUT@
@HEARTBEAT@
      output: '\({approved: .approved})'
      catch:
        - errorList: [STEP_FAILED_PRECONDITION, STEP_TIMEOUT]
          output: '\({rejected: .error, why: .message})'
          next: rejected
  rejected:
    noOp: {}
"""


class _Inbox(BaseHTTPRequestHandler):
    """Takes notifications; 503 for orders named ``down``."""

    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        order = parse_qs(urlparse(self.path).query).get("order", [""])[0]
        if order == "down":
            self.send_response(503)
            self.end_headers()
            return
        self.server.notes.append(body)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def inbox() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    server.notes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _spec(inbox: Any, timeout: str = "48h", heartbeat: str | None = None) -> str:
    beat = f"      heartbeatTimeout: {heartbeat}" if heartbeat else ""
    port = str(inbox.server_address[1])
    filled = APPROVAL.replace("@PORT@", port).replace("@TIMEOUT@", timeout)
    return filled.replace("@HEARTBEAT@", beat)


def _ended(svc: Any, execution_id: str) -> Callable[[], bool]:
    def ended() -> bool:
        head = svc.executions.get(execution_id)
        return head is not None and head.status in ENDED

    return ended


def _token(svc: Any, inbox: Any, order: str, notes: int = 1) -> str:
    """Drive the runner until ``notes`` notifications for ``order`` came; the newest token."""

    def mine() -> list[dict[str, Any]]:
        return [n for n in inbox.notes if n.get("order") == order]

    drive.drain(svc, until=lambda: len(mine()) >= notes)
    return str(mine()[-1]["token"])


def _parked(svc: Any, runs: Runs, inbox: Any, **spec: Any) -> tuple[str, str, str]:
    """A started execution waiting on its task: (execution id, order, token)."""
    order = uuid.uuid4().hex
    execution_id = runs.start(_spec(inbox, **spec), json.dumps({"order": order}))
    return execution_id, order, _token(svc, inbox, order)


def _result(svc: Any, execution_id: str) -> Any:
    got = drive.run_to_end(svc, execution_id)
    assert got["status"] == "FINISHED", got
    return json.loads(got["result"]["resultJson"])


def test_success_resumes_the_execution_with_the_output(svc: Any, runs: Runs, inbox: Any) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    last = svc.log.last(execution_id)
    assert not last.calls and last.wake is not None and not last.ended  # parked, not running

    tasks.send_success(svc, token, '{"approved": true}')

    assert _result(svc, execution_id) == {"approved": True}


def test_the_api_takes_answers_by_token(api: Api, svc: Any, folder: str, inbox: Any) -> None:
    order = uuid.uuid4().hex
    workflow_id = api.create_workflow(folder, "approvals", _spec(inbox))
    execution_id = api.start(workflow_id, json.dumps({"order": order}))
    token = _token(svc, inbox, order)

    beat = api.call("task_heartbeat", body={"taskToken": token})
    reply = api.call("task_success", body={"taskToken": token, "outputJson": '{"approved": 1}'})

    assert (beat.status, reply.status, reply.body) == (200, 200, {})
    assert _result(svc, execution_id) == {"approved": 1}


def test_a_failure_answer_is_caught_by_a_catch_rule(svc: Any, runs: Runs, inbox: Any) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)

    tasks.send_failure(svc, token, "STEP_FAILED_PRECONDITION", "out of stock")

    assert _result(svc, execution_id) == {
        "rejected": "STEP_FAILED_PRECONDITION",
        "why": "out of stock",
    }


def test_an_unknown_error_code_is_refused(svc: Any, runs: Runs, inbox: Any) -> None:
    _, _, token = _parked(svc, runs, inbox)

    with pytest.raises(Exception, match="not a YaWL error code"):
        tasks.send_failure(svc, token, "MY_OWN_CODE", "no")
    with pytest.raises(Exception, match="the engine's own"):
        tasks.send_failure(svc, token, "STEP_INTERNAL", "no")


def test_the_timeout_fails_the_step(svc: Any, runs: Runs, inbox: Any) -> None:
    execution_id, _, token = _parked(svc, runs, inbox, timeout="1h")  # 3.6 s at the test scale

    result = _result(svc, execution_id)

    assert result == {"rejected": "STEP_TIMEOUT", "why": "no answer came within the step's timeout"}
    with pytest.raises(FailedPrecondition, match="FINISHED"):
        tasks.send_success(svc, token, "{}")


def test_heartbeats_extend_the_wait_and_a_missed_one_fails_the_step(
    svc: Any, runs: Runs, inbox: Any
) -> None:
    execution_id, _, token = _parked(svc, runs, inbox, timeout="10h", heartbeat="1h")
    n = svc.log.last(execution_id).open[0]["n"]
    before = TaskStore(svc.table).get(execution_id, n).heartbeat_deadline

    tasks.send_heartbeat(svc, token)

    after = TaskStore(svc.table).get(execution_id, n).heartbeat_deadline
    assert after > before
    result = _result(svc, execution_id)  # no more heartbeats: 3.6 s later the step fails
    assert result == {
        "rejected": "STEP_TIMEOUT",
        "why": "no heartbeat came within the step's heartbeatTimeout",
    }
    with pytest.raises(FailedPrecondition):
        tasks.send_heartbeat(svc, token)


def test_a_second_answer_is_refused_whatever_it_says(svc: Any, runs: Runs, inbox: Any) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    tasks.send_success(svc, token, '{"approved": true}')

    with pytest.raises(FailedPrecondition, match=r"already answered \(SUCCEEDED\)"):
        tasks.send_success(svc, token, '{"approved": true}')  # the same, sent again
    with pytest.raises(FailedPrecondition, match=r"already answered \(SUCCEEDED\)"):
        tasks.send_failure(svc, token, "STEP_FAIL", "changed my mind")
    with pytest.raises(FailedPrecondition, match="already answered"):
        tasks.send_success(svc, token, '{"approved": false}')

    assert _result(svc, execution_id)["approved"] is True


def test_an_answer_whose_reply_is_lost_still_resumes_the_execution_at_once(
    svc: Any, runs: Runs, inbox: Any
) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    sqs, url = svc.queue.client, svc.queue.url
    while pending := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in pending:  # its wake-up, due in 48 hours in earnest
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    lossy, fault = _lossy(svc)

    # The answer lands, its reply is lost, botocore sends it again and meets its own write.
    tasks.send_success(lossy, token, '{"approved": true}')

    assert fault.lost >= 1
    queued = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    resumes = [StepMessage.from_json(m["Body"]) for m in queued]
    assert [m.execution_id for m in resumes if m.resume] == [execution_id]  # no reconciler
    assert _result(svc, execution_id) == {"approved": True}


def test_of_two_concurrent_answers_exactly_one_wins(svc: Any, runs: Runs, inbox: Any) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    barrier, outcomes = threading.Barrier(2), []

    def answer(approved: bool) -> None:
        barrier.wait()
        try:
            tasks.send_success(svc, token, json.dumps({"approved": approved}))
            outcomes.append(("won", approved))
        except FailedPrecondition:
            outcomes.append(("lost", approved))

    threads = [threading.Thread(target=answer, args=(flag,)) for flag in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(kind for kind, _ in outcomes) == ["lost", "won"]
    (winner,) = [approved for kind, approved in outcomes if kind == "won"]
    assert _result(svc, execution_id)["approved"] is winner


def test_an_answer_after_stop_is_refused(svc: Any, runs: Runs, inbox: Any) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)

    executions.stop(svc, execution_id, terminate=False)

    with pytest.raises(FailedPrecondition, match=f"execution {execution_id} is STOPPED"):
        tasks.send_success(svc, token, "{}")
    drive.drain(svc, until=_ended(svc, execution_id))


def test_forged_and_unknown_tokens_are_refused_alike(
    api: Api, svc: Any, runs: Runs, inbox: Any
) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    head, n, _secret = token.split(".")
    forged = [
        f"{head}.{n}.{tasks.new_token(execution_id, int(n)).rsplit('.', 1)[1]}",  # a guess
        f"{head}.{int(n) + 1}.{_secret}",  # another step's
        tasks.new_token("no-such-execution", 1),
        "not a token",
    ]

    replies = [api.call("task_success", body={"taskToken": t, "outputJson": "{}"}) for t in forged]

    for reply in replies:
        assert reply.status == 404
        assert reply.body["message"] == "taskToken: the task token is not valid"
    for bad in forged:
        with pytest.raises(NotFound):
            tasks.send_heartbeat(svc, bad)
    tasks.send_success(svc, token, "{}")  # the real one still works
    drive.run_to_end(svc, execution_id)


def test_a_failed_notification_fails_the_step_with_the_token_redacted(
    svc: Any, runs: Runs, inbox: Any
) -> None:
    execution_id = runs.start(_spec(inbox), json.dumps({"order": "down"}))

    got = drive.run_to_end(svc, execution_id)

    assert got["status"] == "FAILED" and got["error"]["errorCode"] == "HTTP_CALL_503"
    (entry,) = queries.history(svc, execution_id, size=None, token=None)["entries"]
    message = entry["error"]["message"]
    assert message.startswith("notification: ")
    assert re.search(r"[A-Za-z0-9_-]{43}", message) is None  # no token's secret part
    (task,) = TaskStore(svc.table).of_execution(execution_id)
    assert task.status == "CANCELLED"


def test_the_token_appears_nowhere_in_history_get_or_the_log(
    svc: Any, runs: Runs, inbox: Any
) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    secret = token.rsplit(".", 1)[1]
    tasks.send_success(svc, token, '{"approved": true}')
    _result(svc, execution_id)

    shown = json.dumps(
        [
            queries.get(svc, execution_id),
            queries.history(svc, execution_id, size=None, token=None),
        ]
    )
    stored = json.dumps(
        svc.table.query(
            key_condition="PK = :pk", values={":pk": f"EX#{execution_id}"}, consistent=True
        ).items,
        default=repr,
    )
    task_items = json.dumps([t.item() for t in TaskStore(svc.table).of_execution(execution_id)])
    for text in (shown, stored, task_items):
        assert secret not in text and token not in text


def test_a_lost_resume_message_is_recovered_by_the_reconciler(
    svc: Any, runs: Runs, inbox: Any
) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    tasks.send_success(svc, token, '{"approved": true}')
    lost: list[StepMessage] = []

    def dropping(svc_: Any, message: StepMessage, invocation: runner.Invocation) -> None:
        if message.resume and message.execution_id == execution_id:
            lost.append(message)  # the answer's resume never reaches the runner
            return
        runner.handle(svc_, message, invocation)

    drive.drain(svc, until=lambda: bool(lost), handle=dropping)
    assert svc.executions.get(execution_id).status == "RUNNING"

    limits = reconciler.Limits(grace=timedelta(0))
    assert reconciler.examine(svc, limits, execution_id) == "redriven"

    assert _result(svc, execution_id) == {"approved": True}


def test_the_reconciler_leaves_an_answer_alone_while_its_resume_is_on_its_way(
    svc: Any, runs: Runs, inbox: Any
) -> None:
    execution_id, _, token = _parked(svc, runs, inbox)
    tasks.send_success(svc, token, '{"approved": true}')

    # The answer's resume message is queued, not yet taken: within the grace, no second one.
    limits = reconciler.Limits(grace=timedelta(minutes=2))
    assert reconciler.examine(svc, limits, execution_id) == "watched"

    assert _result(svc, execution_id) == {"approved": True}


def test_one_invocation_parks_the_execution_and_returns(svc: Any, runs: Runs, inbox: Any) -> None:
    """The runner holds no Lambda while the task waits: one invocation returns at once."""
    order = uuid.uuid4().hex
    execution_id = runs.start(_spec(inbox), json.dumps({"order": order}))
    started = time.monotonic()

    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())

    assert time.monotonic() - started < 10.0
    last = svc.log.last(execution_id)
    assert last.wake is not None and not last.calls
    assert [n["order"] for n in inbox.notes].count(order) == 1


def test_answers_need_the_executor_role_on_the_workflow(
    api: Api, svc: Any, folder: str, inbox: Any
) -> None:
    root = api.as_caller("arn:aws:iam::123456789012:root")
    order = uuid.uuid4().hex
    workflow_id = root.create_workflow(folder, "guarded", _spec(inbox))
    viewer, executor = (api.as_caller(f"arn:aws:iam::123456789012:user/{n}") for n in "ve")
    bindings = [
        {"roleId": role, "subject": {"id": caller.identity["userArn"], "type": "iamUser"}}
        for role, caller in (
            ("serverless.workflows.viewer", viewer),
            ("serverless.workflows.executor", executor),
        )
        if caller.identity is not None
    ]
    path = {"workflowId": f"{workflow_id}:setAccessBindings"}
    assert root.call("access_set", path=path, body={"accessBindings": bindings}).status == 200
    execution_id = root.start(workflow_id, json.dumps({"order": order}))
    token = _token(svc, inbox, order)
    body = {"taskToken": token, "outputJson": "{}"}

    stranger = api.as_caller("arn:aws:iam::123456789012:user/stranger").call(
        "task_success", body=body
    )
    seen = viewer.call("task_success", body=body)
    answered = executor.call("task_success", body=body)

    assert (stranger.status, stranger.body["message"]) == (
        404,
        "taskToken: the task token is not valid",
    )
    assert seen.status == 403 and "serverless.workflows.executor" in seen.body["message"]
    assert answered.status == 200
    drive.run_to_end(svc, execution_id)
