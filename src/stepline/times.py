"""Time as Stepline writes and reads it: stored timestamps (fixed width, sortable), RFC 3339
timestamps and proto3 JSON durations. Neutral ground: the engine, the store and the API all
use it, and it imports none of them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_STORED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def stored(ts: datetime) -> str:
    """A fixed-width UTC form that sorts lexically in time order (used in keys and items)."""
    return ts.astimezone(UTC).strftime(_STORED_FORMAT)


def from_stored(text: str) -> datetime:
    """Parse a timestamp written by :func:`stored`."""
    return datetime.strptime(text, _STORED_FORMAT).replace(tzinfo=UTC)


def timestamp(ts: datetime) -> str:
    """RFC 3339 in UTC with the shortest of 0, 3 or 6 fraction digits, as proto3 JSON prints."""
    ts = ts.astimezone(UTC)
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    micros = ts.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


class TimestampError(ValueError):
    """A text that is not an RFC 3339 timestamp; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_timestamp(text: str, field: str) -> datetime:
    """Parse an RFC 3339 timestamp; errors (TimestampError) name ``field``."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise TimestampError(
            f"{field}: {text!r} is not an RFC 3339 timestamp such as 2026-01-01T00:00:00Z"
        )
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micros = int((frac or ".0")[1:].ljust(6, "0")[:6])
    try:
        ts = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)
    except ValueError as exc:
        raise TimestampError(f"{field}: {text!r} is not a valid date and time ({exc})") from exc
    if zone in ("Z", "z"):
        offset = timedelta(0)
    elif int(zone[1:3]) > 23 or int(zone[4:6]) > 59:
        raise TimestampError(f"{field}: {text!r} has an offset outside -23:59..+23:59")
    else:
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return (ts - offset).replace(tzinfo=UTC)


def duration(delta: timedelta) -> str:
    """proto3 JSON Duration: seconds with 0, 3, 6 or 9 fraction digits and an ``s``."""
    total_micros = max(0, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
    seconds, micros = divmod(total_micros, 1_000_000)
    if micros == 0:
        return f"{seconds}s"
    if micros % 1000 == 0:
        return f"{seconds}.{micros // 1000:03d}s"
    return f"{seconds}.{micros:06d}s"
