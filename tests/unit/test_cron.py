"""The EventBridge Scheduler cron dialect: parsing, validation and fire times."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepline.service import cron


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(expression: str, after: datetime, count: int, zone: str = "UTC") -> list[datetime]:
    parsed, moments, moment = cron.parse(expression), [], after
    for _ in range(count):
        found = parsed.next_after(moment, ZoneInfo(zone))
        assert found is not None
        moments.append(found)
        moment = found
    return moments


def test_every_fifteen_minutes_of_working_hours_on_weekdays() -> None:
    # 2026-11-27 is a Friday: after 17:45 the next fire is Monday 09:00.
    got = fires("0/15 9-17 ? * MON-FRI *", utc(2026, 11, 27, 17, 30), 3)
    assert got == [utc(2026, 11, 27, 17, 45), utc(2026, 11, 30, 9, 0), utc(2026, 11, 30, 9, 15)]


def test_year_may_be_left_out_and_cron_wrapper_is_accepted() -> None:
    assert cron.parse("0 9 * * ?").text == "0 9 * * ? *"
    assert cron.parse("cron(0 9 * * ? *)").text == "0 9 * * ? *"


def test_time_zone_shifts_fire_times() -> None:
    assert fires("0 10 * * ? *", utc(2026, 1, 1), 1, "Europe/Moscow") == [utc(2026, 1, 1, 7, 0)]


def test_last_day_of_month_and_last_weekday() -> None:
    assert fires("0 0 L * ? *", utc(2027, 2, 1), 1) == [utc(2027, 2, 28)]
    # 2026-05-31 is a Sunday: LW is Friday the 29th.
    assert fires("0 0 LW * ? *", utc(2026, 5, 1), 1) == [utc(2026, 5, 29)]


def test_nearest_weekday_stays_inside_the_month() -> None:
    # 2026-08-01 is a Saturday: 1W is Monday the 3rd, not Friday July 31st.
    assert fires("0 0 1W * ? *", utc(2026, 7, 31, 12), 1) == [utc(2026, 8, 3)]
    # 2026-08-15 is a Saturday: 15W is Friday the 14th.
    assert fires("0 0 15W 8 ? 2026", utc(2026, 8, 1), 1) == [utc(2026, 8, 14)]


def test_nth_and_last_weekday_of_month() -> None:
    # Second Tuesday (3#2) and last Friday (6L) of November 2026.
    assert fires("0 12 ? 11 3#2 2026", utc(2026, 11, 1), 1) == [utc(2026, 11, 10, 12)]
    assert fires("0 12 ? 11 6L 2026", utc(2026, 11, 1), 1) == [utc(2026, 11, 27, 12)]


def test_names_lists_and_wrapping_ranges() -> None:
    parsed = cron.parse("0 22-2 ? JAN,MAR FRI-MON *")
    assert parsed.hours == (0, 1, 2, 22, 23)
    assert parsed.months == (1, 3)
    assert parsed.day_of_week is not None
    assert parsed.day_of_week.days == frozenset({6, 7, 1, 2})


def test_no_fire_left_gives_none() -> None:
    assert cron.parse("0 0 1 1 ? 2020").next_after(utc(2026, 1, 1)) is None
    assert cron.parse("0 0 30 2 ? *").next_after(utc(2026, 1, 1)) is None


def test_between_lists_fires_in_a_half_open_window() -> None:
    got = list(cron.parse("* * * * ? *").between(utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 3)))
    assert got == [utc(2026, 1, 1, 0, 1), utc(2026, 1, 1, 0, 2), utc(2026, 1, 1, 0, 3)]


def test_local_times_skipped_by_daylight_saving_do_not_fire() -> None:
    # Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29: 02:30 does not exist that day.
    got = fires("30 2 * * ? *", utc(2026, 3, 28, 12), 1, "Europe/Berlin")
    assert got == [utc(2026, 3, 30, 0, 30)]


def test_repeated_local_times_fire_once() -> None:
    # Europe/Berlin goes back from 03:00 to 02:00 on 2026-10-25: 02:30 happens twice.
    got = fires("30 2 * * ? *", utc(2026, 10, 24, 12), 2, "Europe/Berlin")
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 * * * * *", "one of day-of-month and day-of-week must be '?'"),
        ("0 * ? * ? *", "one of day-of-month and day-of-week must be '?'"),
        ("0 9 * *", "has 4 fields; expected 6"),
        ("0 9 * * ? * *", "has 7 fields"),
        ("60 * * * ? *", "minutes: 60 is out of range 0-59"),
        ("0 24 * * ? *", "hours: 24 is out of range 0-23"),
        ("0 0 32 * ? *", "day-of-month: 32 is out of range 1-31"),
        ("0 0 ? 13 MON *", "month: 13 is out of range 1-12"),
        ("0 0 ? * 8 *", "day-of-week: 8 is out of range 1-7"),
        ("0 0 ? * FUNDAY *", "day-of-week: 'FUNDAY' is not a number or one of SUN"),
        ("0 0 * * ? 1969", "year: 1969 is out of range 1970-2199"),
        ("*/0 * * * ? *", "minutes: step '0' must be a positive number"),
        ("? * * * ? *", "minutes: '?' is only allowed in day-of-month or day-of-week"),
        ("0 0 ? * 2#6 *", "day-of-week: in '2#6' the week number must be 1-5"),
        ("0,,5 * * * ? *", "minutes: empty item"),
    ],
)
def test_invalid_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(cron.CronError, match=None) as raised:
        cron.parse(expression)
    assert message in str(raised.value)


def test_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cron.parse("* * * * ? *").next_after(datetime(2026, 1, 1))


FIELD_TEXT = st.text(alphabet="0123456789*?/,-#LWMONFRIJAN", min_size=1, max_size=6)


@given(st.lists(FIELD_TEXT, min_size=1, max_size=7))
def test_only_cron_errors_escape_parsing(fields: list[str]) -> None:
    try:
        parsed = cron.parse(" ".join(fields))
    except cron.CronError:
        return
    parsed.next_after(utc(2026, 1, 1))  # whatever parses can be evaluated
