"""pageSize: plain ASCII digits, 0..2147483647 (0 or absent means 100; pages hold 1000 at most)."""

from __future__ import annotations

import pytest

from stepline.errors import InvalidArgument
from stepline.service.paging import DEFAULT_PAGE_SIZE, page_size


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        (None, 100),
        ("", 100),
        ("0", 100),
        ("1", 1),
        ("50", 50),
        ("1000", 1000),
        ("1001", 1000),
        ("2147483647", 1000),
    ],
)
def test_page_size_reads_plain_digits(raw: str | None, size: int) -> None:
    assert page_size(raw) == size


@pytest.mark.parametrize(
    "raw", ["5_0", "1_000", " 50", "50 ", "+50", "\u0665\u0660", "5e1", "0x32", "ten", "50\n"]
)
def test_page_size_refuses_anything_but_plain_ascii_digits(raw: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        page_size(raw)
    assert caught.value.message == f"pageSize: {raw!r} is not an integer"


@pytest.mark.parametrize("raw", ["-1", "2147483648", "9" * 5000])
def test_page_size_refuses_numbers_out_of_range(raw: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        page_size(raw)
    assert caught.value.message == f"pageSize: must be between 0 and 2147483647, got {raw[:40]}"


def test_page_size_names_the_field_it_reads() -> None:
    with pytest.raises(InvalidArgument, match=r"^limit: "):
        page_size("5_0", "limit")
    assert page_size(None, "limit") == DEFAULT_PAGE_SIZE
