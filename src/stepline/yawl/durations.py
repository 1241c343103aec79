"""Durations as YaWL writes them: "2s", "1.5s", "900s", "500ms", "15m", "1h", "1h30m"."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
# One or more number+unit parts, largest unit first, each unit at most once.
_DURATION = re.compile(
    rf"^(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?$"
)

DURATION_PATTERN = (
    rf"^\s*(?=[0-9.])(?:{_NUMBER}h)?(?:{_NUMBER}m(?!s))?(?:{_NUMBER}s)?(?:{_NUMBER}ms)?\s*$"
)
"""The same grammar as a JSON schema pattern (ECMA-262: no named groups)."""
DURATION_HINT = "use a duration such as '2s', '1.5s', '500ms', '15m', '1h' or '1h30m'"


def parse_duration(text: str) -> float:
    """Return the number of seconds a duration string denotes; raise ValueError if malformed."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groupdict().values()):
        raise ValueError(f"invalid duration {text!r}: {DURATION_HINT}")
    seconds = sum(
        float(value) * _UNIT_SECONDS[unit]
        for unit, value in match.groupdict().items()
        if value is not None
    )
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {text!r}: too large")
    return seconds


def format_duration(seconds: float) -> str:
    """Return a compact duration string ("90s" → "1m30s") that parse_duration reads back."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(hours)}h" if hours else "", f"{int(minutes)}m" if minutes else ""]
    if secs or not any(parts):
        parts.append(f"{secs:g}s")
    return "".join(parts)
