"""waitForTask, a Stepline extension: its fields, where `$taskToken` is defined, and
`stepline validate --strict` refusing it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from stepline.cli.validate import validate_files
from stepline.yawl import SpecError, load
from stepline.yawl.integration import WaitForTask

STEP = r"""yawl: "0.1"
start: approve
steps:
  approve:
    waitForTask:
      notify:
        url: 'https://approvals.example/?token=\($taskToken)'
        body: '\({token: $taskToken, order: .order})'
FIELDS
"""


def spec(fields: str = "") -> str:
    return STEP.replace("FIELDS\n", fields)


def messages(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load(text)
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_defaults_a_day_and_no_heartbeat() -> None:
    body = load(spec()).steps["approve"].body
    assert isinstance(body, WaitForTask)
    assert body.timeout == 24 * 3600.0 and body.heartbeat_timeout is None
    assert body.notify.method == "POST"


def test_timeout_is_at_most_the_execution_quota() -> None:
    (problem,) = messages(spec("      timeout: 49h\n"))
    assert "steps.approve.waitForTask.timeout" in problem and "at most 48h" in problem


def test_heartbeat_timeout_may_not_exceed_the_timeout() -> None:
    (problem,) = messages(spec("      timeout: 1h\n      heartbeatTimeout: 2h\n"))
    assert "heartbeatTimeout must not be longer than timeout" in problem


def test_notify_is_required() -> None:
    text = 'yawl: "0.1"\nstart: a\nsteps:\n  a:\n    waitForTask: {timeout: 1h}\n'
    assert any("notify" in m for m in messages(text))


def test_the_task_token_is_defined_in_the_notification_only() -> None:
    (problem,) = messages(spec("      output: '\\({token: $taskToken})'\n"))
    assert "steps.approve.waitForTask.output" in problem and "taskToken" in problem


def _validate(path: Path, strict: bool) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = validate_files([path], out=out, err=err, strict=strict)
    return code, out.getvalue()


def test_validate_accepts_the_extension_and_strict_refuses_each_step(tmp_path: Path) -> None:
    nested = spec(
        "      next: more\n"
        "  more:\n"
        "    parallel:\n"
        "      branches:\n"
        "        b:\n"
        "          start: inner\n"
        "          steps:\n"
        "            inner:\n"
        "              waitForTask:\n"
        "                notify: {url: 'https://x.example/\\($taskToken)'}\n"
    )
    path = tmp_path / "approval.yaml"
    path.write_text(nested)

    assert _validate(path, strict=False) == (0, "OK: 1 file(s) valid, 3 step(s)\n")
    code, out = _validate(path, strict=True)
    assert code == 1
    assert out.splitlines() == [
        f"{path}:5:5: steps.approve.waitForTask: waitForTask is a Stepline extension, not YaWL: "
        "Yandex Cloud Workflows would refuse this step (run without --strict to allow it)",
        f"{path}:17:15: steps.more.parallel.branches.b.steps.inner.waitForTask: waitForTask is a "
        "Stepline extension, not YaWL: Yandex Cloud Workflows would refuse this step (run "
        "without --strict to allow it)",
    ]
