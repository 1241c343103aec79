"""waitForTask (a Stepline extension): task tokens, their notification, and their answers.

The runner polls a waitForTask step (:func:`poll`) instead of performing it: the first poll of
an attempt issues a task token — 256 random bits, bound to the execution and the step's entry,
of which only the SHA-256 is stored — and sends the step's notification (an HTTP call whose
templates read ``$taskToken``); later polls take the answer, or time the task out, or say when
to look again (the execution parks meanwhile, no Lambda held open).

A caller answers with the token (:func:`send_success`, :func:`send_failure`) or keeps it alive
(:func:`send_heartbeat`). Each answer is one conditional write on the task item, so of two
concurrent answers exactly one lands, and a second answer is refused whatever it says (the
store's own retry of a write whose reply was lost is recognised by the answer's digest, and
taken as the write it is). An answer files the
execution for the reconciler at once and sends the runner a resume message; a lost message is
recovered by the reconciler (:func:`answer_waiting`).

The token is never stored, logged or shown: a notification failure's message has it redacted,
and an unknown, forged or superseded token is refused with the same NOT_FOUND, naming nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from stepline import engine
from stepline.access import Principal, Role
from stepline.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from stepline.service import guard
from stepline.service.deps import Services
from stepline.statuses import ACTIVE
from stepline.store.errors import ConditionFailed
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord
from stepline.store.tasks import (
    ANSWERED,
    CANCELLED,
    SUCCEEDED,
    TIMED_OUT,
    WAITING,
    TaskRecord,
    TaskStore,
)
from stepline.times import from_stored, stored
from stepline.yawl.errors import UNCATCHABLE, WorkflowErrorCode
from stepline.yawl.integration import WaitForTask

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 512
MAX_OUTPUT_BYTES = 256 * 1024
MAX_MESSAGE_LENGTH = 4096
NOTIFY_TIMEOUT = 30.0
KEEP_AFTER_DEADLINE = timedelta(days=7)
REDACTED = "***"
_ROUNDS = 3


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_token(execution_id: str, n: int) -> str:
    """A token for the task of entry ``n``: ``<execution>.<n>.<256 random bits>``, base64url."""
    return f"{_b64(execution_id.encode())}.{n}.{_b64(secrets.token_bytes(TOKEN_BYTES))}"


def token_hash(token: str) -> str:
    """What the task item keeps of its token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _unknown() -> NotFound:
    return NotFound("taskToken: the task token is not valid")


def _parse(token: str) -> tuple[str, int]:
    """The execution and entry a token names (NOT_FOUND when it is not a token's shape)."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3 or not parts[1].isdigit():
        raise _unknown()
    try:
        execution_id = _unb64(parts[0]).decode()
    except (binascii.Error, ValueError):
        raise _unknown() from None
    return execution_id, int(parts[1])


# --- the runner's side ----------------------------------------------------------------------


def poll(
    svc: Services,
    head: ExecutionRecord,
    call: engine.CallRequest,
    body: WaitForTask,
    secrets_: dict[str, dict[str, str]],
) -> engine.CallResult:
    """The step's outcome: its answer, a timeout, a failed notification, or ``wait_until``."""
    store = TaskStore(svc.table)
    for _ in range(_ROUNDS):
        try:
            return _poll_once(svc, store, head, call, body, secrets_)
        except ConditionFailed:
            continue  # an answer (or another runner) changed the task meanwhile: look again
    raise Aborted(f"the task of entry {call.n} kept changing while it was polled")


def _poll_once(
    svc: Services,
    store: TaskStore,
    head: ExecutionRecord,
    call: engine.CallRequest,
    body: WaitForTask,
    secrets_: dict[str, dict[str, str]],
) -> engine.CallResult:
    task = store.get(head.id, call.n)
    if task is None or task.attempt < call.attempt:
        return _issue(svc, store, head, call, body, secrets_, replaces=None)
    if task.status in ANSWERED:
        return _answer_of(task)
    if task.status == TIMED_OUT:
        return _timed_out(task)
    if task.status == CANCELLED or not task.notified:
        # The notification failed, or may not have gone out (the runner stopped in between):
        # a new token replaces this one, and the notification is sent again.
        return _issue(svc, store, head, call, body, secrets_, replaces=task)
    now = svc.clock()
    due = _due(task)
    if due <= now:
        store.settle(task, TIMED_OUT)
        return _timed_out(task)
    return engine.CallResult(wait_until=due)


def _due(task: TaskRecord) -> datetime:
    """When the task times out unless answered (or, with a heartbeat timeout, heartbeated)."""
    deadline = from_stored(task.deadline)
    if task.heartbeat_deadline is not None:
        return min(deadline, from_stored(task.heartbeat_deadline))
    return deadline


def _issue(
    svc: Services,
    store: TaskStore,
    head: ExecutionRecord,
    call: engine.CallRequest,
    body: WaitForTask,
    secrets_: dict[str, dict[str, str]],
    *,
    replaces: TaskRecord | None,
) -> engine.CallResult:
    now, scale = svc.clock(), svc.settings.time_scale
    token = new_token(head.id, call.n)
    deadline = now + timedelta(seconds=call.timeout * scale)
    heartbeat = body.heartbeat_timeout * scale if body.heartbeat_timeout is not None else None
    beat_due = None if heartbeat is None else stored(now + timedelta(seconds=heartbeat))
    task = TaskRecord(
        execution_id=head.id,
        n=call.n,
        attempt=call.attempt,
        token_hash=token_hash(token),
        status=WAITING,
        deadline=stored(deadline),
        heartbeat_deadline=beat_due,
        heartbeat_seconds=heartbeat,
        expires_at=int((deadline + KEEP_AFTER_DEADLINE).timestamp()),
    )
    store.issue(task, replaces)
    failure = _notify(svc, head, call, body, secrets_, token)
    if failure is not None:
        store.settle(task, CANCELLED)
        return failure
    store.notified(task)
    return engine.CallResult(wait_until=_due(task))


def _notify(
    svc: Services,
    head: ExecutionRecord,
    call: engine.CallRequest,
    body: WaitForTask,
    secrets_: dict[str, dict[str, str]],
    token: str,
) -> engine.CallResult | None:
    """Send the notification with ``$taskToken`` bound; its failure (token redacted), or None."""
    from stepline.integrations import CallContext, adapter_for
    from stepline.service.runner.delegation import identity
    from stepline.yawl.errors import StepFailure
    from stepline.yawl.templating import TemplateError, render

    variables = {"taskToken": token}
    try:
        who = identity(svc, head)
        context = CallContext(
            client=who.client,
            render=lambda template: render(
                template, call.step_input, variables=variables, secrets=secrets_
            ),
            timeout=NOTIFY_TIMEOUT,
            execution_id=head.id,
            step_id=call.entry_id,
            allow_private_hosts=svc.settings.allowed_private_hosts,
            reserved=svc.reserved,
            credentials=who.credentials,
        )
        notification = body.notify_call()
        adapter_for(notification)(notification, call.step_input, context)
    except TemplateError as exc:
        code, message = WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION.value, str(exc)
    except StepFailure as failure:
        code, message = failure.code.value, failure.message
    else:
        return None
    return engine.CallResult(code=code, message=f"notification: {redact(message, token)}")


def redact(text: str, token: str) -> str:
    """``text`` with the token (and its secret part alone) hidden."""
    return text.replace(token, REDACTED).replace(token.rsplit(".", 1)[-1], REDACTED)


def _answer_of(task: TaskRecord) -> engine.CallResult:
    if task.status == SUCCEEDED:
        return engine.CallResult(output=json.loads(task.output_json or "null"))
    return engine.CallResult(code=task.error_code, message=task.error_message or "")


def _timed_out(task: TaskRecord) -> engine.CallResult:
    hb = task.heartbeat_deadline
    if hb is not None and from_stored(hb) < from_stored(task.deadline):
        message = "no heartbeat came within the step's heartbeatTimeout"
    else:
        message = "no answer came within the step's timeout"
    return engine.CallResult(code=WorkflowErrorCode.STEP_TIMEOUT.value, message=message)


def answer_waiting(
    svc: Services, execution_id: str, open_entries: Iterable[int]
) -> datetime | None:
    """When the first answer that waits to be taken came: a task answered whose step's entry
    is still open (None: none waits). Its resume message is sent with it, so past the
    reconciler's grace it was lost."""
    still_open = set(open_entries)
    answered = [
        from_stored(task.answered_at) if task.answered_at else svc.clock()
        for task in TaskStore(svc.table).of_execution(execution_id)
        if task.n in still_open and task.status in ANSWERED
    ]
    return min(answered, default=None)


# --- the callers' side ----------------------------------------------------------------------


def send_success(
    svc: Services, token: str, output_json: str, principal: Principal | None = None
) -> None:
    """Answer a task with its output (JSON text): the step completes with it."""
    _check_output(output_json)
    digest = _digest("success", output_json)
    _answer(svc, token, principal, digest, output_json=output_json)


def send_failure(
    svc: Services, token: str, error_code: str, message: str, principal: Principal | None = None
) -> None:
    """Answer a task with a failure: the step fails with ``error_code`` (a YaWL error code its
    catch rules and retry policy see) and ``message``."""
    code = _error_code(error_code)
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidArgument(f"message: at most {MAX_MESSAGE_LENGTH} characters")
    _answer(svc, token, principal, _digest("failure", code, message), error=(code, message))


def send_heartbeat(svc: Services, token: str, principal: Principal | None = None) -> None:
    """The task is still being worked on: its heartbeat deadline starts again."""
    task, head = _task_of(svc, token, principal)
    now = svc.clock()
    _require_active(head)
    _require_waiting(task, now)
    if task.heartbeat_seconds is None:
        return  # the step asks for no heartbeat: nothing to extend
    until = now + timedelta(seconds=task.heartbeat_seconds)
    try:
        TaskStore(svc.table).heartbeat(task, stored(now), stored(until))
    except ConditionFailed as lost:
        _require_waiting(_reread(svc, task), now)
        raise FailedPrecondition("taskToken: the task changed meanwhile; try again") from lost


def _answer(
    svc: Services,
    token: str,
    principal: Principal | None,
    digest: str,
    *,
    output_json: str | None = None,
    error: tuple[str, str] | None = None,
) -> None:
    task, head = _task_of(svc, token, principal)
    now = svc.clock()
    if task.answer_digest == digest and head.status in ACTIVE:
        # This very answer was taken before, and its caller may have died before the resume
        # went out: resume (a duplicate message changes nothing), then refuse it as a second.
        _resume(svc, head, now)
    _require_active(head)
    _require_waiting(task, now)
    try:
        TaskStore(svc.table).answer(task, stored(now), digest, output_json=output_json, error=error)
    except ConditionFailed as lost:
        again = _reread(svc, task)
        if again.answer_digest != digest:  # else: this write landed and its reply was lost
            _require_waiting(again, now)
            raise FailedPrecondition("taskToken: the task changed meanwhile; try again") from lost
    _resume(svc, head, now)


def _resume(svc: Services, head: ExecutionRecord, now: datetime) -> None:
    """Tell the runner an answer waits; the reconciler looks, should the message be lost."""
    svc.executions.watch(head.id, now)
    svc.queue.send(StepMessage(head.id, 0, resume=True))


def _task_of(
    svc: Services, token: str, principal: Principal | None
) -> tuple[TaskRecord, ExecutionRecord]:
    """The task a token names, once the caller may answer it (executor on the workflow)."""
    execution_id, n = _parse(token)
    task = TaskStore(svc.table).get(execution_id, n)
    if task is None or not hmac.compare_digest(task.token_hash, token_hash(token)):
        raise _unknown()
    head = svc.executions.get(execution_id)
    if head is None:
        raise _unknown()
    guard.require_workflow(
        svc, principal, head.workflow_id, head.folder_id, Role.EXECUTOR, hidden=_unknown
    )
    return task, head


def _require_active(head: ExecutionRecord) -> None:
    """A PAUSED execution takes answers too: its runner takes them once it is resumed."""
    if head.status not in ACTIVE:
        raise FailedPrecondition(
            f"taskToken: execution {head.id} is {head.status} and takes no more answers"
        )


def _reread(svc: Services, task: TaskRecord) -> TaskRecord:
    again = TaskStore(svc.table).get(task.execution_id, task.n)
    if again is None or again.token_hash != task.token_hash:
        raise _unknown()  # a retry of the step issued a new token: this one is void
    return again


def _require_waiting(task: TaskRecord, now: datetime) -> None:
    """FAILED_PRECONDITION naming why the task takes no answer (already answered, timed out,
    past a deadline)."""
    if task.status in ANSWERED:
        raise FailedPrecondition(f"taskToken: the task was already answered ({task.status})")
    if task.status == TIMED_OUT or from_stored(task.deadline) <= now:
        raise FailedPrecondition("taskToken: the task timed out")
    if task.heartbeat_deadline is not None and from_stored(task.heartbeat_deadline) <= now:
        raise FailedPrecondition("taskToken: the task missed its heartbeat timeout")
    if task.status != WAITING:
        raise FailedPrecondition("taskToken: the task was cancelled")


def _check_output(output_json: str) -> None:
    if len(output_json.encode()) > MAX_OUTPUT_BYTES:
        raise InvalidArgument(f"output: at most {MAX_OUTPUT_BYTES} bytes")
    try:
        json.loads(output_json)
    except ValueError as exc:
        raise InvalidArgument(f"output: not JSON text ({exc.args[0][:80]})") from None


def _error_code(code: str) -> str:
    try:
        known = WorkflowErrorCode(code)
    except ValueError:
        raise InvalidArgument(f"error: {code[:60]!r} is not a YaWL error code") from None
    if known.value in UNCATCHABLE:
        raise InvalidArgument(f"error: {known.value} is the engine's own, not a caller's")
    return known.value


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


__all__ = [
    "answer_waiting",
    "new_token",
    "poll",
    "redact",
    "send_failure",
    "send_heartbeat",
    "send_success",
    "token_hash",
]
