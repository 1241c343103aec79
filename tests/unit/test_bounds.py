"""The bounds on JSON read from outside: depth, number literals, finite numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepline import bounds
from stepline.bounds import MAX_DEPTH, MAX_NUMBER_CHARS, BoundsError


def nested(depth: int, kind: str = "[") -> str:
    """JSON text of `depth` arrays (or objects with key "a") inside one another."""
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("kind", ["[", "{"])
def test_loads_accepts_data_nested_exactly_to_the_limit(kind: str) -> None:
    assert bounds.loads(nested(MAX_DEPTH, kind)) is not None


@pytest.mark.parametrize("kind", ["[", "{"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_loads_refuses_data_nested_deeper_than_the_limit(kind: str, depth: int) -> None:
    with pytest.raises(BoundsError, match=f"nested deeper than {MAX_DEPTH} levels"):
        bounds.loads(nested(depth, kind))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"text": "[" * 500 + '\\"{' * 100, "list": [[1]]})
    assert bounds.loads(text)["list"] == [[1]]


def test_many_shallow_containers_are_not_deep() -> None:
    assert len(bounds.loads(json.dumps([[{"a": [i]}] for i in range(1000)]))) == 1000


def test_loads_accepts_a_number_literal_of_the_limit_length() -> None:
    assert bounds.loads("9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)


@pytest.mark.parametrize(
    "literal", ["9" * (MAX_NUMBER_CHARS + 1), "9" * 5000, "-" + "1" * 200, "0." + "5" * 200]
)
def test_loads_refuses_a_number_literal_longer_than_the_limit(literal: str) -> None:
    with pytest.raises(BoundsError, match="number literal has"):
        bounds.loads(f"[{literal}]")


def test_long_digit_strings_are_not_numbers() -> None:
    assert bounds.loads(json.dumps({"id": "9" * 5000})) == {"id": "9" * 5000}


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" * 90 + "e300"])
def test_loads_refuses_numbers_that_overflow_a_double(literal: str) -> None:
    with pytest.raises(BoundsError, match="not a finite double"):
        bounds.loads(f'{{"x": {literal}}}')


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_loads_refuses_constants_that_are_not_json(constant: str) -> None:
    with pytest.raises(ValueError, match="is not a JSON value") as caught:
        bounds.loads(f"[{constant}]")
    assert not isinstance(caught.value, BoundsError)


def test_loads_reads_bytes_and_refuses_text_that_is_not_utf8() -> None:
    assert bounds.loads(b'{"a": [1.5]}') == {"a": [1.5]}
    with pytest.raises(ValueError):
        bounds.loads(b"\xff\xfe")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (json.loads(nested(MAX_DEPTH + 1)), "nested deeper"),
        (10**MAX_NUMBER_CHARS, "more than 100 characters"),
        (-(10 ** (MAX_NUMBER_CHARS - 1)), "more than 100 characters"),
        (10**5000, "more than 100 characters"),
        ({"a": [float("inf")]}, "not a finite double"),
        ([float("nan")], "not a finite double"),
    ],
    ids=["deep", "101-digits", "negative-100-digits", "5001-digits", "infinite", "nan"],
)
def test_check_value_refuses_parsed_data_beyond_the_bounds(value: Any, message: str) -> None:
    with pytest.raises(BoundsError, match=message):
        bounds.check_value(value)


def test_check_value_accepts_data_within_the_bounds() -> None:
    bounds.check_value(
        {"n": 10 ** (MAX_NUMBER_CHARS - 1), "deep": json.loads(nested(MAX_DEPTH - 1)), "t": True}
    )


def test_exceeds_depth_walks_without_recursion() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert bounds.exceeds_depth(deep)
    assert not bounds.exceeds_depth(json.loads(nested(MAX_DEPTH)))
    assert not bounds.exceeds_depth("scalar")
