"""The EventBridge Scheduler ``cron()`` dialect: parsing, validation and fire times.

Six fields, ``Minutes Hours Day-of-month Month Day-of-week Year`` (Year may be left out and
means ``*``). One of Day-of-month and Day-of-week must be ``?``. Day-of-week counts 1 = SUN to
7 = SAT. Wildcards: ``, - * /`` everywhere, ``?`` in the two day fields, ``L`` and ``W`` in
Day-of-month (``L``, ``LW``, ``15W``), ``L`` and ``#`` in Day-of-week (``L``, ``6L``, ``3#2``).
Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

_MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
MONTHS = {name: i for i, name in enumerate(_MONTH_NAMES, start=1)}
WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
YEARS = (1970, 2199)
_NUMBER = re.compile(r"^[0-9]{1,4}$")


class CronError(ValueError):
    """A cron expression that the EventBridge Scheduler dialect does not allow."""


@dataclass(frozen=True)
class _Range:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None

    def value(self, text: str) -> int:
        """One number (or name) of this field, range-checked."""
        upper = text.upper()
        if self.names and upper in self.names:
            return self.names[upper]
        if not _NUMBER.match(text):
            named = f" or one of {', '.join(self.names)}" if self.names else ""
            raise CronError(f"{self.name}: {text!r} is not a number{named}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise CronError(f"{self.name}: {number} is out of range {self.low}-{self.high}")
        return number

    def values(self, part: str) -> list[int]:
        """The numbers one list item (``*``, ``5``, ``1-5``, ``*/15``, ``10-40/10``) stands for."""
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _NUMBER.match(step_text) or int(step_text) == 0:
                raise CronError(f"{self.name}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = self.low, self.high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = self.value(first), self.value(last)
        else:
            start = self.value(base)
            end = self.high if slash else start
        if start <= end:
            return list(range(start, end + 1, step))
        # A range that wraps (FRI-MON, 22-2) runs to the end of the field and on from its start.
        wrapped = [*range(start, self.high + 1), *range(self.low, end + 1)]
        return wrapped[::step]

    def parse(self, text: str) -> frozenset[int]:
        """The numbers a comma-separated field stands for."""
        found: set[int] = set()
        for part in text.split(","):
            if not part:
                raise CronError(f"{self.name}: empty item in {text!r}")
            found.update(self.values(part))
        return frozenset(found)


MINUTES = _Range("minutes", 0, 59)
HOURS = _Range("hours", 0, 23)
DAYS = _Range("day-of-month", 1, 31)
MONTH = _Range("month", 1, 12, MONTHS)
WEEKDAY = _Range("day-of-week", 1, 7, WEEKDAYS)
YEAR = _Range("year", *YEARS)


def aws_weekday(day: date) -> int:
    """The day of week as cron counts it: 1 = Sunday ... 7 = Saturday."""
    return day.isoweekday() % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, target: int) -> bool:
    """``<target>W``: the weekday nearest to day ``target``, never leaving the month."""
    last = _last_day(day)
    if target > last:
        return False
    wanted = day.replace(day=target)
    weekday = wanted.isoweekday()
    if weekday == 6:  # Saturday: the Friday before, or Monday when the 1st is a Saturday
        wanted = wanted + timedelta(days=2) if target == 1 else wanted - timedelta(days=1)
    elif weekday == 7:  # Sunday: the Monday after, or Friday when it is the month's last day
        wanted = wanted - timedelta(days=2) if target == last else wanted + timedelta(days=1)
    return wanted == day


def _last_weekday_of_month(day: date) -> bool:
    last = day.replace(day=_last_day(day))
    while last.isoweekday() > 5:
        last -= timedelta(days=1)
    return last == day


@dataclass(frozen=True)
class DayOfMonth:
    """Day-of-month: plain days, ``L`` (last day), ``LW`` (last weekday), ``<n>W``."""

    days: frozenset[int] = frozenset()
    last: bool = False
    last_weekday: bool = False
    nearest_weekday: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, text: str) -> DayOfMonth:
        """Parse the field (``?`` is handled by the caller)."""
        days: set[int] = set()
        last = last_weekday = False
        nearest: set[int] = set()
        for part in text.split(","):
            upper = part.upper()
            if upper == "L":
                last = True
            elif upper == "LW":
                last_weekday = True
            elif upper.endswith("W"):
                nearest.add(DAYS.value(part[:-1]))
            elif not part:
                raise CronError(f"day-of-month: empty item in {text!r}")
            else:
                days.update(DAYS.values(part))
        return cls(frozenset(days), last, last_weekday, frozenset(nearest))

    def matches(self, day: date) -> bool:
        """Whether ``day`` is one of the days this field names."""
        return (
            day.day in self.days
            or (self.last and day.day == _last_day(day))
            or (self.last_weekday and _last_weekday_of_month(day))
            or any(_nearest_weekday(day, n) for n in self.nearest_weekday)
        )


@dataclass(frozen=True)
class DayOfWeek:
    """Day-of-week: plain weekdays, ``<d>L`` (last such day of the month), ``<d>#<n>``."""

    days: frozenset[int] = frozenset()
    last_of: frozenset[int] = frozenset()
    nth: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def parse(cls, text: str) -> DayOfWeek:
        """Parse the field (``?`` is handled by the caller)."""
        days: set[int] = set()
        last_of: set[int] = set()
        nth: set[tuple[int, int]] = set()
        for part in text.split(","):
            upper = part.upper()
            if upper == "L":
                days.add(WEEKDAYS["SAT"])  # "L" alone is the last day of the week
            elif len(upper) > 1 and upper.endswith("L"):
                last_of.add(WEEKDAY.value(part[:-1]))
            elif "#" in part:
                weekday, _, count = part.partition("#")
                if count not in ("1", "2", "3", "4", "5"):
                    raise CronError(f"day-of-week: in {part!r} the week number must be 1-5")
                nth.add((WEEKDAY.value(weekday), int(count)))
            elif not part:
                raise CronError(f"day-of-week: empty item in {text!r}")
            else:
                days.update(WEEKDAY.values(part))
        return cls(frozenset(days), frozenset(last_of), frozenset(nth))

    def matches(self, day: date) -> bool:
        """Whether ``day`` is one of the days this field names."""
        weekday = aws_weekday(day)
        if weekday in self.days:
            return True
        if weekday in self.last_of and day.day + 7 > _last_day(day):
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth


@dataclass(frozen=True)
class Cron:
    """A parsed expression; :meth:`next_after` computes fire times in a time zone."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_of_month: DayOfMonth | None
    day_of_week: DayOfWeek | None

    def matches_day(self, day: date) -> bool:
        """Whether the day fields allow ``day`` (month and year are checked elsewhere)."""
        if self.day_of_month is not None:
            return self.day_of_month.matches(day)
        assert self.day_of_week is not None
        return self.day_of_week.matches(day)

    def _days(self, start: date) -> Iterator[date]:
        for year in self.years:
            if year < start.year:
                continue
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                first = start.day if (year, month) == (start.year, start.month) else 1
                for number in range(first, calendar.monthrange(year, month)[1] + 1):
                    day = date(year, month, number)
                    if self.matches_day(day):
                        yield day

    def next_after(self, moment: datetime, zone: tzinfo = UTC) -> datetime | None:
        """The first fire time strictly after ``moment`` (aware, in UTC), or None if none is left.

        Local times that a daylight-saving jump skips do not fire; times that repeat when the
        clocks go back fire once, at their first occurrence.
        """
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        local = moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        start = local + timedelta(minutes=1)
        for day in self._days(start.date()):
            for hour in self.hours:
                for minute in self.minutes:
                    candidate = datetime(day.year, day.month, day.day, hour, minute)
                    if candidate < start:
                        continue
                    fired = _resolve(candidate, zone)
                    if fired is not None and fired > moment:
                        return fired
        return None

    def between(self, after: datetime, until: datetime, zone: tzinfo = UTC) -> Iterator[datetime]:
        """Fire times ``t`` with ``after < t <= until``, oldest first."""
        moment = after
        while True:
            fired = self.next_after(moment, zone)
            if fired is None or fired > until:
                return
            yield fired
            moment = fired


def _resolve(local: datetime, zone: tzinfo) -> datetime | None:
    """The UTC instant of a wall-clock time in ``zone``; None when the clocks skip it."""
    aware = local.replace(tzinfo=zone)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None
    return instant


def parse(expression: str) -> Cron:
    """Parse ``cron(...)`` or its bare fields; raises :class:`CronError` naming the field."""
    text = expression.strip()
    if text.lower().startswith("cron(") and text.endswith(")"):
        text = text[5:-1].strip()
    fields = text.split()
    if len(fields) == 5:
        fields.append("*")
    if len(fields) != 6:
        raise CronError(
            f"has {len(fields)} fields; expected 6: "
            "Minutes Hours Day-of-month Month Day-of-week Year (Year may be left out)"
        )
    minutes, hours, dom, month, dow, year = fields
    for name, value in (("minutes", minutes), ("hours", hours), ("month", month), ("year", year)):
        if "?" in value:
            raise CronError(f"{name}: '?' is only allowed in day-of-month or day-of-week")
    if (dom == "?") == (dow == "?"):
        raise CronError(
            "one of day-of-month and day-of-week must be '?' and the other not "
            f"(got {dom!r} and {dow!r}); for example '0 9 * * ? *' or '0 9 ? * MON-FRI *'"
        )
    return Cron(
        text=" ".join(fields),
        minutes=tuple(sorted(MINUTES.parse(minutes))),
        hours=tuple(sorted(HOURS.parse(hours))),
        months=tuple(sorted(MONTH.parse(month))),
        years=tuple(sorted(YEAR.parse(year))),
        day_of_month=None if dom == "?" else DayOfMonth.parse(dom),
        day_of_week=None if dow == "?" else DayOfWeek.parse(dow),
    )
