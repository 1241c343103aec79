"""proto3 JSON forms of timestamps and durations."""

from datetime import UTC, datetime, timedelta

import pytest

from stepline.api.proto import duration, from_stored, parse_timestamp, stored, timestamp
from stepline.errors import InvalidArgument


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=1, milliseconds=500), "1.500s"),
        (timedelta(seconds=2, microseconds=1), "2.000001s"),
        (timedelta(hours=1), "3600s"),
        (timedelta(seconds=-3), "0s"),
    ],
)
def test_duration_uses_0_3_or_6_fraction_digits(delta: timedelta, text: str) -> None:
    assert duration(delta) == text


def test_timestamp_prints_rfc3339_utc() -> None:
    ts = datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)
    assert timestamp(ts) == "2026-01-02T03:04:05.120Z"
    assert timestamp(ts.replace(microsecond=0)) == "2026-01-02T03:04:05Z"


def test_stored_form_round_trips_and_sorts_in_time_order() -> None:
    early = datetime(2026, 1, 1, 9, 59, 59, 999999, tzinfo=UTC)
    late = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert stored(early) < stored(late)
    assert from_stored(stored(early)) == early


def test_parse_timestamp_normalises_offsets_and_fractions() -> None:
    parsed = parse_timestamp("2026-01-01T02:00:00.5+01:00", "f")
    assert parsed == datetime(2026, 1, 1, 1, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-01-01", "2026-02-30T00:00:00Z", "", "2026-01-01T00:00:00+99:99"]
)
def test_parse_timestamp_names_the_field_on_error(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^filter: started_at: "):
        parse_timestamp(text, "filter: started_at")
