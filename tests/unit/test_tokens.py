"""Page tokens are opaque, tamper-evident and bound to their query."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepline.store.tokens import BadPageToken, PageTokens, scope_digest

KEY = {"PK": "EX#a", "SK": "EX", "GSI1PK": "WFEX#w", "GSI1SK": "2026#a"}


def test_token_round_trips_within_its_scope() -> None:
    tokens = PageTokens(b"secret")
    scope = scope_digest("executions", "w", "f")
    assert tokens.verify(tokens.issue(KEY, scope), scope) == KEY


def test_token_from_another_scope_is_refused() -> None:
    tokens = PageTokens(b"secret")
    token = tokens.issue(KEY, scope_digest("a"))
    with pytest.raises(BadPageToken, match="different query"):
        tokens.verify(token, scope_digest("b"))


def test_token_signed_with_another_key_is_refused() -> None:
    token = PageTokens(b"other").issue(KEY, "s")
    with pytest.raises(BadPageToken, match="signature"):
        PageTokens(b"secret").verify(token, "s")


@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_with_bad_page_token_only(text: str) -> None:
    with pytest.raises(BadPageToken):
        PageTokens(b"secret").verify(text, "s")


@given(st.integers(min_value=0, max_value=200))
def test_any_single_character_change_is_detected(position: int) -> None:
    tokens = PageTokens(b"secret")
    token = tokens.issue(KEY, "s")
    index = position % len(token)
    replacement = "A" if token[index] != "A" else "B"
    forged = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(BadPageToken):
        tokens.verify(forged, "s")
