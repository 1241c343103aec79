"""The README's code blocks as a reader's terminal runs them, and their documented output.

How the README is read (the conventions its blocks keep):

- A fenced block tagged ``sh`` is typed into one shell, in README order, so variables and
  functions carry over from block to block as they do in a reader's terminal. A block tagged
  ``python`` is run on its own by the project's interpreter. Untagged blocks (diagrams, what
  ``make dev`` prints) are not commands.
- In a ``sh`` block, the comment lines right under a command (no blank line between) are its
  output, line for line; ``...`` in a line stands for any text, and a line that is only
  ``...`` for any number of lines. A comment after a blank line is commentary. In a
  ``python`` block, the comment lines that end it are its output.
- A block that cannot run in a test says so on the line above its fence:
  ``<!-- readme-test: not run: <why> -->``.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"^<!-- readme-test: not run: (.+?) -->$")
END = "__readme_step_end__"


@dataclass
class Block:
    """One fenced code block."""

    language: str
    lines: list[str]
    line: int  # of its first line in the README, counted from 1
    not_run: str | None = None

    @property
    def first(self) -> str:
        """Its first line, which names it in messages and in the test's list of blocks."""
        return next((line for line in self.lines if line.strip()), "")


@dataclass
class Step:
    """One command of a ``sh`` block and the output documented under it."""

    command: str
    line: int
    expected: list[str] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown text, with its not-run marker if it has one."""
    found: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if opened is None:
            index += 1
            continue
        above = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.match(above.strip())
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        found.append(
            Block(
                opened.group(1),
                lines[index + 1 : end],
                index + 2,
                marker.group(1) if marker else None,
            )
        )
        index = end + 1
    return found


def is_complete(command: str) -> bool:
    """The shell would run ``command`` as it stands (no open quote, no trailing ``\\``)."""
    if command.rstrip().endswith("\\"):
        return False
    checked = subprocess.run(
        ["bash", "-n"], input=command + "\n", capture_output=True, text=True, check=False
    )
    return checked.returncode == 0


def steps(block: Block) -> list[Step]:
    """The commands of a ``sh`` block, each with the output documented under it."""
    found: list[Step] = []
    pending: list[str] = []
    start = 0
    after_command = False  # the previous line ended a command or was its output
    for offset, line in enumerate(block.lines):
        stripped = line.strip()
        if pending:
            pending.append(line)
            if is_complete("\n".join(pending)):
                found.append(Step("\n".join(pending), start))
                pending, after_command = [], True
            continue
        if stripped.startswith("#"):
            if after_command:
                found[-1].expected.append(stripped[1:].removeprefix(" "))
            continue
        if not stripped:
            after_command = False
            continue
        pending, start = [line], block.line + offset
        if is_complete(line):
            found.append(Step(line, start))
            pending, after_command = [], True
    assert not pending, f"README line {start}: a command that never ends"
    return found


def python_output(block: Block) -> list[str]:
    """The comment lines that end a ``python`` block: what it prints."""
    expected: list[str] = []
    for line in reversed(block.lines):
        if not line.startswith("#"):
            break
        expected.insert(0, line[1:].removeprefix(" "))
    return expected


def matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` is what ``expected`` documents (``...`` standing for any text)."""
    pattern = ""
    for line in expected:
        if line.strip() == "...":
            pattern += r"(?:.*\n)*"
        else:
            pattern += ".*".join(re.escape(part) for part in line.rstrip().split("...")) + r"\n"
    text = "".join(line.rstrip() + "\n" for line in actual)
    return re.fullmatch(pattern, text) is not None


class Shell:
    """One bash, fed a command at a time, its output read back per command."""

    def __init__(self, cwd: Path, env: dict[str, str], stderr: Path) -> None:
        self._stderr = stderr.open("w")
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=cwd,
            env=env,
            start_new_session=True,  # one group: closing it ends the jobs it put in the background
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def run(self, command: str, timeout: float) -> tuple[int, list[str]]:
        """Run one command; its exit status and the lines it printed."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\nprintf '\\n{END} %s\\n' $?\n")
        self.process.stdin.flush()
        out: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no end after {timeout} s; printed so far: {out}") from None
            if line is None:
                raise RuntimeError(f"the shell exited; printed: {out}")
            if line.startswith(END):
                if out and out[-1] == "":
                    out.pop()  # the newline the end marker starts with
                return int(line.split()[1]), out
            out.append(line)

    def close(self) -> None:
        """End the shell and everything it started."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._stderr.close()
