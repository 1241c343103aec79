"""The console's "Answer a task" form: a waitForTask step answered by pasting its token (the API
never shows one), as a person at the console would after receiving the step's notification."""

from __future__ import annotations

import json
import queue
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from stepline.client import Client
from tests.browser.test_console import FINISH, create_workflow, node
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

NOTIFIED = 30.0  # s a notification may take to reach the inbox
# Each step's notification posts its token and step name to the test's inbox; the dev stack
# allows private hosts (AllowedPrivateHosts "*"), so 127.0.0.1 is reachable.
STEP = r"""  {name}:
    waitForTask:
      notify:
        url: 'http://127.0.0.1:{port}/notify'
        body: '\({{token: $taskToken, step: "{name}"}})'
      timeout: 1h
      heartbeatTimeout: 30m
      output: '\({{approved: .approved, by: .by}})'
"""


class _Inbox(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        sent = json.loads(self.rfile.read(length))
        self.server.tokens.put((sent["step"], sent["token"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def inbox() -> Iterator[Any]:
    """An HTTP server on 127.0.0.1 that records the tokens the notifications carry."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    server.tokens = queue.Queue()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def token_of(inbox: Any, step: str) -> str:
    """The token of the next notification, which must be the one of ``step``."""
    try:
        got, token = inbox.tokens.get(timeout=NOTIFIED)
    except queue.Empty:
        pytest.fail(f"no notification came for {step}")
    assert got == step
    return str(token)


def open_waiting(page: Page, stack: RunningStack, inbox: Any, *steps: str) -> tuple[str, str]:
    """Start a workflow of waitForTask steps ``steps`` (in that order) over the API, open its
    execution page; the execution's id and the first step's token, once the step waits."""
    body = "".join(
        STEP.format(name=name, port=inbox.server_address[1])
        + (f"      next: {steps[i + 1]}\n" if i + 1 < len(steps) else "")
        for i, name in enumerate(steps)
    )
    spec = f'yawl: "0.1"\nstart: {steps[0]}\nsteps:\n{body}'
    workflow_id = create_workflow(stack, f"tasks-{uuid.uuid4().hex[:8]}", spec)
    with Client(stack.url) as api:
        execution_id = api.start(workflow_id, {})
    token = token_of(inbox, steps[0])
    page.goto(f"/#/execution/{execution_id}")
    panel = task_panel(page)
    expect(panel).to_have_class(re.compile(r"\bwaiting\b"), timeout=FINISH)
    expect(panel.locator(".task-hint")).to_have_text(
        f"Waiting for an answer: {steps[0]}", timeout=FINISH
    )
    return execution_id, token


def task_panel(page: Page) -> Locator:
    return page.get_by_role("region", name="answer a task")


def answers_sent(page: Page) -> list[Request]:
    """The task answers the page sends from now on."""
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if ":sendTask" in r.url else None)
    return sent


def terminate(stack: RunningStack, execution_id: str) -> None:
    with Client(stack.url) as api:
        api.terminate(execution_id)


def test_success_with_an_output_finishes_the_execution(
    page: Page, stack: RunningStack, inbox: Any
) -> None:
    _, token = open_waiting(page, stack, inbox, "approve")
    badge = page.locator("section.summary .badge")
    expect(badge).to_have_text("RUNNING", timeout=FINISH)
    expect(node(page, "approve")).to_have_attribute("data-status", "STARTED")

    page.get_by_label("task token").fill(token)
    page.get_by_label("task output (JSON)").fill('{"approved": true, "by": "Ada"}')
    expect(page.get_by_text("Valid JSON")).to_be_visible()
    page.get_by_role("button", name="Send success").click()

    expect(page.get_by_text("Success sent: the waiting step goes on")).to_be_visible(timeout=FINISH)
    expect(badge).to_have_text("FINISHED", timeout=FINISH)
    result = page.locator("section.summary .json-block.result pre")
    expect(result).to_contain_text('"approved": true')
    expect(result).to_contain_text('"by": "Ada"')
    expect(node(page, "approve")).to_have_attribute("data-status", "COMPLETED", timeout=FINISH)
    expect(task_panel(page)).to_be_hidden()  # an ended execution takes no answers


def test_failure_with_an_error_code_fails_the_execution(
    page: Page, stack: RunningStack, inbox: Any
) -> None:
    _, token = open_waiting(page, stack, inbox, "approve")
    page.get_by_label("task token").fill(token)
    page.get_by_label("error code").fill("STEP_FAILED_PRECONDITION")
    page.get_by_label("error message").fill("rejected by Ada")
    page.get_by_role("button", name="Send failure").click()

    expect(page.get_by_text("Failure sent: the waiting step fails")).to_be_visible(timeout=FINISH)
    summary = page.locator("section.summary")
    expect(summary.locator(".badge")).to_have_text("FAILED", timeout=FINISH)
    expect(summary.locator(".json-block.error pre")).to_contain_text(
        "STEP_FAILED_PRECONDITION: rejected by Ada"
    )
    expect(node(page, "approve")).to_have_attribute("data-status", "FAILED", timeout=FINISH)


def test_a_second_answer_or_a_forged_token_shows_the_refusal(
    page: Page, stack: RunningStack, inbox: Any
) -> None:
    execution_id, token = open_waiting(page, stack, inbox, "approve", "confirm")
    page.get_by_label("task token").fill(token)
    page.get_by_role("button", name="Send success").click()
    expect(page.get_by_text("Success sent")).to_be_visible(timeout=FINISH)
    token_of(inbox, "confirm")  # the execution goes on to the next waiting step
    expect(node(page, "approve")).to_have_attribute("data-status", "COMPLETED", timeout=FINISH)
    expect(task_panel(page).locator(".task-hint")).to_have_text(
        "Waiting for an answer: confirm", timeout=FINISH
    )

    page.get_by_role("button", name="Send failure").click()  # the same token, another answer
    refusal = page.locator(".message .error-box")
    expect(refusal).to_have_text(
        "FAILED_PRECONDITION: taskToken: the task was already answered (SUCCEEDED)",
        timeout=FINISH,
    )
    expect(page.get_by_text("Success sent")).to_have_count(0)

    page.get_by_label("task token").fill(token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"))
    page.get_by_role("button", name="Send heartbeat").click()
    expect(refusal).to_have_text(
        "NOT_FOUND: taskToken: the task token is not valid", timeout=FINISH
    )
    expect(node(page, "confirm")).to_have_attribute("data-status", "STARTED")
    terminate(stack, execution_id)
    expect(page.locator("section.summary .badge")).to_have_text("STOPPED", timeout=FINISH)


def test_invalid_output_json_is_refused_in_the_browser(
    page: Page, stack: RunningStack, inbox: Any
) -> None:
    execution_id, token = open_waiting(page, stack, inbox, "approve")
    sent = answers_sent(page)
    send = page.get_by_role("button", name="Send success")

    page.get_by_role("button", name="Send heartbeat").click()  # no token pasted yet
    expect(task_panel(page).get_by_role("alert")).to_have_text(
        re.compile(r"^Paste the task token first")
    )
    page.get_by_label("task token").fill(token)
    page.get_by_label("task output (JSON)").fill('{"approved": ')
    expect(page.get_by_text("Not valid JSON: ")).to_be_visible()
    expect(send).to_be_disabled()
    page.get_by_label("task token").press("Enter")  # nor does the form submit
    page.get_by_label("task output (JSON)").fill('{"approved": true}')
    expect(page.get_by_text("Valid JSON")).to_be_visible()
    expect(send).to_be_enabled()
    assert sent == []
    expect(node(page, "approve")).to_have_attribute("data-status", "STARTED")
    terminate(stack, execution_id)
    expect(task_panel(page)).to_be_hidden(timeout=FINISH)


def test_a_heartbeat_shows_a_notice_and_the_step_waits_on(
    page: Page, stack: RunningStack, inbox: Any
) -> None:
    execution_id, token = open_waiting(page, stack, inbox, "approve")
    sent = answers_sent(page)
    page.get_by_label("task token").fill(token)
    page.get_by_role("button", name="Send heartbeat").click()

    expect(
        page.get_by_text("Heartbeat sent: the task's heartbeat timeout starts again.")
    ).to_be_visible()
    assert [r.url.rsplit("/", 1)[-1] for r in sent] == ["execution:sendTaskHeartbeat"]
    assert json.loads(sent[0].post_data or "") == {"taskToken": token}
    expect(node(page, "approve")).to_have_attribute("data-status", "STARTED")
    expect(page.locator("section.summary .badge")).to_have_text("RUNNING", timeout=FINISH)
    terminate(stack, execution_id)
    expect(page.locator("section.summary .badge")).to_have_text("STOPPED", timeout=FINISH)
    expect(task_panel(page)).to_be_hidden()
