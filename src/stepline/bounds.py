"""Bounds on the JSON and YAML Stepline reads from outside: nesting depth and number literals.

Every document read from a caller, a spec author or an integration passes these checks before
(or while) it is parsed, so that no input can exhaust the stack of a recursive parser, an encoder
or ``copy.deepcopy``, or trip Python's 4300-digit limit on integer conversion:

============================  =====================================================================
bound                         value
============================  =====================================================================
nesting depth                 at most ``MAX_DEPTH`` (64) arrays/objects (YAML: sequences/mappings)
                              inside one another; ``[]`` is 1 level, ``{"a": [1]}`` is 2
number literal                at most ``MAX_NUMBER_CHARS`` (100) characters: sign, digits, point
                              and exponent together
number value                  finite: a literal such as ``1e400`` that overflows a double, and
                              ``NaN``/``Infinity`` (not JSON at all), are refused
============================  =====================================================================

The checks are iterative (no recursion that could itself run out of stack) and cheap: a text is
scanned with a few C-speed passes (bracket counts, then brackets outside strings) before
``json.loads`` sees it, and parsed values are walked with an explicit stack. A
:class:`BoundsError` says which bound, not where: specs get their line and column from the YAML
parser hooks of ``stepline.yawl.source``, which apply the same bounds.

Callers translate :class:`BoundsError` into their own error: ``InvalidArgument`` (API),
a located spec problem (YaWL), or a workflow failure (integrations, the engine).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any, Final

MAX_DEPTH: Final = 64
MAX_NUMBER_CHARS: Final = 100

# A JSON string literal, escapes included (the unrolled form is linear and fast in `re`).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_LONG_NUMBER = re.compile(rf"[-+0-9.eE]{{{MAX_NUMBER_CHARS + 1},}}")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
# An int of at most this many bits has at most 121 digits: str() of it is always allowed.
_SAFE_INT_BITS = 400


class BoundsError(ValueError):
    """A document is beyond one of the bounds; the message says which, without a location."""


def depth_message(what: str = "arrays and objects") -> str:
    """The text of a nesting-depth violation."""
    return f"nested deeper than {MAX_DEPTH} levels of {what}"


def number_message(chars: int) -> str:
    """The text of a number literal that is too long."""
    return f"a number literal has {chars} characters, more than the limit of {MAX_NUMBER_CHARS}"


def infinite_message(literal: str) -> str:
    """The text of a number literal that overflows a double."""
    return f"the number {literal[:40]} is out of range: it is not a finite double"


def check_depth(text: str) -> None:
    """Refuse JSON text whose arrays and objects nest deeper than ``MAX_DEPTH``."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) > MAX_DEPTH and max(accumulate(map(_DELTA.__getitem__, brackets))) > MAX_DEPTH:
        raise BoundsError(depth_message())


def check_numbers(text: str) -> None:
    """Refuse JSON text holding a number literal longer than ``MAX_NUMBER_CHARS``."""
    if _LONG_NUMBER.search(text) is None:
        return
    found = _LONG_NUMBER.search(_STRING.sub('""', text))
    if found is not None:
        raise BoundsError(number_message(len(found.group())))


def check_text(text: str) -> None:
    """Refuse JSON text beyond the depth or number-literal bounds, before it is parsed."""
    check_depth(text)
    check_numbers(text)


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise BoundsError(infinite_message(literal))
    return value


def _not_json(name: str) -> Any:
    # Python's json reads NaN and Infinity; JSON (and every other client) does not.
    raise ValueError(f"{name} is not a JSON value")


def loads(
    text: str | bytes,
    *,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """Parse JSON within the bounds: BoundsError when beyond them, ValueError when not JSON."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode()  # UnicodeDecodeError is a ValueError too
    check_text(text)
    return json.loads(
        text,
        parse_float=_finite,
        parse_constant=_not_json,
        object_pairs_hook=object_pairs_hook,
    )


def check_value(value: Any) -> None:
    """Refuse parsed data beyond the bounds: too deep, an int too long, a non-finite float."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth + 1 > MAX_DEPTH:
                raise BoundsError(depth_message())
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            _check_int(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BoundsError("a number is out of range: it is not a finite double")


def _check_int(value: int) -> None:
    if value.bit_length() > _SAFE_INT_BITS or len(str(value)) > MAX_NUMBER_CHARS:
        raise BoundsError(
            f"a number has more than {MAX_NUMBER_CHARS} characters, the limit of a number literal"
        )


def exceeds_depth(value: Any) -> bool:
    """Whether parsed data nests deeper than ``MAX_DEPTH`` (numbers are not looked at)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
