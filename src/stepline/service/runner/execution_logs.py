"""An execution's own log lines in CloudWatch Logs (``logOptions``, pinned on the head at Start).

With ``logGroupId`` (a group under ``/stepline/<stack name>/``, which is all the runner's role may
write to) and not ``disabled``, the runner writes one JSON line per event of the execution, from
``minLevel`` up; without logOptions, without a group, or disabled, it writes none:

=====================================  =======  ======================================
event                                  level    when
=====================================  =======  ======================================
``execution started``                  INFO     the execution's first log item
``step started``                       DEBUG    a step's entry is first recorded
``step retried``                       WARN     once per attempt after the first
``step finished``                      INFO     the entry ended COMPLETED
``step failed``                        ERROR    the entry ended FAILED (caught or not)
``step cancelled``                     WARN     the entry ended CANCELLED (Stop, Terminate)
``execution finished``                 INFO     the execution ended FINISHED
``execution failed``                   ERROR    the execution ended FAILED
``execution stopped``                  WARN     the execution ended STOPPED
=====================================  =======  ======================================

``LEVEL_UNSPECIFIED`` is INFO; TRACE writes what DEBUG does; FATAL writes nothing (no event is
fatal). Every line names the execution and the workflow, step lines the step (``stepId`` as
GetHistory shows it), its type, attempt, and error code and message (secrets redacted as in
the history). No step input or output is written.

Lines are made from a log item once it is appended — a run that loses the race for a position
writes none, so a duplicate message writes no second lines — and kept until the invocation
ends, then written with one PutLogEvents per stream. The stream is ``<yyyy>/<mm>/<dd>/<workflow
id>`` (the line's UTC day). Writing is best effort, at most once: a failed write is logged by
the runner and its lines are dropped, and an invocation that dies before it writes loses them;
nothing about it fails, retries or holds up the execution.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from stepline.integrations.cloudwatch_logs import LogEvent, LogWriter
from stepline.models import LOG_GROUP_ROOT
from stepline.service.deps import Services
from stepline.statuses import EntryStatus
from stepline.store.records import ExecutionRecord
from stepline.telemetry import logger
from stepline.times import from_stored

LEVELS: Final = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
DEFAULT_LEVEL: Final = "INFO"
_ENDED: Final[dict[str, tuple[str, str]]] = {
    EntryStatus.COMPLETED: ("INFO", "step finished"),
    EntryStatus.FAILED: ("ERROR", "step failed"),
    EntryStatus.CANCELLED: ("WARN", "step cancelled"),
}
_OUTCOMES: Final[dict[str, tuple[str, str]]] = {
    "FINISHED": ("INFO", "execution finished"),
    "FAILED": ("ERROR", "execution failed"),
    "STOPPED": ("WARN", "execution stopped"),
}


@dataclass(frozen=True)
class Destination:
    """Where an execution's lines go, and the least level written."""

    group: str
    min_level: int


def destination(svc: Services, head: ExecutionRecord) -> Destination | None:
    """The execution's destination; None when it writes no lines (or names a group outside
    the stack's, which the runner may not write to: logged)."""
    options = head.log_options or {}
    group = options.get("logGroupId")
    if options.get("disabled") or not isinstance(group, str) or not group:
        return None
    allowed = f"{LOG_GROUP_ROOT}{svc.settings.stack_name}/"
    if not svc.settings.stack_name or not group.startswith(allowed):
        logger.warning(
            "logOptions.logGroupId is outside the stack's log groups: no lines written",
            extra={"log_group": group[:200], "allowed_prefix": allowed},
        )
        return None
    level = str(options.get("minLevel") or DEFAULT_LEVEL)
    return Destination(group, LEVELS.get(level, LEVELS[DEFAULT_LEVEL]))


@dataclass
class Lines:
    """The lines of one execution an invocation has made and not yet written."""

    destination: Destination | None
    events: list[LogEvent] = field(default_factory=list)
    latest: int = 0
    """Timestamp of the newest line made: lines keep the order they are made in."""

    def add(self, at: datetime, level: str, message: str, **fields: Any) -> None:
        """Keep a line when its level is written; its time is ``at``, or the previous line's
        when that is later (a retry's moment is not recorded, a step's end may round)."""
        if self.destination is None or LEVELS[level] < self.destination.min_level:
            return
        body = {"level": level, "message": message, **fields}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
        self.latest = max(self.latest, int(at.timestamp() * 1000))
        self.events.append(LogEvent(self.latest, text))


def record(
    lines: Lines,
    head: ExecutionRecord,
    at: datetime,
    *,
    entries: Iterable[dict[str, Any]],
    previous: dict[int, dict[str, Any]],
    first: bool = False,
    outcome: str | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    """The lines one appended log item stands for: ``entries`` are the ended and open entries
    it records (as shown), ``previous`` the open entries of the item before it."""
    if lines.destination is None:
        return
    ids = {"executionId": head.id, "workflowId": head.workflow_id}
    if first:
        lines.add(head.started_at, "INFO", "execution started", **ids)
    for entry in entries:
        _entry_lines(lines, ids, at, entry, previous.get(int(entry["n"])))
    if outcome is not None:
        level, message = _OUTCOMES.get(outcome, ("INFO", f"execution {outcome.lower()}"))
        lines.add(at, level, message, **ids, status=outcome, **_error(error))


def _entry_lines(
    lines: Lines,
    ids: dict[str, str],
    at: datetime,
    entry: dict[str, Any],
    before: dict[str, Any] | None,
) -> None:
    step = {**ids, "stepId": entry.get("id"), "stepType": entry.get("type")}
    attempts = int(entry.get("attempts", 1))
    started = _time(entry.get("startedAt"), at)
    if before is None:
        lines.add(started, "DEBUG", "step started", **step, attempt=1)
    for attempt in range(max(int((before or {}).get("attempts", 1)), 1) + 1, attempts + 1):
        last = entry.get("lastError") or entry.get("error")
        problem = _error(last, "lastError")
        lines.add(started, "WARN", "step retried", **step, attempt=attempt, **problem)
    ended = _ENDED.get(str(entry.get("status")))
    if ended is not None:
        level, message = ended
        end = started + _seconds(entry.get("duration"))
        problem = _error(entry.get("error"))
        lines.add(end, level, message, **step, attempt=attempts, status=entry["status"], **problem)


def _error(problem: Any, key: str = "error") -> dict[str, Any]:
    """``{key: {errorCode, message}}`` for a problem (an entry's error or lastError, an
    outcome's error), else nothing."""
    if not isinstance(problem, dict) or "errorCode" not in problem:
        return {}
    return {key: {"errorCode": problem["errorCode"], "message": problem.get("message", "")}}


def _seconds(text: Any) -> timedelta:
    """A proto3 JSON duration (``1.5s``) as a timedelta; zero when there is none."""
    try:
        return timedelta(seconds=float(str(text).removesuffix("s")))
    except ValueError:
        return timedelta()


def _time(text: Any, default: datetime) -> datetime:
    try:
        return from_stored(str(text))
    except ValueError:
        return default


def flush(svc: Services, head: ExecutionRecord, lines: Lines) -> None:
    """Write the lines kept so far, one request per stream; never raises."""
    if lines.destination is None or not lines.events:
        return
    events, lines.events = lines.events, []
    try:
        writer = LogWriter(svc.core_client("logs"))
        for stream, group in _by_stream(head.workflow_id, events).items():
            problem = writer.put(lines.destination.group, stream, group)
            if problem is not None:
                logger.warning(
                    "execution log lines not written; dropped",
                    extra={
                        "log_group": lines.destination.group,
                        "lines": len(group),
                        "reason": problem,
                    },
                )
    except Exception:  # logging is never worth an execution: nothing escapes from here
        logger.exception("execution log lines not written; dropped")


def _by_stream(workflow_id: str, events: list[LogEvent]) -> dict[str, list[LogEvent]]:
    streams: dict[str, list[LogEvent]] = {}
    for event in events:
        day = datetime.fromtimestamp(event.timestamp / 1000, UTC)
        streams.setdefault(f"{day:%Y/%m/%d}/{workflow_id}", []).append(event)
    return streams
