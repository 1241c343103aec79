"""``stepline dev`` at a terminal: taken ports, signals, a missing extra, quiet output, and
the export lines it prints."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from stepline.dev.command import STOP_DEADLINE
from stepline.testing.ports import free_port
from tests.e2e.conftest import RunningStack, launch_dev_stack, stop_dev_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
REQUEST_LINE = re.compile(r"api  [A-Z]+ \S+ → \d{3} \(\d+ ms\)")
FAST = 10.0  # seconds: "at once", for a person at a terminal
DEADLINE = 60.0
HELLO = "swrrximfmksdfiqm28xo"


def environment() -> dict[str, str]:
    """This process's environment without AWS, Stepline or powertools settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "STEPLINE_", "POWERTOOLS_"))
    }


def stepline_dev(*options: str) -> subprocess.Popen[str]:
    """``stepline dev OPTIONS`` in a subprocess, stdout and stderr kept apart."""
    return subprocess.Popen(
        [sys.executable, "-m", "stepline", "dev", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        cwd=ROOT,
    )


@contextmanager
def listening() -> Iterator[int]:
    """A port someone listens on for the duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        yield sock.getsockname()[1]


def free_ports() -> dict[str, int]:
    """A free port per option of ``stepline dev``."""
    return {flag: free_port() for flag in ("--port", "--public-port", "--aws-port", "--grpc-port")}


def children_of(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """The process still runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ChildWatch:
    """Records every child a process has while it runs (an orphan is no longer its child)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seen: set[int] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            self.seen |= children_of(self.pid)
            self._done.wait(0.05)

    def stop(self) -> set[int]:
        """Stop watching; the children seen."""
        self._done.set()
        self._thread.join()
        return self.seen


@pytest.mark.parametrize("taken", ["--port", "--public-port", "--aws-port", "--grpc-port"])
def test_a_taken_port_stops_it_at_once_with_one_line_naming_port_and_option(taken: str) -> None:
    with listening() as port:
        ports = free_ports() | {taken: port}
        options = [str(x) for pair in ports.items() for x in pair]
        started = time.monotonic()
        process = stepline_dev(*options)
        out, err = process.communicate(timeout=FAST)
    assert time.monotonic() - started < FAST
    assert process.returncode == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert f"port {port} is in use" in lines[0]
    assert f"pick another with {taken}" in lines[0]


def test_a_port_taken_after_the_check_is_the_same_one_line() -> None:
    # Someone takes the AWS port between the check and the bind: the bind itself says so.
    with listening() as port:
        started = subprocess.run(
            [sys.executable, "-c", RUN_PAST_THE_CHECK, str(free_port()), str(port)],
            capture_output=True,
            text=True,
            env=environment(),
            cwd=ROOT,
            timeout=FAST * 3,
            check=False,
        )
    assert started.returncode == 2, started.stderr
    assert started.stderr.splitlines() == [
        f"stepline dev: port {port} is in use: pick another with --aws-port (make dev AWS_PORT=...)"
    ]


RUN_PAST_THE_CHECK = """
import sys, typer
from stepline.dev.command import Ports, run
api, aws = int(sys.argv[1]), int(sys.argv[2])
try:
    run(Ports(api, 0, aws, 0), {})
except typer.Exit as exc:
    sys.exit(exc.exit_code)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_startup_stops_it_leaving_no_process(signum: int) -> None:
    ports = free_ports()
    process = stepline_dev(*[str(x) for pair in ports.items() for x in pair])
    watch = ChildWatch(process.pid)
    deadline = time.monotonic() + DEADLINE
    while True:  # the emulator answers: the template is being deployed now
        try:
            httpx.get(f"http://127.0.0.1:{ports['--aws-port']}/", timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the emulator never answered"
            time.sleep(0.05)
    process.send_signal(signum)
    out, err = process.communicate(timeout=FAST)
    children = watch.stop()
    assert READY not in out
    assert out.splitlines()[-1:] == ["Stepline dev stack stopped"], (out, err)
    assert "Traceback" not in err, err
    assert not [pid for pid in children if alive(pid)]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{ports['--aws-port']}/", timeout=2)


READY = "Stepline dev stack ready: "


def test_sigterm_once_it_serves_stops_it_and_its_function_processes() -> None:
    stack = launch_dev_stack()
    watch = ChildWatch(stack.process.pid)
    try:
        with stack.client() as client:
            started = client.post(f"/execution/{HELLO}/start", content=b"{}")
            assert started.status_code == 200, started.text
        deadline = time.monotonic() + DEADLINE
        while not watch.seen:  # a function ran in a sandbox process of its own
            assert time.monotonic() < deadline, "no function process started"
            time.sleep(0.05)
        stack.process.send_signal(signal.SIGTERM)
        # A clean stop exits 0; one that outlasts STOP_DEADLINE (a loaded machine) is cut
        # short, its processes killed, with exit code 1: either way it has stopped by then.
        assert stack.process.wait(timeout=STOP_DEADLINE + FAST) in (0, 1)
    finally:
        stop_dev_stack(stack)
    children = watch.stop()
    assert children
    assert not [pid for pid in children if alive(pid)]


def signal_thread(pid: int, tid: int, signum: int) -> None:
    """Deliver ``signum`` to one thread of ``pid`` (tgkill), as the kernel may for a kill."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill {pid} {tid}")


def test_sigterm_that_lands_on_any_thread_but_the_main_one_still_stops_it() -> None:
    # A process-directed signal goes to whichever thread does not block it: the stack must
    # wake for one that its API, emulator or queue-poller threads took.
    stack = launch_dev_stack()
    try:
        pid = stack.process.pid
        others = sorted(int(t.name) for t in Path(f"/proc/{pid}/task").iterdir())
        others.remove(pid)
        assert others, "the stack runs threads besides its main one"
        signal_thread(pid, others[-1], signal.SIGTERM)
        assert stack.process.wait(timeout=STOP_DEADLINE + FAST) in (0, 1)
    finally:
        stop_dev_stack(stack)


def test_without_the_dev_extra_it_says_which_extra_to_install() -> None:
    blocked = (
        "import sys; sys.modules['moto'] = None; sys.argv = ['stepline', 'dev'];"
        "from stepline.cli.main import main; main()"
    )
    ran = subprocess.run(
        [sys.executable, "-c", blocked],
        capture_output=True,
        text=True,
        env=environment(),
        cwd=ROOT,
        timeout=FAST * 3,
        check=False,
    )
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert ran.stderr.splitlines() == [
        "stepline dev: the dev stack needs the 'local' extra (moto is not installed): "
        "pip install -e '.[local]'"
    ]


def exports(stack: RunningStack) -> dict[str, str]:
    """The variables of the export lines the stack printed (they follow the ready line)."""
    deadline = time.monotonic() + FAST
    while True:
        found = dict(
            line.removeprefix("export ").split("=", 1)
            for line in stack.lines
            if line.startswith("export ")
        )
        if "STEPLINE_GRPC_ENDPOINT" in found:
            return found
        assert time.monotonic() < deadline, stack.lines
        time.sleep(0.05)


def test_the_export_lines_point_boto3_and_the_cli_at_the_stack(dev_stack: RunningStack) -> None:
    env = environment() | exports(dev_stack)
    assert env["STEPLINE_ENDPOINT"] == dev_stack.url
    assert env["AWS_ENDPOINT_URL"] == dev_stack.aws_endpoint
    probe = (
        "import boto3;"
        "print(any('StepsQueue' in q for q in boto3.client('sqs').list_queues()['QueueUrls']));"
        "print(boto3.client('sts').get_caller_identity()['Account'])"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert ran.stdout.splitlines() == ["True", "123456789012"], ran.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "stepline", "workflow", "list", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert HELLO in listed.stdout


def test_no_metric_json_on_the_terminal_unless_verbose(dev_stack: RunningStack) -> None:
    quiet = dev_stack
    loud = launch_dev_stack("--verbose")
    try:
        for stack in (quiet, loud):
            with stack.client() as client:
                started = client.post(f"/execution/{HELLO}/start", content=b"{}").json()
                client.get("/execution/not-an-id")  # an API error: an ApiErrors metric
                execution_id = started["executionId"]
                deadline = time.monotonic() + DEADLINE
                while client.get(f"/execution/{execution_id}").json()["execution"]["status"] in (
                    "QUEUED",
                    "RUNNING",
                ):
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
        deadline = time.monotonic() + DEADLINE
        while not any('"_aws"' in line for line in loud.lines):  # metrics go out at the end
            assert time.monotonic() < deadline, "--verbose showed no metric"
            time.sleep(0.1)
    finally:
        stop_dev_stack(loud)
    assert not [line for line in quiet.lines if '"_aws"' in line]
    requests = [line for line in loud.lines if line.startswith("api  ")]
    # Threads print, so another line may be written into the same one: look inside lines.
    assert any(
        "api  GET /workflows/v1/execution/not-an-id → 400 (" in line for line in loud.lines
    ), requests[-5:]
    # Short and readable: method, path, status, time (a line another thread wrote into aside).
    assert all(len(line) < 160 for line in requests if REQUEST_LINE.fullmatch(line))
    assert not [line for line in loud.lines if '"POST / HTTP/1.1"' in line]  # werkzeug's own
