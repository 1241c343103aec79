"""The web console as a person uses it: start, watch, inspect, stop, pause, edit workflows,
sign."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from stepline.client import Client
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

ORDERS_SPEC = (Path(__file__).parent / "orders.yaml").read_text()
SCREENSHOT = Path(__file__).parents[2] / "docs" / "console.png"
FINISH = 30_000  # ms an execution of the examples may take to end, polled by expect()
GREEN_FILL = "rgb(230, 244, 234)"
RED_FILL = "rgb(253, 236, 234)"
BLUE_FILL = "rgb(227, 238, 252)"
API = "/workflows/v1/"
DEV_SIGNATURE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=stepline-dev/(\d{8})/us-east-1/execute-api/aws4_request, "
    r"SignedHeaders=host;x-amz-date, Signature=[0-9a-f]{64}"
)


def create_workflow(stack: RunningStack, name: str, spec: str) -> str:
    """A workflow created over the API, for tests about something else than creating one."""
    with Client(stack.url) as api:
        return api.create_workflow(name, spec, folder_id="default").id


def node(page: Page, key: str) -> Locator:
    """A step of the workflow graph."""
    return page.locator(f'svg.graph g.node[data-step="{key}"]').first


def fill_of(locator: Locator) -> str:
    """The computed fill colour of a graph node's box."""
    return str(locator.locator("rect.node-box").first.evaluate("e => getComputedStyle(e).fill"))


def start_with_input(page: Page, text: str) -> None:
    """Type the input in the start form and press Start."""
    page.get_by_label("execution input (JSON)").fill(text)
    expect(page.get_by_text("Valid JSON")).to_be_visible()
    page.get_by_role("button", name="Start execution").click()


def test_start_hello_and_watch_it_finish(page: Page, stack: RunningStack) -> None:
    hello = stack.workflow_id("hello")
    page.goto(f"/#/executions?workflow={hello}")
    expect(page.get_by_label("workflow")).to_have_value(hello)
    page.get_by_role("button", name="Start…").click()

    page.get_by_label("execution input (JSON)").fill('{"name": "Ada"')
    expect(page.get_by_text("Not valid JSON")).to_be_visible()
    expect(page.get_by_role("button", name="Start execution")).to_be_disabled()
    start_with_input(page, '{"name": "Ada"}')

    expect(page).to_have_url(re.compile(rf"#/execution/{hello}-[0-9a-f-]+$"))
    summary = page.locator("section.summary")
    expect(summary.locator(".badge")).to_have_text("FINISHED", timeout=FINISH)
    expect(summary.locator(".json-block.result pre")).to_contain_text('"greeting": "Hello, Ada!"')
    expect(summary.locator(".json-block.input pre")).to_contain_text('"name": "Ada"')

    greet = node(page, "greet")
    expect(greet).to_have_attribute("data-status", "COMPLETED")
    expect(greet.locator(".node-status")).to_have_text("NoOp · COMPLETED")
    assert fill_of(greet) == GREEN_FILL
    expect(page.locator("svg.timeline g.bar-row")).to_have_count(2)
    expect(page.locator('svg.timeline g.bar-row[data-entry="done"]')).to_have_attribute(
        "data-status", "COMPLETED"
    )

    greet.click()
    details = page.get_by_label("step details")
    expect(details.locator("h3")).to_have_text("greet")
    expect(details.locator(".json-block.step-output pre")).to_contain_text("Hello, Ada!")
    expect(details.locator("dd.attempts")).to_have_text("1")


def test_a_workflow_made_in_the_console_runs_with_groups_and_catch_drawn(
    page: Page, stack: RunningStack, tmp_path: Path
) -> None:
    name = f"orders-{uuid.uuid4().hex[:8]}"
    page.goto("/#/workflows")
    page.get_by_role("link", name="New workflow").click()
    page.get_by_label("name").fill(name)
    page.get_by_label("specification").fill(ORDERS_SPEC)
    page.get_by_role("button", name="Create workflow").click()
    expect(page.locator("h2")).to_contain_text("Workflow ")
    start_with_input(page, f'{{"orderId": 7, "requestId": "{uuid.uuid4()}"}}')

    summary = page.locator("section.summary")
    expect(summary.locator(".badge")).to_have_text("FINISHED", timeout=FINISH)
    expect(summary.locator(".json-block.result pre")).to_contain_text('"wrapped": "pen"')

    prepare, items = node(page, "prepare"), node(page, "prepare/pack/items")
    expect(prepare).to_have_class(re.compile(r"\bcompound\b"))
    expect(prepare.locator(".scope-label")).to_have_text(["invoice", "pack", "for each item"])
    expect(items.locator(".node-status").first).to_have_text("Foreach · COMPLETED")
    expect(node(page, "prepare/pack/items/wrap").locator(".node-status")).to_have_text(
        "NoOp · COMPLETED \u00d72"  # the run count
    )
    expect(node(page, "reject")).to_have_attribute("data-status", "NOT_RUN")
    expect(node(page, "review")).to_have_attribute("data-status", "NOT_RUN")
    expect(page.locator('svg.graph path.edge.catch[data-to="reject"]')).to_have_count(1)
    expect(page.locator('svg.graph path.edge.default[data-to="prepare"]')).to_have_count(1)
    lookup = node(page, "lookup")
    assert fill_of(lookup) == GREEN_FILL
    expect(lookup.locator(".node-attempts")).to_have_text("2 attempts")
    lookup_bar = page.locator('svg.timeline g.bar-row[data-entry="lookup"]')
    expect(lookup_bar.locator(".bar-note")).to_contain_text("2 attempts")
    expect(lookup_bar.locator("line.retry-mark")).to_have_count(1)
    lookup.click()
    details = page.get_by_label("step details")
    expect(details.locator("dd.attempts")).to_have_text("2")
    expect(details.locator(".json-block.step-last-error pre")).to_contain_text(
        "order store not ready"
    )

    node(page, "prepare/pack/items/wrap").click()
    expect(details.locator("h3")).to_have_text("prepare/pack/items[1]/wrap")
    details.get_by_role("button", name="1", exact=True).click()
    expect(details.locator("h3")).to_have_text("prepare/pack/items[0]/wrap")
    expect(details.locator(".json-block.step-output pre")).to_contain_text('"wrapped": "book"')
    page.evaluate("window.scrollTo(0, 0)")
    # docs/console.png is refreshed on request only, so a test run leaves the tree clean.
    target = (
        SCREENSHOT if os.environ.get("STEPLINE_UPDATE_SCREENSHOT") == "1" else tmp_path / "c.png"
    )
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000


def test_a_failed_execution_shows_its_error_in_red(page: Page, stack: RunningStack) -> None:
    workflow_id = create_workflow(stack, f"orders-{uuid.uuid4().hex[:8]}", ORDERS_SPEC)
    page.goto(f"/#/workflow/{workflow_id}")
    start_with_input(page, "{}")

    summary = page.locator("section.summary")
    expect(summary.locator(".badge")).to_have_text("FAILED", timeout=FINISH)
    expect(summary.locator(".json-block.error pre")).to_contain_text(
        "STEP_FAIL: order lookup failed"
    )
    lookup = node(page, "lookup")
    expect(lookup).to_have_attribute("data-status", "FAILED")
    assert fill_of(lookup) == RED_FILL
    expect(node(page, "check")).to_have_attribute("data-status", "NOT_RUN")
    lookup.click()
    details = page.get_by_label("step details")
    expect(details.locator(".json-block.step-error pre")).to_contain_text("orderId is required")
    expect(details.locator("dd.attempts")).to_have_text("3")
    expect(page.get_by_role("button", name="Terminate")).to_be_disabled()


def test_terminate_a_running_execution(page: Page, stack: RunningStack) -> None:
    spec = (
        'yawl: "0.1"\nstart: pause\nsteps:\n  pause:\n    wait:\n      duration: "36000"\n'
        "      next: done\n  done:\n    success: {}\n"
    )
    workflow_id = create_workflow(stack, f"pause-{uuid.uuid4().hex[:8]}", spec)
    page.goto(f"/#/workflow/{workflow_id}")
    start_with_input(page, "{}")

    pause = node(page, "pause")
    expect(pause).to_have_attribute("data-status", "STARTED", timeout=FINISH)
    assert fill_of(pause) == BLUE_FILL
    expect(page.locator("section.summary .badge")).to_have_text("RUNNING")
    page.get_by_role("button", name="Terminate").click()
    expect(page.locator("section.summary .badge")).to_have_text("STOPPED", timeout=FINISH)
    expect(pause).to_have_attribute("data-status", "CANCELLED", timeout=FINISH)
    expect(node(page, "done")).to_have_attribute("data-status", "NOT_RUN")


def test_pause_and_resume_a_running_execution(page: Page, stack: RunningStack) -> None:
    spec = (
        'yawl: "0.1"\nstart: nap\nsteps:\n  nap:\n    wait:\n      duration: "36000"\n'
        "      next: done\n  done:\n    success: {}\n"
    )
    workflow_id = create_workflow(stack, f"nap-{uuid.uuid4().hex[:8]}", spec)
    page.goto(f"/#/workflow/{workflow_id}")
    start_with_input(page, "{}")
    badge = page.locator("section.summary .badge")
    expect(node(page, "nap")).to_have_attribute("data-status", "STARTED", timeout=FINISH)
    expect(badge).to_have_text("RUNNING")
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    expect(page.get_by_role("region", name="answer a task")).to_be_hidden()  # no step waits

    page.get_by_role("button", name="Pause").click()
    expect(badge).to_have_text("PAUSED", timeout=FINISH)
    expect(page.get_by_text("nothing new starts until you resume")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    expect(node(page, "nap")).to_have_attribute("data-status", "STARTED")  # the timer runs on

    page.get_by_role("button", name="Resume").click()
    expect(badge).to_have_text("RUNNING", timeout=FINISH)
    expect(page.get_by_role("button", name="Pause")).to_be_enabled()
    page.get_by_role("button", name="Terminate").click()
    expect(badge).to_have_text("STOPPED", timeout=FINISH)
    expect(page.get_by_role("button", name="Pause")).to_be_disabled()
    expect(node(page, "nap")).to_have_attribute("data-status", "CANCELLED", timeout=FINISH)


def test_a_stopped_execution_is_redriven_from_where_it_stopped(
    page: Page, stack: RunningStack
) -> None:
    spec = 'yawl: "0.1"\nstart: nap\nsteps:\n  nap:\n    wait:\n      duration: "36000"\n'
    workflow_id = create_workflow(stack, f"redrive-{uuid.uuid4().hex[:8]}", spec)
    page.goto(f"/#/workflow/{workflow_id}")
    start_with_input(page, "{}")
    badge = page.locator("section.summary .badge")
    expect(node(page, "nap")).to_have_attribute("data-status", "STARTED", timeout=FINISH)
    expect(page.get_by_role("button", name="Redrive")).to_be_disabled()  # running: nothing to do

    page.get_by_role("button", name="Terminate").click()
    expect(badge).to_have_text("STOPPED", timeout=FINISH)
    expect(node(page, "nap")).to_have_attribute("data-status", "CANCELLED", timeout=FINISH)
    redrive = page.get_by_role("button", name="Redrive")
    expect(redrive).to_be_enabled(timeout=FINISH)

    redrive.click()
    expect(page.get_by_text("Redriven: the failed and unfinished steps run again")).to_be_visible()
    expect(badge).to_have_text("RUNNING", timeout=FINISH)
    expect(node(page, "nap")).to_have_attribute("data-status", "STARTED", timeout=FINISH)
    page.get_by_role("button", name="Terminate").click()
    expect(badge).to_have_text("STOPPED", timeout=FINISH)


def test_executions_page_filters_by_status(page: Page, stack: RunningStack) -> None:
    workflow_id = create_workflow(stack, f"orders-{uuid.uuid4().hex[:8]}", ORDERS_SPEC)
    with Client(stack.url) as api:
        for given in ({"orderId": 7}, {}):
            api.start(workflow_id, given)
    page.goto(f"/#/executions?workflow={workflow_id}")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".badge")).to_have_text(["FAILED", "FINISHED"], timeout=FINISH)
    page.get_by_label("status").select_option("FAILED")
    expect(rows).to_have_count(1)
    expect(rows.locator(".badge")).to_have_text("FAILED")
    expect(page).to_have_url(f"{stack.url}/#/executions?workflow={workflow_id}&status=FAILED")


def test_validation_problems_are_listed_and_marked_on_their_lines(page: Page) -> None:
    page.goto("/#/workflow-new")
    page.get_by_label("name").fill(f"broken-{uuid.uuid4().hex[:8]}")
    page.get_by_label("specification").fill(
        'yawl: "0.1"\nstart: nope\nsteps:\n  done:\n    noOp:\n      next: missing\n'
    )
    page.get_by_role("button", name="Create workflow").click()
    problems = page.locator(".problems li.problem")
    expect(problems).to_have_count(2)
    expect(problems.first).to_contain_text("line 2 col 8: start: no step named 'nope'")
    expect(page.locator(".gutter div.bad")).to_have_text(["2", "6"])
    expect(page.locator("h2")).to_have_text("New workflow")


def open_credentials(page: Page) -> Locator:
    """The header's Credentials panel, opened."""
    panel = page.locator("header details.credentials")
    panel.locator("summary").click()
    return panel


def test_every_api_request_is_signed_with_the_dev_stack_root_key(page: Page) -> None:
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if API in r.url else None)
    page.goto("/#/workflow-new")
    expect(page.locator("header details.credentials summary")).to_have_text(
        "Signed as stepline-dev (dev stack)"
    )
    page.get_by_label("name").fill(f"hello-{uuid.uuid4().hex[:8]}")
    page.get_by_label("specification").fill(
        'yawl: "0.1"\nstart: done\nsteps:\n  done:\n    success: {}\n'
    )
    page.get_by_role("button", name="Create workflow").click()
    expect(page.locator("h2")).to_contain_text("Workflow ")
    start_with_input(page, '{"note": "signed & sent"}')
    expect(page.locator("section.summary .badge")).to_have_text("FINISHED", timeout=FINISH)

    methods = {r.method for r in requests}
    assert {"GET", "POST"} <= methods, methods
    for request in requests:
        headers = request.all_headers()
        found = DEV_SIGNATURE.fullmatch(headers.get("authorization", ""))
        assert found, f"{request.method} {request.url}: {headers}"
        assert headers["x-amz-date"].startswith(found.group(1)), headers
        assert "x-amz-security-token" not in headers
        response = request.response()
        assert response is not None and response.status == 200, request.url


def test_a_wrong_secret_shows_the_gateway_refusal(page: Page) -> None:
    page.goto("/#/workflows")
    expect(page.locator("table.list tbody tr").first).to_be_visible()
    panel = open_credentials(page)
    panel.get_by_label("access key id").fill("stepline-dev")
    panel.get_by_label("secret access key").fill("not-the-secret")
    panel.get_by_role("button", name="Save").click()
    expect(page.locator("header details.credentials summary")).to_have_text(
        "Signed as stepline-dev"
    )
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^PERMISSION_DENIED: The request signature we calculated does not match")
    )

    open_credentials(page).get_by_role("button", name="Clear").click()
    expect(page.locator("table.list tbody tr").first).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_a_session_token_is_signed_and_sent(page: Page) -> None:
    page.goto("/#/workflows")
    panel = open_credentials(page)
    for label, value in [("access key id", "stepline-dev"), ("secret access key", "stepline-dev")]:
        panel.get_by_label(label).fill(value)
    panel.get_by_label("session token (optional)").fill("a-session-token")
    with page.expect_request(lambda r: API in r.url) as sent:
        panel.get_by_role("button", name="Save").click()
    headers = sent.value.all_headers()
    assert headers["x-amz-security-token"] == "a-session-token"
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in headers["authorization"]
    expect(page.locator("table.list tbody tr").first).to_be_visible()


def test_an_unsigned_request_shows_forbidden(page: Page) -> None:
    def strip_signature(route: Route) -> None:
        headers = route.request.headers
        route.continue_(headers={k: v for k, v in headers.items() if k != "authorization"})

    page.route(f"**{API}**", strip_signature)
    page.goto("/#/workflows")
    expect(page.get_by_role("alert")).to_have_text("PERMISSION_DENIED: Forbidden")


def test_another_endpoint_without_credentials_asks_for_them(page: Page) -> None:
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if API in r.url else None)
    page.goto("/#/workflows")
    expect(page.locator("table.list tbody tr").first).to_be_visible()
    sent.clear()
    endpoint = page.get_by_label("API endpoint")
    endpoint.fill("https://api.example.invalid")
    endpoint.dispatch_event("change")
    expect(page.locator("header details.credentials summary")).to_have_text("Credentials needed")
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^UNAUTHENTICATED: no credentials for https://api\.example\.invalid: ")
    )
    assert sent == []
