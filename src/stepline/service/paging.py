"""pageSize and pageToken handling shared by every List call."""

from __future__ import annotations

from typing import Any

from stepline.api.errors import InvalidArgument
from stepline.store.tokens import BadPageToken, PageTokens

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(raw: str | None, field: str = "pageSize") -> int:
    """``pageSize``: absent or 0 → 100; 1..1000 as given; anything else is refused."""
    if raw is None or raw.strip() == "":
        return DEFAULT_PAGE_SIZE
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidArgument(f"{field}: {raw[:40]!r} is not an integer") from exc
    if value < 0 or value > MAX_PAGE_SIZE:
        raise InvalidArgument(f"{field}: must be between 0 and {MAX_PAGE_SIZE}, got {value}")
    return value or DEFAULT_PAGE_SIZE


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
