"""The List filter language: ``field<op>value`` terms joined by `` AND ``.

Supported: ``status=<STATUS>``, ``started_at<T``, ``started_at>T``, ``started_at=T`` and the same
for ``finished_at``; values may be double-quoted. Each term narrows one field; two terms on the
same time field give a range. The value is the store's ``ExecutionFilter``
(``store/listing.py`` turns it into Queries). ListWorkflows takes ``name=`` and ``created_at``
terms, ListOperations ``created_at`` ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stepline.errors import InvalidArgument
from stepline.store.listing import ExecutionFilter, TimeRange
from stepline.store.records import EXECUTION_STATUSES
from stepline.times import TimestampError, parse_timestamp, stored

MAX_FILTER_LENGTH = 1000
_TERM = re.compile(r"^\s*([a-zA-Z_]+)\s*(<=|>=|!=|=|<|>)\s*(.*?)\s*$")
_AND = re.compile(r"\s+AND\s+")
_TIME_FIELDS = {
    "started_at": "started",
    "startedAt": "started",
    "finished_at": "finished",
    "finishedAt": "finished",
}


def parse(text: str | None) -> ExecutionFilter:
    """Parse a List filter; errors name the term and say what is accepted."""
    result = ExecutionFilter()
    for term in _terms(text):
        result = _apply(result, term)
    return result


def _terms(text: str | None) -> list[str]:
    """The terms of a filter text (none for an empty one), within MAX_FILTER_LENGTH."""
    if text is None or not text.strip():
        return []
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidArgument(f"filter: longer than {MAX_FILTER_LENGTH} characters")
    return _AND.split(text.strip())


def _split(term: str, example: str) -> tuple[str, str, str]:
    """A term's field, operator and value (double quotes around the value removed)."""
    match = _TERM.match(term)
    if not match:
        raise InvalidArgument(
            f"filter: cannot parse {term!r}; expected terms like {example} joined by ' AND '"
        )
    field, op, raw = match.groups()
    value = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    return field, op, value


def _apply(current: ExecutionFilter, term: str) -> ExecutionFilter:
    field, op, value = _split(term, "status=FAILED or started_at>2026-01-01T00:00:00Z")
    if field == "status":
        return _status(current, op, value)
    if field in _TIME_FIELDS:
        return _time(current, _TIME_FIELDS[field], op, value, field)
    raise InvalidArgument(
        f"filter: unknown field {field!r}; supported fields are status, started_at, finished_at"
    )


def _status(current: ExecutionFilter, op: str, value: str) -> ExecutionFilter:
    if op != "=":
        raise InvalidArgument(f"filter: status supports only '=', not {op!r}")
    if value not in EXECUTION_STATUSES:
        hint = " (did you mean FAILED?)" if value == "ERROR" else ""
        raise InvalidArgument(
            f"filter: status {value!r} is not an execution status{hint}; "
            f"use one of {', '.join(EXECUTION_STATUSES)}"
        )
    if current.status is not None and current.status != value:
        raise InvalidArgument("filter: status is given twice with different values")
    return ExecutionFilter(value, current.started, current.finished)


def _timestamp(field: str, op: str, value: str) -> str:
    """The stored form of a time term's timestamp; refuses operators other than =, <, >."""
    if op not in ("=", "<", ">"):
        raise InvalidArgument(f"filter: {field} supports '=', '<' and '>', not {op!r}")
    try:
        return stored(parse_timestamp(value, f"filter: {field}"))
    except TimestampError as exc:
        raise InvalidArgument(exc.message) from exc


def _time(current: ExecutionFilter, which: str, op: str, value: str, field: str) -> ExecutionFilter:
    ts = _timestamp(field, op, value)
    if which == "started":
        started = (current.started or TimeRange()).narrow(op, ts)
        return ExecutionFilter(current.status, started, current.finished)
    finished = (current.finished or TimeRange()).narrow(op, ts)
    return ExecutionFilter(current.status, current.started, finished)


@dataclass(frozen=True)
class WorkflowFilter:
    """A parsed ListWorkflows filter: a name, a range on the creation time."""

    name: str | None = None
    created: TimeRange | None = None

    @property
    def canonical(self) -> str:
        """A stable text form, used to bind page tokens to the filter."""
        return f"{self.name}|{self.created}"


_WORKFLOW_NAME = re.compile(r"^[a-z][-a-z0-9]{0,62}$")


def parse_workflows(text: str | None) -> WorkflowFilter:
    """Parse a ListWorkflows filter: ``name=<name>``, ``created_at<T``, ``created_at>T``,
    ``created_at=T``, joined by `` AND ``."""
    result = WorkflowFilter()
    for term in _terms(text):
        result = _workflow_term(result, term)
    return result


def _workflow_term(current: WorkflowFilter, term: str) -> WorkflowFilter:
    field, op, value = _split(term, "name=orders or created_at>2026-01-01T00:00:00Z")
    if field in ("created_at", "createdAt"):
        ts = _timestamp(field, op, value)
        return WorkflowFilter(current.name, (current.created or TimeRange()).narrow(op, ts))
    if field != "name":
        raise InvalidArgument(
            f"filter: unknown field {field!r}; supported fields are name, created_at"
        )
    if op != "=":
        raise InvalidArgument(f"filter: name supports only '=', not {op!r}")
    if not _WORKFLOW_NAME.match(value):
        raise InvalidArgument(f"filter: {value[:80]!r} is not a workflow name")
    if current.name is not None and current.name != value:
        raise InvalidArgument("filter: name is given twice with different values")
    return WorkflowFilter(value, current.created)


def parse_operations(text: str | None) -> TimeRange | None:
    """Parse a ListOperations filter: ``created_at<T``, ``created_at>T``, ``created_at=T``
    joined by `` AND ``; None when it has no term."""
    created: TimeRange | None = None
    for term in _terms(text):
        field, op, value = _split(term, "created_at>2026-01-01T00:00:00Z")
        if field not in ("created_at", "createdAt"):
            raise InvalidArgument(
                f"filter: unknown field {field!r}; the supported field is created_at"
            )
        created = (created or TimeRange()).narrow(op, _timestamp(field, op, value))
    return created


__all__ = ["ExecutionFilter", "WorkflowFilter", "parse", "parse_operations", "parse_workflows"]
