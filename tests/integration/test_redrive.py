"""Redrive: a FAILED or STOPPED execution goes on from where it ended, effectively once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.protobuf import json_format
from yandex.cloud.serverless.workflows.v1 import execution_service_pb2

from stepline.api import queries
from stepline.errors import FailedPrecondition
from stepline.service import executions, reconciler, redrive, runner
from stepline.service.deps import Services
from stepline.store.queue import StepMessage
from stepline.testing import drive
from tests.integration.conftest import Api, Runs
from tests.integration.test_access import (
    EXECUTOR,
    ROOT_ARN,
    VIEWER,
    binding,
    refused,
    set_bindings,
    someone,
    who,
)

LIMITS = reconciler.Limits()


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 the first time a path ending in ``/flaky`` is asked, 200 otherwise; counts."""

    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.calls[self.path] += 1
            first = self.calls[self.path] == 1
        status = 503 if first and self.path.endswith("/flaky") else 200
        body = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The base URL of a server whose ``…/flaky`` paths fail once."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _calls(prefix: str) -> dict[str, int]:
    return {p: n for p, n in _Flaky.calls.items() if p.startswith(prefix)}


def _call_spec(base: str, run: str) -> str:
    return f"""
yawl: "0.1"
start: first
steps:
  first:
    httpCall: {{url: '{base}/{run}/first', next: call}}
  call:
    httpCall: {{url: '{base}/{run}/flaky', next: done}}
  done:
    noOp: {{output: '\\({{done: true}})'}}
"""


def _foreach_spec(base: str, run: str) -> str:
    return f"""
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\\([{{k: "a"}}, {{k: "flaky"}}, {{k: "c"}}])'
      output: '\\({{n: length}})'
      do:
        start: call
        steps:
          call:
            httpCall: {{url: '{base}/{run}/item/\\(.k)'}}
"""


def _parallel_spec(base: str, run: str) -> str:
    return f"""
yawl: "0.1"
start: par
steps:
  par:
    parallel:
      branches:
        good:
          start: call
          steps:
            call: {{httpCall: {{url: '{base}/{run}/good'}}}}
        bad:
          start: nap
          steps:
            nap: {{wait: {{duration: 1s, next: call}}}}
            call: {{httpCall: {{url: '{base}/{run}/flaky'}}}}
"""


SLOW = r"""
yawl: "0.1"
start: slow
steps:
  slow:
    functionCall:
      functionId: stepline-slow
      input: '\({seconds: 2})'
      next: after
  after:
    noOp: {output: '\({after: true})'}
"""


def _status(svc: Any, execution_id: str) -> str:
    return str(svc.executions.get(execution_id).status)


def _ended(svc: Any, execution_id: str) -> Callable[[], bool]:
    return lambda: _status(svc, execution_id) in ("FINISHED", "FAILED", "STOPPED")


def _history(svc: Any, execution_id: str) -> list[dict[str, Any]]:
    return list(queries.history(svc, execution_id, size=None, token=None)["entries"])


def _run(svc: Any, runs: Runs, spec: str) -> str:
    execution_id = runs.start(spec)
    drive.drain(svc, until=_ended(svc, execution_id))
    return execution_id


def _unique(name: str) -> str:
    return f"{name}-{threading.get_ident()}-{len(_Flaky.calls)}"


def test_a_failed_call_is_redriven_and_succeeds_keeping_its_earlier_attempt(
    svc: Any, runs: Runs, server: str
) -> None:
    run = _unique("call")
    execution_id = _run(svc, runs, _call_spec(server, run))
    assert _status(svc, execution_id) == "FAILED"

    answer = redrive.redrive(runs.svc, execution_id)
    assert answer == {"executionId": execution_id, "redriveCount": "1"}
    assert _status(svc, execution_id) == "RUNNING"
    drive.drain(svc, until=_ended(svc, execution_id))

    assert _status(svc, execution_id) == "FINISHED"
    assert _calls(f"/{run}/") == {f"/{run}/first": 1, f"/{run}/flaky": 2}
    entries = _history(svc, execution_id)
    assert [(e["id"], e["status"]) for e in entries] == [
        ("first", "COMPLETED"),
        ("call", "FAILED"),
        ("#redrive/1", "COMPLETED"),
        ("call", "COMPLETED"),
        ("done", "COMPLETED"),
    ]
    assert entries[2]["type"] == "Redrive"
    body = queries.history(svc, execution_id, size=None, token=None)
    json_format.ParseDict(body, execution_service_pb2.GetExecutionHistoryResponse())
    head = svc.executions.get(execution_id)
    assert head.redrive_count == 1 and head.error is None and head.redriven_at is not None


def test_a_foreach_runs_only_its_failed_item_again(svc: Any, runs: Runs, server: str) -> None:
    run = _unique("each")
    execution_id = _run(svc, runs, _foreach_spec(server, run))
    assert _status(svc, execution_id) == "FAILED"
    before = _calls(f"/{run}/")

    redrive.redrive(runs.svc, execution_id)
    drive.drain(svc, until=_ended(svc, execution_id))

    assert _status(svc, execution_id) == "FINISHED"
    again = Counter(_calls(f"/{run}/")) - Counter(before)
    # Item 0 finished before item 1 failed: not run again; item 2 never finished.
    assert again == {f"/{run}/item/flaky": 1, f"/{run}/item/c": 1} or again == {
        f"/{run}/item/flaky": 1
    }
    assert _calls(f"/{run}/")[f"/{run}/item/a"] == 1
    assert json.loads(svc.executions.get(execution_id).result_json) == {"n": 3}


def test_a_parallel_runs_only_its_failed_branch_again(svc: Any, runs: Runs, server: str) -> None:
    run = _unique("par")
    execution_id = _run(svc, runs, _parallel_spec(server, run))
    assert _status(svc, execution_id) == "FAILED"

    redrive.redrive(runs.svc, execution_id)
    drive.drain(svc, until=_ended(svc, execution_id))

    assert _status(svc, execution_id) == "FINISHED"
    assert _calls(f"/{run}/") == {f"/{run}/good": 1, f"/{run}/flaky": 2}
    ids = [e["id"] for e in _history(svc, execution_id)]
    assert ids.count("par/bad/nap") == 1  # the Wait had completed: it is not run again


def test_finished_and_running_executions_are_refused(svc: Any, runs: Runs, server: str) -> None:
    finished = _run(svc, runs, _call_spec(server, _unique("fine")).replace("/flaky", "/ok"))
    assert _status(svc, finished) == "FINISHED"
    with pytest.raises(FailedPrecondition, match="is FINISHED"):
        redrive.redrive(runs.svc, finished)

    running = runs.start(SLOW)
    with pytest.raises(FailedPrecondition, match="has not ended"):
        redrive.redrive(runs.svc, running)
    drive.drain(svc, until=_ended(svc, running))


def test_two_concurrent_redrives_resume_it_once(svc: Any, runs: Runs, server: str) -> None:
    run = _unique("twice")
    execution_id = _run(svc, runs, _call_spec(server, run))
    barrier = threading.Barrier(2)
    answers: list[dict[str, Any]] = []
    real = svc.executions.redrive

    one_at_a_time = threading.Lock()

    def racing(record: Any, at: Any) -> None:
        barrier.wait(timeout=10)  # both read the head FAILED before either writes
        # DynamoDB applies writes to one item one after the other (the emulator, threaded,
        # may not): the second write comes with the head as it was read.
        with one_at_a_time:
            real(record, at)

    sent: list[StepMessage] = []
    both = _Services(runs.svc, racing, sent)
    threads = [
        threading.Thread(target=lambda: answers.append(redrive.redrive(both, execution_id)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)

    assert answers == [{"executionId": execution_id, "redriveCount": "1"}] * 2
    assert len(sent) == 1  # only the winner wakes the runner
    assert svc.executions.get(execution_id).redrive_count == 1
    drive.drain(svc, until=_ended(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"
    assert _calls(f"/{run}/")[f"/{run}/flaky"] == 2
    marks = [e for e in _history(svc, execution_id) if e["type"] == "Redrive"]
    assert len(marks) == 1


class _Services:
    """The services with the head's redrive write and the queue's send wrapped."""

    def __init__(self, real: Services, write: Callable[..., None], sent: list[Any]) -> None:
        self._real = real
        self.executions = _Wrapped(real.executions, redrive=write)
        self.queue = _Wrapped(real.queue, send=lambda m, **k: (sent.append(m), real.queue.send(m)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Wrapped:
    def __init__(self, real: Any, **overrides: Any) -> None:
        self._real, self._overrides = real, overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(self._real, name)


def test_a_stopped_execution_is_redriven_from_where_it_stopped(
    svc: Any, runs: Runs, server: str
) -> None:
    execution_id = runs.start(SLOW)
    thread = threading.Thread(
        target=runner.handle, args=(svc, StepMessage(execution_id, 0), runner.Invocation())
    )
    thread.start()
    drive_until = _history_has(svc, execution_id, ("slow", "STARTED"))
    _poll(drive_until)
    executions.stop(runs.svc, execution_id, terminate=False)
    thread.join(timeout=20)
    drive.drain(svc, until=lambda: svc.log.last(execution_id).ended)
    assert _status(svc, execution_id) == "STOPPED"

    assert redrive.redrive(runs.svc, execution_id)["redriveCount"] == "1"
    drive.drain(svc, until=_ended(svc, execution_id))

    assert _status(svc, execution_id) == "FINISHED"
    # The call under way when Stop came completed; the step after it never started.
    assert [(e["id"], e["status"]) for e in _history(svc, execution_id)] == [
        ("slow", "COMPLETED"),
        ("#redrive/1", "COMPLETED"),
        ("after", "COMPLETED"),
    ]


def test_a_lost_redrive_message_is_recovered_by_the_reconciler(
    svc: Any, runs: Runs, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _unique("lost")
    execution_id = _run(svc, runs, _call_spec(server, run))
    monkeypatch.setattr(runs.svc.queue, "send", lambda *args, **kwargs: None)  # lost
    redrive.redrive(runs.svc, execution_id)
    monkeypatch.undo()
    assert svc.log.last(execution_id).ended  # nothing moved: the message never came
    assert _status(svc, execution_id) == "RUNNING"

    later = _later(svc, LIMITS.grace.total_seconds() + 1)
    assert reconciler.examine(later, LIMITS, execution_id) == "redriven"
    drive.drain(svc, until=_ended(svc, execution_id))

    assert _status(svc, execution_id) == "FINISHED"
    assert _calls(f"/{run}/")[f"/{run}/flaky"] == 2
    assert reconciler.examine(later, LIMITS, execution_id) == "settled"


def _later(svc: Any, seconds: float) -> Any:
    import dataclasses
    from datetime import timedelta

    from stepline.times import now

    return dataclasses.replace(svc, clock=lambda: now() + timedelta(seconds=seconds))


def _history_has(svc: Any, execution_id: str, entry: tuple[str, str]) -> Callable[[], bool]:
    return lambda: entry in [(e["id"], e["status"]) for e in _history(svc, execution_id)]


def _poll(until: Callable[[], bool], deadline: float = 20.0) -> None:
    import time

    end = time.monotonic() + deadline
    while not until():
        assert time.monotonic() < end, "the expected state never came"
        time.sleep(0.02)


def test_redrive_through_the_api(api: Api, svc: Any, runs: Runs, server: str) -> None:
    execution_id = _run(svc, runs, _call_spec(server, _unique("api")))
    reply = api.call("redrive", path={"executionId": f"{execution_id}:redrive"})
    assert reply.status == 200, reply.body
    assert reply.body == {"executionId": execution_id, "redriveCount": "1"}
    again = api.call("redrive", path={"executionId": f"{execution_id}:redrive"})
    assert again.status == 400 and again.body["code"] == 9
    assert "RUNNING" in again.body["message"]
    drive.drain(svc, until=_ended(svc, execution_id))
    assert _status(svc, execution_id) == "FINISHED"
    got = api.call("get", path={"executionId": execution_id}).body["execution"]
    assert got["redriveCount"] == "1"  # Get shows it once redriven (never before)


def test_redrive_needs_the_executor_role(api: Api, parked_id: str) -> None:
    root = api.as_caller(ROOT_ARN)
    execution_id = root.start(parked_id)
    assert root.call("terminate", path={"executionId": execution_id}).status == 200
    viewer, executor, stranger = someone(api), someone(api), someone(api)
    set_bindings(root, parked_id, binding(VIEWER, who(viewer)), binding(EXECUTOR, who(executor)))
    path = {"executionId": f"{execution_id}:redrive"}

    needed = f"permission denied: {EXECUTOR} on workflow {parked_id} is required"
    refused(viewer.call("redrive", path=path), 403, 7, needed)
    refused(
        stranger.call("redrive", path=path),
        404,
        5,
        f"executionId: execution {execution_id} not found",
    )
    reply = executor.call("redrive", path=path)
    # Allowed: redriven, or (its steps not closed yet) refused for that reason only.
    assert reply.status == 200 or "still being closed" in reply.body["message"], reply.body
