"""pageSize and pageToken handling shared by every List call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from stepline.errors import InvalidArgument
from stepline.store.tokens import BadPageToken, PageTokens

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List use case: its records, and the token of the next page (None: this
    is the last); the handler renders both."""

    items: list[T]
    next_page_token: str | None = None


DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
"""The most a page holds: a larger ``pageSize`` gets pages of this size (the token goes on)."""
LARGEST_PAGE_SIZE = 2**31 - 1
"""The largest ``pageSize`` the API documents (0 to 2147483647)."""
# Plain ASCII digits (an optional minus only to say "out of range"): int() would also take
# "5_0", " 50", "+50" and digits of other scripts (Arabic-Indic ones), which no client means.
_INTEGER = re.compile(r"-?[0-9]+")
_MAX_DIGITS = 12


def page_size(raw: str | None, field: str = "pageSize") -> int:
    """``pageSize``: absent or 0 → 100; 1..1000 as given; up to 2147483647 → 1000 (the page
    cap; the next page token continues); anything else is refused."""
    if raw is None or raw.strip() == "":
        return DEFAULT_PAGE_SIZE
    if not _INTEGER.fullmatch(raw):
        raise InvalidArgument(f"{field}: {raw[:40]!r} is not an integer")
    value = int(raw) if len(raw) <= _MAX_DIGITS else None
    if value is None or value < 0 or value > LARGEST_PAGE_SIZE:
        raise InvalidArgument(f"{field}: must be between 0 and {LARGEST_PAGE_SIZE}, got {raw[:40]}")
    return min(value, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE


def resume_key(tokens: PageTokens, token: str | None, scope: str) -> dict[str, Any] | None:
    """The key a page token resumes from, or None for the first page."""
    if not token:
        return None
    try:
        return tokens.verify(token, scope)
    except BadPageToken as exc:
        raise InvalidArgument(
            f"pageToken: not a token issued for this request ({exc}); start from the first page"
        ) from exc
