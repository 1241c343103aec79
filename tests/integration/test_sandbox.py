"""Sandbox: each function instance is an awslambdaric process served a local Runtime API."""

from __future__ import annotations

import json
import re
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stepline.dev.sandbox import FunctionConfig, Invocation, Sandbox, Throttled

REGION = "eu-west-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIATESTROLE",
    "AWS_SECRET_ACCESS_KEY": "role-secret",
    "AWS_SESSION_TOKEN": "role-session-token",
}

Make = Callable[..., Sandbox]


def body(invocation: Invocation) -> Any:
    """The invocation's JSON payload."""
    return json.loads(invocation.payload)


def gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (reaped, or a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def eventually(check: Callable[[], bool], within: float = 5.0) -> bool:
    """Poll ``check`` until it holds or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    """Build a sandbox around a handler module written to ``tmp_path``; closed after the test."""
    made: list[Sandbox] = []

    def factory(
        code: str,
        *,
        name: str = "probe",
        environment: dict[str, str] | None = None,
        timeout: float = 3.0,
        credentials: Callable[[], dict[str, str]] = lambda: CREDENTIALS,
        **kwargs: Any,
    ) -> Sandbox:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "app.py").write_text(textwrap.dedent(code))
        config = FunctionConfig(
            name=name,
            arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
            handler="app.lambda_handler",
            code_dir=folder,
            environment=environment or {},
            timeout=timeout,
        )
        sandbox = Sandbox(config, credentials, **kwargs)
        made.append(sandbox)
        return sandbox

    yield factory
    for sandbox in made:
        sandbox.close()


PID = """
    import os

    def lambda_handler(event, context):
        return os.getpid()
"""


def test_handler_sees_exactly_its_environment(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPLINE_PARENT_ONLY", "leaked")
    calls: list[int] = []

    def credentials() -> dict[str, str]:
        calls.append(1)
        return CREDENTIALS

    sandbox = make(
        """
        import os

        def lambda_handler(event, context):
            return dict(os.environ)
        """,
        environment={"TABLE_NAME": "stepline-table"},
        credentials=credentials,
        passthrough={"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"},
    )

    env = body(sandbox.invoke(b"{}"))
    sandbox.invoke(b"{}")  # warm: no new credentials

    assert "STEPLINE_PARENT_ONLY" not in env
    assert set(env) == {
        "PATH", "LANG", "TZ", "TABLE_NAME", "AWS_ENDPOINT_URL", *CREDENTIALS,
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API",
        "AWS_XRAY_CONTEXT_MISSING", "LAMBDA_TASK_ROOT",
    }  # fmt: skip
    assert {k: env[k] for k in CREDENTIALS} == CREDENTIALS
    assert calls == [1]
    assert env["TABLE_NAME"] == "stepline-table"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "probe"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/probe"
    assert re.fullmatch(
        r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["_HANDLER"] == "app.lambda_handler"
    assert env["LAMBDA_TASK_ROOT"] == str(sandbox.config.code_dir)
    assert env["TZ"] == ":UTC"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_configuration_may_not_set_reserved_variables(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="AWS_REGION"):
        FunctionConfig(
            name="probe",
            arn="arn:aws:lambda:eu-west-1:123456789012:function:probe",
            handler="app.lambda_handler",
            code_dir=tmp_path,
            environment={"AWS_REGION": "us-east-1"},
        )


def test_passthrough_takes_only_the_emulator_variables(make: Make) -> None:
    with pytest.raises(ValueError, match="HOME"):
        make(PID, passthrough={"HOME": "/root"})


def test_context_reflects_the_timeout_and_the_request(make: Make) -> None:
    sandbox = make(
        """
        def lambda_handler(event, context):
            return {
                "left": context.get_remaining_time_in_millis(),
                "request_id": context.aws_request_id,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "event": event,
            }
        """,
        timeout=2.0,
    )

    invocation = sandbox.invoke(b'{"order": 7}')

    got = body(invocation)
    assert invocation.function_error is None
    assert 1000 < got["left"] <= 2000
    assert got["request_id"] == invocation.request_id
    assert got["arn"] == sandbox.config.arn
    assert got["memory"] == "128"
    assert got["event"] == {"order": 7}


def test_raised_exception_is_an_unhandled_function_error(make: Make) -> None:
    sandbox = make(
        """
        import os

        def lambda_handler(event, context):
            if event.get("fail"):
                raise ValueError("order 7 has no lines")
            return os.getpid()
        """
    )
    pid = body(sandbox.invoke(b"{}"))

    failed = sandbox.invoke(b'{"fail": true}')

    error = body(failed)
    assert failed.function_error == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "order 7 has no lines"
    assert error["requestId"] == failed.request_id
    assert any("raise ValueError" in frame for frame in error["stackTrace"])
    assert body(sandbox.invoke(b"{}")) == pid  # the instance lives on, as in Lambda


def test_handler_past_its_timeout_is_killed_and_the_next_call_starts_fresh(make: Make) -> None:
    sandbox = make(
        """
        import os, time

        def lambda_handler(event, context):
            if event.get("sleep"):
                time.sleep(30)
            return os.getpid()
        """,
        timeout=0.5,
    )
    first = body(sandbox.invoke(b"{}"))

    slow = sandbox.invoke(b'{"sleep": true}')

    error = body(slow)
    assert slow.function_error == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
        + re.escape(slow.request_id)
        + r" Task timed out after 0\.50 seconds",
        error["errorMessage"],
    )
    assert gone(first)
    after = sandbox.invoke(b"{}")
    assert after.function_error is None
    assert after.init_duration_ms is not None  # a cold start
    assert body(after) != first


def test_concurrent_invocations_run_on_separate_instances(make: Make, tmp_path: Path) -> None:
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    # Each call waits (bounded) until both have arrived: both finish only if they overlap.
    sandbox = make(
        """
        import os, pathlib, time

        def lambda_handler(event, context):
            room = pathlib.Path(event["room"])
            (room / str(os.getpid())).touch()
            deadline = time.monotonic() + 5
            while len(list(room.iterdir())) < 2:
                if time.monotonic() > deadline:
                    raise TimeoutError("alone in the room")
                time.sleep(0.01)
            return os.getpid()
        """,
        timeout=8.0,
    )
    event = json.dumps({"room": str(meeting)}).encode()

    with ThreadPoolExecutor(2) as pool:
        calls = list(pool.map(lambda _: sandbox.invoke(event), range(2)))

    assert [c.function_error for c in calls] == [None, None]
    pids = {body(c) for c in calls}
    assert len(pids) == 2
    assert {int(p.name) for p in meeting.iterdir()} == pids


def test_at_the_cap_a_call_waits_for_the_busy_instance(make: Make) -> None:
    sandbox = make(
        """
        import os, time

        def lambda_handler(event, context):
            time.sleep(0.2)
            return os.getpid()
        """,
        max_instances=1,
    )

    with ThreadPoolExecutor(2) as pool:
        calls = list(pool.map(lambda _: sandbox.invoke(b"{}"), range(2)))

    assert [c.function_error for c in calls] == [None, None]
    assert len({body(c) for c in calls}) == 1


def test_at_the_cap_a_call_is_throttled_after_the_timeout(make: Make, tmp_path: Path) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    sandbox = make(
        f"""
        import pathlib, time

        def lambda_handler(event, context):
            pathlib.Path({str(started)!r}).touch()
            deadline = time.monotonic() + 5
            while not pathlib.Path({str(release)!r}).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return "released"
        """,
        timeout=8.0,
        max_instances=1,
    )
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(sandbox.invoke, b"{}")
        assert eventually(started.exists)
        sandbox.update(replace(sandbox.config, timeout=0.2))  # bounds the wait that follows

        with pytest.raises(Throttled):
            sandbox.invoke(b"{}")

        release.touch()
        assert body(busy.result()) == "released"  # update() left the busy instance alone


def test_update_makes_the_next_cold_instance_see_the_new_environment(make: Make) -> None:
    sandbox = make(
        """
        import os

        def lambda_handler(event, context):
            return [os.getpid(), os.environ["GREETING"]]
        """,
        environment={"GREETING": "hello"},
    )
    old_pid, greeting = body(sandbox.invoke(b"{}"))
    assert greeting == "hello"

    sandbox.update(replace(sandbox.config, environment={"GREETING": "bonjour"}))

    new_pid, greeting = body(sandbox.invoke(b"{}"))
    assert greeting == "bonjour"
    assert new_pid != old_pid
    assert gone(old_pid)


def test_close_leaves_no_processes(make: Make, tmp_path: Path) -> None:
    started = tmp_path / "started"
    sandbox = make(
        f"""
        import os, pathlib, subprocess, time

        def lambda_handler(event, context):
            child = subprocess.Popen(["sleep", "60"])
            if event.get("hang"):
                pathlib.Path({str(started)!r}).write_text(f"{{os.getpid()}} {{child.pid}}")
                time.sleep(60)
            return [os.getpid(), child.pid]
        """,
        timeout=30.0,
    )
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(sandbox.invoke, b'{"hang": true}')
        assert eventually(started.exists)
        hung = [int(pid) for pid in started.read_text().split()]
        idle = body(sandbox.invoke(b"{}"))  # a second instance, idle from now on
        assert idle[0] != hung[0]

        sandbox.close()

        killed = busy.result(timeout=5)
    assert body(killed)["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in body(killed)["errorMessage"]
    assert all(gone(pid) for pid in idle[:1] + hung[:1])  # runtimes: reaped by close()
    assert eventually(lambda: all(gone(pid) for pid in idle + hung))  # their children too


def test_import_error_is_reported_as_an_init_error(make: Make) -> None:
    sandbox = make("import stepline_no_such_module\n")

    for _ in range(2):  # each call gets a fresh instance, and the same error
        invocation = sandbox.invoke(b"{}")

        error = body(invocation)
        assert invocation.function_error == "Unhandled"
        assert error["errorType"] == "Runtime.ImportModuleError"
        assert error["errorMessage"].startswith("Unable to import module 'app'")
        assert invocation.init_duration_ms is not None


def test_runtime_that_exits_is_replaced(make: Make) -> None:
    sandbox = make(
        """
        import os

        def lambda_handler(event, context):
            if event.get("exit"):
                os._exit(3)
            return os.getpid()
        """
    )
    first = body(sandbox.invoke(b"{}"))

    crashed = sandbox.invoke(b'{"exit": true}')

    assert crashed.function_error == "Unhandled"
    assert body(crashed)["errorType"] == "Runtime.ExitError"
    assert body(crashed)["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert body(sandbox.invoke(b"{}")) not in {first, None}


def test_output_lines_reach_the_log(make: Make) -> None:
    lines: list[tuple[str, str]] = []
    lock = threading.Lock()

    def log(function: str, line: str) -> None:
        with lock:
            lines.append((function, line))

    sandbox = make(
        """
        import sys

        print("loading")

        def lambda_handler(event, context):
            print("handling", event["n"])
            print("to stderr", file=sys.stderr)
            return None
        """,
        log=log,
    )
    sandbox.invoke(b'{"n": 1}')

    expected = {("probe", "loading"), ("probe", "handling 1"), ("probe", "to stderr")}
    assert eventually(lambda: expected <= set(lines))


def test_cold_start_reports_init_duration_once(make: Make) -> None:
    sandbox = make(PID)

    cold, warm = sandbox.invoke(b"{}"), sandbox.invoke(b"{}")

    assert cold.init_duration_ms is not None and cold.init_duration_ms > 0
    assert warm.init_duration_ms is None
    assert body(cold) == body(warm)
