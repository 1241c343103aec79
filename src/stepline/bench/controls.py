"""What the fault bench's harness does to an execution beside delivering its messages: pause and
resume it, stop and redrive it, answer its tasks — each call made as a user's client makes it
(its answer may be lost, so it is sent again), and each answer checked.

A :class:`Control` is told of every message before it is handed to the runner
(:meth:`Control.before`) and of every moment the queue gives nothing visible
(:meth:`Control.idle`); the bench delivers until :meth:`Control.settled`, then asks
:meth:`Control.again` whether another phase follows (a redrive). What a control finds wrong — a
call answered otherwise than the API promises, a step that started while the execution was
paused, a redrive counted twice — goes in :attr:`Control.problems`, a goal figure of the bench.

The calls go through the *control* services: the harness's own (unfaulted) clients but for
DynamoDB, whose write answers the scenario's ``lose_control`` share loses after the write
landed; botocore sends it again, as a user's retry would, and the second attempt meets the
first one's write.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stepline.bench import harness
from stepline.errors import FailedPrecondition, NotFound, SteplineError
from stepline.service import executions, pausing, redrive, tasks
from stepline.service.deps import Services
from stepline.statuses import ENDED, ExecutionStatus

SIGNALS = Path(__file__).resolve().parents[3] / "tests" / "golden" / "signals"
INBOX_PLACEHOLDER = "http://inbox.invalid/notify"
"""The notification URL in the signal cases' specs, replaced by the bench's inbox."""
PAUSE_AT = (0, 3)
"""A pause comes before the n-th message of the execution, n drawn from this range (0: at
once, while it is QUEUED)."""
HOLD_FOR = (1, 3)
"""A paused execution is resumed after this many messages more (drawn), or when the queue has
nothing visible."""
STOP_SHARE = 0.5
"""Share of the redrive scenario's executions stopped at a drawn message before they end."""


@dataclass
class Control:
    """Nothing beside delivery: the execution runs until it ends."""

    svc: Services
    """The harness's services: reads."""
    control: Services
    """Where the calls go (lost write answers)."""
    execution_id: str
    rng: random.Random
    key: str | None = None
    """The execution's unique ``key`` (in its input), if it has one."""
    acted: bool = False
    """The control did what it is for (paused, redrove, answered) at least once."""
    problems: list[str] = field(default_factory=list)
    loose: bool = False
    """The outcome is compared by how it ended only (status, error, result), not step by
    step: the control changed the course on purpose (a stop, then a redrive)."""

    def __post_init__(self) -> None:
        """A control's own state and choices (drawn from ``rng``)."""

    def started(self) -> None:
        """The execution was just started."""

    def before(self, received: int) -> None:
        """The ``received``-th message for the execution is about to be handed over."""

    def idle(self) -> None:
        """The queue has nothing visible."""

    def settled(self) -> bool:
        """This phase is over: the execution ended."""
        head = self.svc.executions.get(self.execution_id)
        return head is not None and head.status in ENDED

    def again(self) -> bool:
        """Once settled: whether another phase follows."""
        return False

    def head(self) -> Any:
        return self.svc.executions.get(self.execution_id)

    def status(self) -> str:
        head = self.head()
        return str(head.status) if head else "missing"

    def expect(
        self, what: str, call: Callable[[], Any], *, refused: tuple[type[Exception], ...] = ()
    ) -> Any:
        """Make ``call``; an error other than ``refused`` is a problem. The answer (or the
        refusal) is returned."""
        try:
            return call()
        except refused as exc:
            return exc
        except SteplineError as exc:
            self.problems.append(f"{what}: {type(exc).__name__}: {exc} (execution {self.status()})")
            return exc

    def entries(self) -> list[tuple[str, str]]:
        from stepline.api import queries

        page = queries.history(self.svc, self.execution_id, size=None, token=None)
        return [(str(e["id"]), str(e["status"])) for e in page["entries"]]


class PauseResume(Control):
    """Pause at a drawn message (twice, as a retried call), deliver what comes (it must start
    no step), resume after a few messages or once the queue is quiet (twice too)."""

    def __post_init__(self) -> None:
        self.pause_at = self.rng.randint(*PAUSE_AT)
        self.hold_for = self.rng.randint(*HOLD_FOR)
        self.paused_at: int | None = None
        self.seen_paused: list[tuple[str, str]] | None = None

    def started(self) -> None:
        if self.pause_at == 0:
            self._pause(0)

    def before(self, received: int) -> None:
        if self.paused_at is None and received == self.pause_at:
            self._pause(received)
        elif self.paused_at is not None and received - self.paused_at > self.hold_for:
            self._resume()

    def idle(self) -> None:
        if self.paused_at is not None:
            self._resume()

    def _pause(self, received: int) -> None:
        for _ in range(2):
            answer = self.expect(
                "pause",
                lambda: pausing.pause(self.control, self.execution_id),
                refused=(FailedPrecondition,),
            )
        if isinstance(answer, FailedPrecondition):
            if self.status() not in ENDED:
                self.problems.append(f"pause refused while {self.status()}: {answer}")
            return
        if self.status() != ExecutionStatus.PAUSED:
            self.problems.append(f"paused, yet {self.status()}")
            return
        self.acted = True
        self.paused_at = received
        self.seen_paused = self.entries()

    def _resume(self) -> None:
        before = {i for i, _ in self.seen_paused or []}
        started = [i for i, _ in self.entries() if i not in before]
        if started:
            self.problems.append(f"steps started while PAUSED: {started}")
        self.paused_at = None
        for _ in range(2):
            answer = self.expect(
                "resume",
                lambda: pausing.resume(self.control, self.execution_id),
                refused=(FailedPrecondition,),
            )
        if isinstance(answer, FailedPrecondition) and self.status() not in ENDED:
            self.problems.append(f"resume refused while {self.status()}: {answer}")

    def settled(self) -> bool:
        if self.paused_at is not None:
            return False  # it may end while paused (its last result came in): resume first
        return super().settled()


class StopAndRedrive(Control):
    """Stop a share of the executions at a drawn message; redrive each that ends FAILED or
    STOPPED (two calls at once), deliver until it ends again; a FINISHED one must be refused."""

    stop_share: float = STOP_SHARE

    def __post_init__(self) -> None:
        self.stop_at = self.rng.randint(1, 3) if self.rng.random() < self.stop_share else None
        self.redriven = False

    def before(self, received: int) -> None:
        if received == self.stop_at and not self.redriven:  # a redriven run goes on undisturbed
            for _ in range(2):
                answer = self.expect(
                    "stop",
                    lambda: executions.stop(self.control, self.execution_id, terminate=False),
                    refused=(FailedPrecondition,),
                )
            if isinstance(answer, FailedPrecondition) and self.status() not in ENDED:
                self.problems.append(f"stop refused while {self.status()}: {answer}")
            elif not isinstance(answer, SteplineError):
                self.loose = True

    def settled(self) -> bool:
        # A stopped execution's runner closes its steps after the head went STOPPED.
        return super().settled() and not self.svc.log.closing(self.execution_id)

    def again(self) -> bool:
        head = self.head()
        if self.redriven:
            if head.redrive_count != 1:
                self.problems.append(f"redriven once, redriveCount {head.redrive_count}")
            return False
        self.redriven = True
        if head.status == ExecutionStatus.FINISHED:
            answer = self.expect(
                "redrive of a FINISHED execution",
                lambda: redrive.redrive(self.control, self.execution_id),
                refused=(FailedPrecondition,),
            )
            if not isinstance(answer, FailedPrecondition):
                self.problems.append(f"a FINISHED execution was redriven: {answer}")
            return False
        answers = self._at_once(2)
        if not any(isinstance(a, dict) for a in answers):
            self.problems.append(f"no redrive landed: {answers}")
            return False
        for answer in answers:  # the loser of the race: the same answer, or refused as running
            if isinstance(answer, dict) and answer.get("redriveCount") != "1":
                self.problems.append(f"redrive answered {answer}")
        self.acted = True
        return True

    def _at_once(self, n: int) -> list[Any]:
        """``n`` redrive calls at the same moment; their answers or refusals."""
        answers: list[Any] = [None] * n
        go = threading.Barrier(n)

        def call(i: int) -> None:
            go.wait()
            answers[i] = self.expect(
                "redrive",
                lambda: redrive.redrive(self.control, self.execution_id),
                refused=(FailedPrecondition,),
            )

        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return answers


class RedriveOnly(StopAndRedrive):
    """A redrive of each execution that ends FAILED, none stopped: the clean reference."""

    stop_share = 0.0


class AnswerTasks(Control):
    """Answer each task as its notification asks (the body's ``answer``): ``success`` with an
    output, ``failure`` with an error, ``heartbeat`` (then success on the next look), or
    ``none`` (it times out). After each answer the same one and a different one are sent again:
    both must be refused; a token a newer notification replaced is skipped."""

    inbox: Inbox | None = None

    def __post_init__(self) -> None:
        self.handled: set[str] = set()
        self.beating: dict[str, dict[str, Any]] = {}

    def before(self, received: int) -> None:
        self._look()

    def idle(self) -> None:
        self._look()

    def _look(self) -> None:
        assert self.inbox is not None and self.key is not None
        for token, answer in self.inbox.of(self.key):
            if token in self.beating:
                del self.beating[token]
                self._answer(token, {"kind": "success", "output": answer.get("output", {})})
            elif token not in self.handled:
                self.handled.add(token)
                if answer.get("kind") == "heartbeat":
                    beat = self.expect(
                        "heartbeat",
                        partial(tasks.send_heartbeat, self.control, token),
                        refused=(NotFound,),
                    )
                    if not isinstance(beat, SteplineError):
                        self.beating[token] = answer
                        self.acted = True
                elif answer.get("kind") != "none":
                    self._answer(token, answer)

    def _answer(self, token: str, answer: dict[str, Any]) -> None:
        first = self.expect("answer", lambda: self._send(token, answer), refused=(NotFound,))
        if isinstance(first, NotFound):
            return  # a newer notification replaced this token (the runner issued it again)
        self.acted = True
        other = (
            {"kind": "failure", "code": "STEP_FAILED_PRECONDITION", "message": "changed my mind"}
            if answer["kind"] == "success"
            else {"kind": "success", "output": {}}
        )
        for again, what in ((answer, "the same answer"), (other, "a different answer")):
            refusal = self.expect(
                f"{what} again",
                partial(self._send, token, again),
                refused=(FailedPrecondition,),
            )
            if not isinstance(refusal, FailedPrecondition):
                self.problems.append(f"a second answer ({what}) was taken")

    def _send(self, token: str, answer: dict[str, Any]) -> None:
        if answer["kind"] == "success":
            tasks.send_success(self.control, token, json.dumps(answer.get("output", {})))
        else:
            tasks.send_failure(self.control, token, answer["code"], answer.get("message", ""))

    def settled(self) -> bool:
        if not super().settled():
            return False
        assert self.inbox is not None and self.key is not None
        for token, _ in self.inbox.of(self.key)[-1:]:  # the execution ended: no more answers
            refusal = self.expect(
                "an answer after the end",
                partial(tasks.send_success, self.control, token, "{}"),
                refused=(FailedPrecondition, NotFound),
            )
            if not isinstance(refusal, SteplineError):
                self.problems.append("an answer to an ended execution was taken")
        return True


CONTROLS: dict[str, type[Control]] = {
    "": Control,
    "pause": PauseResume,
    "redrive": StopAndRedrive,
    "redrive-only": RedriveOnly,
    "tasks": AnswerTasks,
}
REFERENCE_OF = {"": "", "pause": "", "redrive": "redrive-only", "tasks": "tasks"}
"""The control of the clean run an execution is compared with: a pause must not show, a
redrive is compared with a clean run redriven, tasks are answered in the clean run too."""


# --- the inbox of task notifications ---------------------------------------------------------


class Inbox:
    """Task notifications as they arrive: token and answer by the execution's ``key``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.url = ""

    def take(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._by_key.setdefault(str(body["key"]), []).append(
                (str(body["token"]), dict(body.get("answer") or {}))
            )

    def of(self, key: str) -> Sequence[tuple[str, dict[str, Any]]]:
        """The key's notifications, oldest first."""
        with self._lock:
            return list(self._by_key.get(key, ()))


@contextmanager
def inbox() -> Iterator[Inbox]:
    """An HTTP server on 127.0.0.1 that keeps every notification posted to it."""
    box = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length") or 0)
            try:
                box.take(json.loads(self.rfile.read(size)))
            except (ValueError, KeyError, TypeError):
                self.send_response(400)
            else:
                self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_port}/notify"
    with harness.served(server):
        yield box
