"""List of executions: a filter value, and the Queries that answer it, newest first.

An execution head is in two List indexes, both partitioned by workflow and status
(``GSI2PK = WFEX#<workflowId>#<status>``): gsi2 sorted on its ``startedAt``, and gsi4 (sparse,
once it has ended) on its ``finishedAt``. A filter naming a status reads one partition; one
without reads the partition of every status it can match — all six by start time, the three
ended ones by finish time — and merges them newest first. An execution thus costs one index
entry at Start and two at its end instead of four (docs/cost.md), and a List page reads at
most ``pageSize + 1`` entries of each partition it merges.

A page's resume point is kept per partition (``Cursor``): the primary and index key of the
last entry it handed out from there, or of the last one DynamoDB evaluated, or ``DONE``.
Merging never hands out an entry while a partition it reads may still hold a newer one
unseen, so pages are exact however the statuses interleave.

An execution that changes status while a List reads moves from one partition to another, and
can be read in both. A page hands out an execution once (at its latest status when two
entries of it meet), and a later page reads nothing newer than the last entry handed out
before it (``LAST``) — as paging one index newest first never shows what moved above it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from stepline.store import keys
from stepline.store.records import ACTIVE_STATUSES, ENDED_STATUSES, EXECUTION_STATUSES
from stepline.store.table import Item, Table

# Names the layout a page token was issued for: a token of another one is refused.
LAYOUT = "by-status-merged/1"
# A page re-reads a partition whose evaluated entries were all filtered out at most this many
# times before it answers with what it has (a shorter page and a token).
MAX_REFILLS = 3
DONE = 0
"""The cursor value of a partition that has nothing left."""

Cursor = dict[str, Any]
"""Per status: ``[sort key, PK]`` of where to resume, or ``DONE``; a status not named starts
at the top. Under ``LAST``: ``[sort key, PK]`` of the last entry handed out so far."""
LAST = "@"


class BadCursor(ValueError):
    """A page token's resume point does not fit the query (it was not issued for it)."""


@dataclass(frozen=True)
class TimeRange:
    """Bounds on a time sort key (a stored timestamp; ``keys.time_*_bound``); None = open."""

    lower: str | None = None
    upper: str | None = None

    def narrow(self, op: str, ts: str) -> TimeRange:
        """This range intersected with ``field <op> ts`` (``=``, ``<`` or ``>``)."""
        lower, upper = self.lower, self.upper
        if op in ("=", ">"):
            bound = keys.time_lower_bound(ts, inclusive=op == "=")
            lower = bound if lower is None else max(lower, bound)
        if op in ("=", "<"):
            bound = keys.time_upper_bound(ts, inclusive=op == "=")
            upper = bound if upper is None else min(upper, bound)
        return TimeRange(lower, upper)

    @property
    def empty(self) -> bool:
        """True when no key can fall inside the range."""
        return self.lower is not None and self.upper is not None and self.lower > self.upper


@dataclass(frozen=True)
class ExecutionFilter:
    """What a List asks for: a status and ranges on the start and finish times."""

    status: str | None = None
    started: TimeRange | None = None
    finished: TimeRange | None = None

    @property
    def canonical(self) -> str:
        """A stable text form, used to bind page tokens to the filter."""
        return f"{self.status}|{self.started}|{self.finished}"

    @property
    def never_matches(self) -> bool:
        """True for filters no execution can satisfy (empty ranges, active + finished_at)."""
        if any(r is not None and r.empty for r in (self.started, self.finished)):
            return True
        return self.finished is not None and self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class ListedPage:
    """Index entries of one List page, newest first, and where the next page resumes (None:
    this was the last)."""

    items: list[Item]
    cursor: Cursor | None


@dataclass
class _Partition:
    """One status partition being merged: its buffered entries and where they came from."""

    status: str
    start: Item | None  # ExclusiveStartKey of the buffered read (None: from the top)
    buffer: deque[Item] = field(default_factory=deque)
    more: Item | None = None  # LastEvaluatedKey of the buffered read: it has more after that
    taken: Item | None = None  # the last entry this page handed out from here


class ExecutionListing:
    """The Queries answering a List filter on one workflow's executions."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def page(
        self, workflow_id: str, wanted: ExecutionFilter, *, limit: int, cursor: Cursor | None
    ) -> ListedPage:
        """Up to ``limit`` entries matching ``wanted``, newest first, after ``cursor``."""
        plan, partitions, last = self._open(workflow_id, _Plan.of(wanted), cursor or {})
        for part in partitions:
            self._fill(workflow_id, plan, part, limit)
        taken = self._merge(workflow_id, plan, partitions, limit, last)
        after = _position(taken[-1], plan.sort_attr) if taken else last
        return ListedPage(taken, self._next(partitions, plan, after))

    def _open(
        self, workflow_id: str, plan: _Plan, cursor: Cursor
    ) -> tuple[_Plan, list[_Partition], list[str] | None]:
        """The plan narrowed to what a later page may read, its partitions still to read, and
        the last entry handed out before."""
        if set(cursor) - {*plan.statuses, LAST}:
            raise BadCursor("names a status this filter does not read")
        last = cursor.get(LAST)
        if last is not None:
            _check_position(last)
            plan = plan.below(str(last[0]))
        partitions = []
        for status in plan.statuses:
            position = cursor.get(status)
            if position == DONE:
                continue
            start = None if position is None else self._key(workflow_id, plan, status, position)
            partitions.append(_Partition(status, start))
        return plan, partitions, last

    def _merge(
        self,
        workflow_id: str,
        plan: _Plan,
        partitions: list[_Partition],
        limit: int,
        last: list[str] | None,
    ) -> list[Item]:
        """Up to ``limit`` entries of the partitions, newest first, each execution once."""
        taken: list[Item] = []
        handed = {str(last[1])} if last is not None else set()
        rank = {str(status): n for n, status in enumerate(EXECUTION_STATUSES)}
        refills = 0
        while len(taken) < limit:
            starved = [p for p in partitions if not p.buffer and p.more is not None]
            if starved and refills < MAX_REFILLS:
                refills += 1
                for part in starved:
                    part.start, part.taken = part.more, None
                    self._fill(workflow_id, plan, part, limit)
                continue
            ready = [p for p in partitions if p.buffer]
            if not ready:
                break
            # Newest first; of one time, the later status first (an execution read in two
            # partitions is shown at the status it moved to).
            best = max(ready, key=lambda p: (p.buffer[0][plan.sort_attr], rank[p.status]))
            newest = best.buffer[0][plan.sort_attr]
            if any(newest <= p.more[plan.sort_attr] for p in starved if p.more is not None):
                break  # a partition still unread here may hold an entry as new: ask again
            best.taken = best.buffer.popleft()
            execution = str(best.taken[keys.PK])
            if execution not in handed:
                handed.add(execution)
                taken.append(best.taken)
        return taken

    def _fill(self, workflow_id: str, plan: _Plan, part: _Partition, limit: int) -> None:
        pk_attr, sk_attr = keys.INDEXES[plan.index]
        condition, values = (
            f"{pk_attr} = :pk",
            {":pk": keys.status_partition(workflow_id, part.status)},
        )
        bounds = plan.bounds
        if bounds.lower is not None and bounds.upper is not None:
            condition += f" AND {sk_attr} BETWEEN :lo AND :hi"
            values |= {":lo": bounds.lower, ":hi": bounds.upper}
        elif bounds.lower is not None:
            condition += f" AND {sk_attr} >= :lo"
            values[":lo"] = bounds.lower
        elif bounds.upper is not None:
            condition += f" AND {sk_attr} <= :hi"
            values[":hi"] = bounds.upper
        page = self.table.query(
            index=plan.index,
            key_condition=condition,
            values=values | plan.filter_values,
            limit=limit + 1,
            start_key=part.start,
            forward=False,
            filter_expression=plan.filter_expression,
        )
        part.buffer = deque(page.items)
        part.more = page.last_key

    def _next(
        self, partitions: list[_Partition], plan: _Plan, last: list[str] | None
    ) -> Cursor | None:
        """Where each partition resumes; None when none has anything left."""
        after: Cursor = {status: DONE for status in plan.statuses}
        for part in partitions:
            if part.taken is not None and part.buffer:
                resume: Item | None = part.taken
            elif not part.buffer:
                resume = part.more
            else:
                resume = part.start
            if part.buffer or part.more is not None:
                after[part.status] = _position(resume, plan.sort_attr) if resume else None
        if all(value == DONE for value in after.values()):
            return None
        resume = {status: value for status, value in after.items() if value is not None}
        return resume | ({LAST: last} if last is not None else {})

    @staticmethod
    def _key(workflow_id: str, plan: _Plan, status: str, position: Any) -> Item:
        """The ExclusiveStartKey of a cursor position in one partition."""
        _check_position(position)
        sort_value, pk = position
        return {
            keys.PK: pk,
            keys.SK: keys.EXECUTION_SK,
            keys.STATUS_PARTITION: keys.status_partition(workflow_id, status),
            plan.sort_attr: sort_value,
        }


def _position(item: Mapping[str, Any], sort_attr: str) -> list[str]:
    return [str(item[sort_attr]), str(item[keys.PK])]


def _check_position(position: Any) -> None:
    if not (
        isinstance(position, list)
        and len(position) == 2
        and all(isinstance(part, str) for part in position)
    ):
        raise BadCursor("malformed resume point")


@dataclass(frozen=True)
class _Plan:
    """The index, partitions and key range a filter reads."""

    index: str
    statuses: tuple[str, ...]
    bounds: TimeRange
    filter_expression: str | None = None
    filter_values: dict[str, Any] = field(default_factory=dict)

    @property
    def sort_attr(self) -> str:
        return keys.INDEXES[self.index][1]

    def below(self, newest: str) -> _Plan:
        """The same plan reading nothing newer than the sort key ``newest``."""
        upper = newest if self.bounds.upper is None else min(self.bounds.upper, newest)
        return replace(self, bounds=TimeRange(self.bounds.lower, upper))

    @classmethod
    def of(cls, wanted: ExecutionFilter) -> _Plan:
        statuses: tuple[str, ...]
        if wanted.finished is None:
            statuses = (wanted.status,) if wanted.status else EXECUTION_STATUSES
            return cls(keys.BY_STATUS_STARTED, statuses, wanted.started or TimeRange())
        statuses = (wanted.status,) if wanted.status else ENDED_STATUSES
        if wanted.started is None:
            return cls(keys.BY_STATUS_FINISHED, statuses, wanted.finished)
        # Both time fields: the finish range is the key, the start range a filter on the
        # startedAt gsi4 projects.
        parts, values = [], {}
        if wanted.started.lower is not None:
            parts.append(f"{keys.STARTED_AT} >= :slo")
            values[":slo"] = wanted.started.lower
        if wanted.started.upper is not None:
            parts.append(f"{keys.STARTED_AT} <= :shi")
            values[":shi"] = wanted.started.upper
        return cls(keys.BY_STATUS_FINISHED, statuses, wanted.finished, " AND ".join(parts), values)
