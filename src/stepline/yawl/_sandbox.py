"""Bounded jq evaluation in worker processes that are killed when they overrun.

jq runs in-process and blocks its thread, so a program such as `[repeat(.)]` can only be stopped
by ending the process that runs it. Workers are kept warm in a small pool; one that overruns its
deadline (or dies) is killed and replaced on the next request.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_HEADER = struct.Struct(">I")
_WORKER = Path(__file__).with_name("_jq_worker.py")
_START_TIMEOUT = 30.0
_MAX_IDLE = 4
# At most this many worker evaluations at once per process; others wait their turn (each one
# is bounded by its deadline, so the wait is too).
_MAX_BUSY = 8
_busy = threading.BoundedSemaphore(_MAX_BUSY)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one template evaluation."""

    timeout: float = 2.0
    max_output_bytes: int = 8 * 1024 * 1024
    memory_bytes: int = 512 * 1024 * 1024


class SandboxError(Exception):
    """Evaluation failed; the message says why (jq error, deadline, memory, output size)."""


class NoOutput(Exception):
    """The program produced no value."""


class TooDeep(Exception):
    """The program's value nests too deep to be encoded as JSON."""


class _Overrun(Exception):
    pass


class _Worker:
    def __init__(self, memory: int) -> None:
        self.memory = memory
        env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PATH": os.defpath}
        self.proc = subprocess.Popen(
            [sys.executable, str(_WORKER), str(memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        try:
            self._read(time.monotonic() + _START_TIMEOUT)
        except _Overrun:
            self.kill()
            raise SandboxError("the template evaluation worker did not start") from None

    @property
    def _stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def call(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        data = json.dumps(request).encode()
        try:
            self._stdin.write(_HEADER.pack(len(data)) + data)
            self._stdin.flush()
        except OSError:
            raise _Overrun from None
        return self._read(deadline)

    def _read(self, deadline: float) -> dict[str, Any]:
        header = self._read_exact(_HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        reply: dict[str, Any] = json.loads(self._read_exact(size, deadline))
        return reply

    def _read_exact(self, size: int, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        while size > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise _Overrun
            chunk = os.read(fd, min(size, 1 << 20))
            if not chunk:
                raise _Overrun
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        try:
            self._stdin.close()
            self.proc.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._pid = os.getpid()

    def acquire(self, memory: int) -> _Worker:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's workers are not ours
                self._idle, self._pid = [], os.getpid()
            for i, worker in enumerate(self._idle):
                if worker.memory == memory:
                    return self._idle.pop(i)
        return _Worker(memory)

    def release(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < _MAX_IDLE and self._pid == os.getpid():
                self._idle.append(worker)
                return
        worker.close()

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


_pool = _Pool()
atexit.register(_pool.shutdown)


def run(program: str, input_text: str, limits: Limits) -> str:
    """Evaluate `program` on JSON `input_text` in a worker; return the first output as JSON."""
    with _busy:
        return _run(program, input_text, limits)


def _run(program: str, input_text: str, limits: Limits) -> str:
    worker = _pool.acquire(limits.memory_bytes)
    deadline = time.monotonic() + limits.timeout
    request = {"p": program, "i": input_text, "m": limits.max_output_bytes}
    try:
        reply = worker.call(request, deadline)
    except _Overrun:
        timed_out = time.monotonic() >= deadline
        worker.kill()
        if timed_out:
            raise SandboxError(
                f"template evaluation did not finish within {limits.timeout:g}s"
            ) from None
        raise SandboxError("template evaluation ran out of memory or crashed") from None
    _pool.release(worker)
    if "n" in reply:
        raise NoOutput
    if "d" in reply:
        raise TooDeep
    if "e" in reply:
        raise SandboxError(str(reply["e"]))
    return str(reply["r"])


def shutdown() -> None:
    """Stop the idle workers (they are also stopped at interpreter exit)."""
    _pool.shutdown()
