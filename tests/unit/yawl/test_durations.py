"""Duration strings in every form the docs use."""

from __future__ import annotations

import pytest

from stepline.yawl.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2s", 2.0),
        ("1.5s", 1.5),
        ("900s", 900.0),
        (".5s", 0.5),
        ("500ms", 0.5),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1h1m1s", 3661.0),
    ],
)
def test_parse_duration_accepts_documented_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "1", "1x", "1s1h", "-1s", "1 s", "m", "1mm"])
def test_parse_duration_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0.0, 0.25, 1.0, 90.0, 900.0, 3600.0, 5400.5])
def test_format_duration_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
