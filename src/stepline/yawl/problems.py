"""Problems found in a specification, and the error that carries all of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stepline.errors import Code, SteplineError

ROOT = "<root>"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a spec: where (dotted path, 1-based line/column) and what."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line} col {self.column}: " if self.line is not None else ""
        return f"{where}{self.path or ROOT}: {self.message}"

    def sort_key(self) -> tuple[int, int, str, str]:
        """Order problems by position in the document, unpositioned ones last."""
        line = self.line if self.line is not None else 1 << 30
        return (line, self.column or 0, self.path, self.message)


class SpecError(SteplineError, ValueError):
    """A specification is invalid; `problems` lists every problem found, in document order."""

    code = Code.INVALID_ARGUMENT

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(set(problems), key=Problem.sort_key)
        super().__init__("\n".join(str(problem) for problem in self.problems))
