"""``python -m stepline.bench list``: every filter's pages stay within their read bound."""

from __future__ import annotations

import pytest

from stepline.bench import lists
from stepline.bench.__main__ import parser


def test_every_filter_kind_reads_within_its_bound(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["list", "--executions", "600", "--page-size", "10"])

    assert lists.main(args) == 0

    out = capsys.readouterr().out
    rows = {line.split()[0] for line in out.splitlines()[3:] if line and line[0].isalpha()}
    assert {k.split()[0] for k in lists.FILTERS} <= rows
    assert "pages over their bound: none" in out
