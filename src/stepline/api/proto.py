"""proto3 JSON mapping helpers of the API: timestamps and durations (:mod:`stepline.times`),
with a caller's bad timestamp an INVALID_ARGUMENT."""

from __future__ import annotations

from datetime import datetime

from stepline import times
from stepline.errors import InvalidArgument
from stepline.times import duration, from_stored, now, stored, timestamp

__all__ = ["duration", "from_stored", "now", "parse_timestamp", "stored", "timestamp"]


def parse_timestamp(text: str, field: str) -> datetime:
    """Parse an RFC 3339 timestamp given by a caller; a bad one is INVALID_ARGUMENT naming
    ``field``."""
    try:
        return times.parse_timestamp(text, field)
    except times.TimestampError as exc:
        raise InvalidArgument(exc.message) from exc
