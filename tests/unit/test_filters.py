"""Parsing of the List filter into index bounds."""

import pytest

from stepline.errors import InvalidArgument
from stepline.service import filters
from stepline.store.listing import TimeRange

T1 = "2026-01-01T00:00:00.000000Z"
T2 = "2026-01-02T00:00:00.000000Z"


def test_empty_filter_matches_everything() -> None:
    assert filters.parse(None) == filters.ExecutionFilter()
    assert filters.parse("  ") == filters.ExecutionFilter()


def test_terms_combine_with_and() -> None:
    parsed = filters.parse("status=FAILED AND started_at>2026-01-01T00:00:00Z")
    assert parsed.status == "FAILED"
    assert parsed.started == TimeRange(lower=f"{T1}#~")
    assert parsed.finished is None


def test_two_bounds_on_one_field_make_a_range() -> None:
    parsed = filters.parse("finished_at>2026-01-01T00:00:00Z AND finished_at<2026-01-02T00:00:00Z")
    # Strict bounds: above every key at T1, below every key at T2 (its last character lowered).
    assert parsed.finished == TimeRange(lower=f"{T1}#~", upper="2026-01-02T00:00:00.000000Y~")
    assert parsed.finished.lower is not None and parsed.finished.upper is not None
    for key in (T1, f"{T1}#swabc-0000", T2, f"{T2}#swabc-0000"):
        assert not parsed.finished.lower <= key <= parsed.finished.upper


def test_equality_brackets_every_key_at_that_instant() -> None:
    parsed = filters.parse("started_at=2026-01-01T00:00:00Z")
    assert parsed.started == TimeRange(lower=T1, upper=f"{T1}#~")
    for key in (T1, f"{T1}#swabc-0000"):  # a bare timestamp, or one written with its id
        assert parsed.started.lower is not None and parsed.started.upper is not None
        assert parsed.started.lower <= key <= parsed.started.upper


def test_contradictions_never_match() -> None:
    assert filters.parse(
        "started_at>2026-01-02T00:00:00Z AND started_at<2026-01-01T00:00:00Z"
    ).never_matches
    assert filters.parse("status=QUEUED AND finished_at>2026-01-01T00:00:00Z").never_matches


def test_canonical_form_differs_per_filter() -> None:
    assert filters.parse("status=FAILED").canonical != filters.parse("status=STOPPED").canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status=FAILED AND status=STOPPED", "status is given twice"),
        ("status=done", "is not an execution status"),
        ("started_at!=2026-01-01T00:00:00Z", "supports '=', '<' and '>'"),
        ("status", "cannot parse"),
        ("x" * 1001, "longer than 1000"),
        ("name=x", "unknown field 'name'"),
    ],
)
def test_bad_filters_are_invalid_arguments(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        filters.parse(text)
