"""The IAM net holds: every action template.yaml grants a function is one its code needs.

A tour drives every function of the deployed stack through the paths that call AWS — the API
calls, large payloads, page tokens, schedules, triggers of every kind, and a workflow using
every integration step — with IAM enforced. Every check the emulator made is recorded
(:data:`stepline.dev.authorizer.CALLS`). Then, for each action of each ``Policies`` statement
in template.yaml, the recorded calls of that role are evaluated again against the role's
policies with that one action removed: at least one call must be refused. So removing any
needed action from the template makes this module fail, and an action nothing needs shows up
here too (it should leave the template).

Some actions cannot be exercised on this machine, each with its reason in :data:`UNSEEN`.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from stepline.dev import authorizer, scheduler, template
from stepline.dev.pump import QueuePump
from stepline.dev.stack import EmulatedStack

from .conftest import Api

DEADLINE = 30.0
# A stack name outside the integration prefix: the runner's grants on `stepline-*` resources
# would otherwise also cover the stack's own table, queue and bucket, and hide whether the
# statements that name those are needed.
STACK_NAME = "net"
SAM = template.load()["Resources"]
UNSEEN = {
    ("IntegrationRole", "lambda:InvokeFunctionUrl"): (
        "containerCall signs requests to Lambda function URLs (*.lambda-url.<region>.on.aws), "
        "which do not resolve to the emulator"
    ),
    **{
        (owner, "s3:ListBucket"): (
            "S3 answers a missing key NoSuchKey to a caller that may list the bucket (else "
            "AccessDenied); the emulator answers NoSuchKey to everyone and checks only GetObject"
        )
        for owner in ("GetFunction", "GetHistoryFunction", "RunnerFunction")
    },
    ("IntegrationRole", "ses:SendRawEmail"): (
        "SES may authorise a SESv2 SendEmail with raw content as ses:SendRawEmail; the emulator "
        "names every SESv2 send ses:SendEmail"
    ),
}
# Past the 64 KB inline limit, and incompressible: the payload bucket holds it (as execution
# input, and in the log as the first step's input).
BIG = base64.b64encode(os.urandom(72 * 1024)).decode()
SLOW_FIRST = """\
yawl: "0.1"
start: nap
steps:
  nap:
    functionCall: {functionId: stepline-slow, input: '\\({seconds: 3, big: .big})', next: done}
  done:
    success: {}
"""
PARKED = "yawl: '0.1'\nstart: nap\nsteps:\n  nap:\n    wait: {duration: 48h}\n"
EVERY_INTEGRATION = """\
yawl: "0.1"
start: call
steps:
  call:
    functionCall:
      functionId: stepline-echo
      input: '\\({token: lockboxPayload("stepline-tour-secret"; "token")})'
      next: queue
  queue:
    ymq:
      queueArn: arn:aws:sqs:us-east-1:123456789012:stepline-tour-queue
      put: {body: hello}
      next: stream
  stream:
    yds:
      database: tour
      topic: stepline-tour-stream
      put: {body: hello, partitionKey: k}
      next: put_doc
  put_doc:
    ydbDocument:
      database: tour
      tableName: stepline-tour-table
      put: {item: '\\({id: "1", n: 1})'}
      next: get_doc
  get_doc:
    ydbDocument:
      database: tour
      tableName: stepline-tour-table
      get: {key: '\\({id: "1"})'}
      next: update_doc
  update_doc:
    ydbDocument:
      database: tour
      tableName: stepline-tour-table
      update:
        key: '\\({id: "1"})'
        expression: SET n = :n
        expressionAttributeValues: '\\({":n": 2})'
      next: scan_docs
  scan_docs:
    ydbDocument:
      database: tour
      tableName: stepline-tour-table
      scan: {limit: "10"}
      next: put_object
  put_object:
    objectStorage:
      bucket: stepline-tour-bucket
      object: a.json
      put: {content: '{"a": 1}', contentType: JSON}
      next: get_object
  get_object:
    objectStorage:
      bucket: stepline-tour-bucket
      object: a.json
      get: {contentType: JSON}
      next: mail
  mail:
    postbox:
      fromAddress: tour@stepline.test
      destination: {toAddresses: '[a@stepline.test]'}
      simple:
        subject: {data: hi, charset: UTF_8}
        body: {text: {data: hi, charset: UTF_8}, html: {data: <p>hi</p>, charset: UTF_8}}
      next: pause
  pause:
    wait: {duration: 10s, next: big}
  big:
    noOp:
      output: '\\({big: ([range(9000)] | map(tostring) | join(","))})'
      next: child
  child:
    workflow:
      workflowId: CHILD
      executionInput: '\\({})'
      next: done
  done:
    success: {}
"""


def poll(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """Read until ``done`` holds, or fail at the deadline."""
    end = time.monotonic() + DEADLINE
    while not done(value := read()):
        assert time.monotonic() < end, f"gave up waiting; last value: {value!r:.300}"
        time.sleep(0.05)
    return value


def ended(api: Api, execution_id: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        body: dict[str, Any] = api.call("get", path={"executionId": execution_id}).body
        return body

    got = poll(read, lambda b: b["execution"]["status"] in ("FINISHED", "FAILED", "STOPPED"))
    execution: dict[str, Any] = got["execution"]
    return execution


def _resources(stack: EmulatedStack) -> None:
    """What the tour's integration steps reach (all under the integration prefix)."""
    stack.clients("sqs").create_queue(QueueName="stepline-tour-queue")
    stack.clients("kinesis").create_stream(StreamName="stepline-tour-stream", ShardCount=1)
    stack.clients("dynamodb").create_table(
        TableName="stepline-tour-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    stack.clients("s3").create_bucket(Bucket="stepline-tour-bucket")
    stack.clients("secretsmanager").create_secret(
        Name="stepline-tour-secret", SecretString=json.dumps({"token": "t"})
    )
    stack.clients("ses").verify_email_identity(EmailAddress="tour@stepline.test")


def _api_calls(api: Api, folder: str) -> None:
    """Every API call, with large payloads and page tokens."""
    schedule = {"cronExpression": "0 9 * * ? *", "timezone": "UTC"}
    spec = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
    body = {"folderId": folder, "name": "sched", "specification": {"specYaml": spec}}
    scheduled = api.call("workflow_create", body=body | {"schedule": schedule})
    assert scheduled.status == 200, scheduled.body
    workflow_id = scheduled.body["metadata"]["workflowId"]
    change = {"schedule": {"cronExpression": "0 10 * * ? *", "timezone": "UTC"}}
    updated = api.call("workflow_update", path={"workflowId": workflow_id}, body=change)
    assert updated.status == 200, updated.body
    api.create_workflow(folder, name="other")
    listed = api.call("workflow_list", query={"folderId": folder, "pageSize": "1"})
    assert listed.body.get("nextPageToken"), listed.body
    token = listed.body["nextPageToken"]
    assert api.call("workflow_list", query={"folderId": folder, "pageToken": token}).status == 200
    assert api.call("workflow_get", path={"workflowId": workflow_id}).status == 200
    operations = api.call("operation_list", path={"workflowId": workflow_id})
    assert len(operations.body["operations"]) == 2, operations.body  # Create, Update
    first = operations.body["operations"][0]["id"]
    assert api.call("operation_get", path={"operationId": first}).status == 200
    assert api.call("workflow_delete", path={"workflowId": workflow_id}).status == 200

    slow = api.create_workflow(folder, name="slow", spec=SLOW_FIRST)
    key = {"Idempotency-Key": "tour-1"}
    big = api.start(slow, json.dumps({"big": BIG}), headers=key)
    assert api.start(slow, json.dumps({"big": BIG}), headers=key) == big  # replay: QUEUED
    poll(
        lambda: api.call("get", path={"executionId": big}).body["execution"]["status"],
        lambda status: status == "RUNNING",
    )  # a QUEUED head whose log has begun
    api.start(slow)
    assert ended(api, big)["status"] == "FINISHED"
    page = api.call("history", path={"executionId": big}, query={"pageSize": "1"}).body
    rest = api.call(
        "history", path={"executionId": big}, query={"pageToken": page["nextPageToken"]}
    )
    assert rest.status == 200, rest.body
    for query in ({"workflowId": slow, "pageSize": "1"},):
        page = api.call("list", query=query).body
        more = api.call("list", query=query | {"pageToken": page["nextPageToken"]})
        assert more.status == 200, more.body

    parked = api.create_workflow(folder, name="parked", spec=PARKED)
    for call in ("stop", "terminate"):
        execution_id = api.start(parked)
        assert api.call(call, path={"executionId": execution_id}).status == 200


def _access_bindings(api: Api, folder: str) -> None:
    """A workflow's and a folder's bindings set, changed and listed; a List that reads its
    page's bindings (a workflow of the folder holds some)."""
    me = {"id": "arn:aws:iam::123456789012:user/stepline-dev", "type": "iamUser"}
    admin = {"roleId": "serverless.workflows.admin", "subject": me}
    bound = api.create_workflow(folder, name="bound")
    api.create_workflow(folder, name="open")
    on = {"workflowId": f"{bound}:setAccessBindings"}
    assert api.call("access_set", path=on, body={"accessBindings": [admin]}).status == 200
    assert len(api.call("workflow_list", query={"folderId": folder}).body["workflows"]) == 2
    listed = api.call("access_list", path={"workflowId": f"{bound}:listAccessBindings"})
    assert listed.body == {"accessBindings": [admin]}
    remove = {"accessBindingDeltas": [{"action": "REMOVE", "accessBinding": admin}]}
    on = {"workflowId": f"{bound}:updateAccessBindings"}
    assert api.call("access_update", path=on, body=remove).status == 200
    on = {"folderId": f"{folder}:setAccessBindings"}
    assert api.call("folder_access_set", path=on, body={"accessBindings": [admin]}).status == 200
    on = {"folderId": f"{folder}:listAccessBindings"}
    assert api.call("folder_access_list", path=on).body == {"accessBindings": [admin]}
    on = {"folderId": f"{folder}:updateAccessBindings"}
    assert api.call("folder_access_update", path=on, body=remove).status == 200


def _every_integration(api: Api, folder: str) -> None:
    child = api.create_workflow(folder, name="child")
    spec = EVERY_INTEGRATION.replace("CHILD", child)
    execution_id = api.start(api.create_workflow(folder, name="tour", spec=spec))
    execution = ended(api, execution_id)
    assert execution["status"] == "FINISHED", execution
    page = api.call("history", path={"executionId": execution_id}, query={"pageSize": "1"})
    assert page.body.get("nextPageToken"), page.body
    token = page.body["nextPageToken"]
    rest = api.call("history", path={"executionId": execution_id}, query={"pageToken": token})
    assert rest.status == 200, rest.body


APPROVAL = """
yawl: "0.1"
start: approve
steps:
  approve:
    waitForTask:
      notify:
        url: 'http://127.0.0.1:PORT/approve'
        body: '\\({token: $taskToken})'
      timeout: 1h
"""


class _Inbox(BaseHTTPRequestHandler):
    """Takes a waitForTask step's notifications (its task tokens)."""

    server: Any

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.server.tokens.append(json.loads(self.rfile.read(length) or b"{}")["token"])
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


def _task_answers(api: Api, folder: str) -> None:
    """A waitForTask step notified, heartbeated and answered through TasksFunction."""
    inbox: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Inbox)
    inbox.tokens = []
    threading.Thread(target=inbox.serve_forever, daemon=True).start()
    try:
        spec = APPROVAL.replace("PORT", str(inbox.server_address[1]))
        execution_id = api.start(api.create_workflow(folder, name="approval", spec=spec))
        token = poll(lambda: list(inbox.tokens), bool)[0]
        assert api.call("task_heartbeat", body={"taskToken": token}).status == 200
        answer = {"taskToken": token, "outputJson": '{"approved": true}'}
        assert api.call("task_success", body=answer).status == 200
        assert ended(api, execution_id)["status"] == "FINISHED"
    finally:
        inbox.shutdown()
        inbox.server_close()


PARKED = 'yawl: "0.1"\nstart: nap\nsteps:\n  nap:\n    wait:\n      duration: 3600s\n'


def _redrive(api: Api, folder: str) -> None:
    """A stopped execution redriven through StopFunction (once its log is closed), then
    terminated."""
    execution_id = api.start(api.create_workflow(folder, name="stopped", spec=PARKED))
    poll(lambda: _status(api, execution_id), lambda status: status == "RUNNING")
    assert api.call("stop", path={"executionId": execution_id}).status == 200
    path = {"executionId": f"{execution_id}:redrive"}
    poll(lambda: api.call("redrive", path=path).status, lambda status: status == 200)
    assert api.call("terminate", path={"executionId": execution_id}).status == 200
    assert ended(api, execution_id)["status"] == "STOPPED"


def _status(api: Api, execution_id: str) -> str:
    return str(api.call("get", path={"executionId": execution_id}).body["execution"]["status"])


def _triggers(stack: EmulatedStack, api: Api, folder: str) -> None:
    """Events, redeliveries, large events, queue messages, schedule fires, failures."""
    slow = api.create_workflow(folder, name="on-event", spec=SLOW_FIRST)
    relay = scheduler.EventRelay(stack.clients, stack.deployment.rules, stack.deliver_event)
    entry = {
        "Source": "stepline.events",
        "DetailType": "Order Placed",
        "Detail": json.dumps({"big": BIG}),
        "Resources": [f"stepline:workflow/{slow}"],
    }
    boto3.client("events").put_events(Entries=[entry])
    relay.poll_once(wait_seconds=1)
    started = poll(lambda: _executions(api, slow), lambda found: len(found) == 1)
    event = json.loads(_input(api, started[0]["id"]))
    stack.invoke("TriggerFunction", copy.deepcopy(event))  # redelivered while QUEUED

    trigger = stack.function("TriggerFunction")  # no workflow named: fails, retried, dead-lettered
    unnamed = event | {"id": "tour-unnamed", "resources": []}
    stack.functions.invoke_async(trigger, json.dumps(unnamed).encode())
    dead = stack.deployment.physical["TriggerDeadLetterQueue"]
    poll(lambda: boto3.client("sqs").receive_message(QueueUrl=dead).get("Messages"), bool)

    (mapping,) = [m for m in stack.deployment.mappings if "TriggerQueue" in m.queue_arn]
    pump = QueuePump(mapping, stack.functions, pollers=1)
    pump.start()
    try:
        boto3.client("sqs").send_message(
            QueueUrl=stack.deployment.physical["TriggerQueue"],
            MessageBody="{}",
            MessageAttributes={"workflowId": {"DataType": "String", "StringValue": slow}},
        )
        poll(lambda: _executions(api, slow), lambda found: len(found) == 2)
    finally:
        pump.stop()
    _schedules(stack, api, folder)


def _schedules(stack: EmulatedStack, api: Api, folder: str) -> None:
    spec = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
    every_minute = {"cronExpression": "* * * * ? *", "timezone": "UTC"}
    body = {"folderId": folder, "name": "minutely", "specification": {"specYaml": spec}}
    created = api.call("workflow_create", body=body | {"schedule": every_minute})
    workflow_id = created.body["metadata"]["workflowId"]
    group = stack.function("WorkflowsFunction").environment["SCHEDULE_GROUP"]
    client = stack.clients("scheduler")
    found = client.get_schedule(Name=workflow_id, GroupName=group)
    missing = found["Target"] | {"Arn": found["Target"]["Arn"] + "-missing"}
    client.create_schedule(  # Scheduler's role may not invoke it: the fire is dead-lettered
        Name="tour-missing-target",
        GroupName=group,
        ScheduleExpression="cron(* * * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=missing,
    )
    dev = _Stepped(client, group, stack.fire_schedule)
    dev.tick()
    dev.clock += timedelta(minutes=1)
    dev.tick()
    poll(lambda: _executions(api, workflow_id), lambda found: len(found) == 1)

    stale = {
        "trigger": "schedule",
        "workflowId": workflow_id,
        "scheduledTime": "2026-11-28T06:00:00Z",
    }
    stale["schedule"] = {"cronExpression": "0 3 * * ? *", "timezone": "UTC"}  # realigned
    assert stack.invoke("TriggerFunction", stale)["executionId"] is None
    admin_table = boto3.resource("dynamodb").Table(stack.deployment.physical["Table"])
    from stepline.store import keys

    admin_table.delete_item(Key=keys.workflow(workflow_id))  # gone: the fire removes it
    assert (
        stack.invoke("TriggerFunction", stale | {"schedule": every_minute})["executionId"] is None
    )


def _dead_letters(stack: EmulatedStack, api: Api, folder: str) -> None:
    """A child's message dead-lettered: the child fails, its parent hears of it."""
    child = api.create_workflow(folder, name="child", spec=PARKED)
    parent = "yawl: '0.1'\nstart: c\nsteps:\n  c:\n    workflow: {workflowId: CHILD}\n"
    parent_id = api.start(
        api.create_workflow(folder, name="parent", spec=parent.replace("CHILD", child))
    )
    started = poll(lambda: _executions(api, child), lambda found: len(found) == 1)
    boto3.client("sqs").send_message(
        QueueUrl=stack.deployment.physical["StepsDeadLetterQueue"],
        MessageBody=json.dumps({"executionId": started[0]["id"], "seq": 1}),
    )
    assert ended(api, parent_id)["status"] == "FAILED"


def _reconciler(stack: EmulatedStack, api: Api, folder: str) -> None:
    """A pass of the reconciler over a parked execution whose log keeps its state in the
    payload bucket. A grace of minus two days makes every watched execution overdue, so the
    pass re-drives it (the runner takes the extra message as any duplicate)."""
    parked = api.start(api.create_workflow(folder, name="parked", spec=PARKED), json.dumps(BIG))
    poll(
        lambda: api.call("get", path={"executionId": parked}).body["execution"]["status"],
        lambda status: status == "RUNNING",
    )
    lam = stack.clients("lambda")
    name = stack.function("ReconcilerFunction").name
    variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    environment = {"Variables": variables | {"RECONCILE_GRACE_SECONDS": "-172800"}}
    lam.update_function_configuration(FunctionName=name, Environment=environment)
    report = stack.invoke("ReconcilerFunction", {"detail-type": "Scheduled Event"})
    assert report["redriven"] >= 1, report


class _Stepped(scheduler.DevScheduler):
    clock: datetime = datetime(2026, 11, 28, 5, 59, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.clock


def _executions(api: Api, workflow_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.call("list", query={"workflowId": workflow_id}).body.get(
        "executions", []
    )
    return found


def _input(api: Api, execution_id: str) -> str:
    execution = api.call("get", path={"executionId": execution_id}).body["execution"]
    return str(execution["input"]["inputJson"])


@pytest.fixture(scope="module")
def tour(stack: EmulatedStack, api: Api) -> Iterator[list[authorizer.Call]]:
    """Every check the emulator made while the tour drove every function."""
    authorizer.CALLS.clear()
    _resources(stack)
    queues = ("StepsQueue", "StepsDeadLetterQueue")  # waits, children; dead letters
    pumps = [
        QueuePump(m, stack.functions, pollers=2)
        for m in stack.deployment.mappings
        if m.queue_arn.rsplit(":", 1)[1].split("-")[1] in queues
    ]
    for each in pumps:
        each.start()
    try:
        _api_calls(api, "tour-api")
        _access_bindings(api, "tour-access")
        _every_integration(api, "tour-steps")
        _task_answers(api, "tour-tasks")
        _redrive(api, "tour-redrive")
        _triggers(stack, api, "tour-triggers")
        _dead_letters(stack, api, "tour-dead")
        _reconciler(stack, api, "tour-reconciler")
    finally:
        for each in pumps:
            each.stop()
    yield authorizer.CALLS.snapshot()


def granted() -> list[tuple[str, int, str]]:
    """(role owner, statement index, action) of every Policies statement in template.yaml."""
    found = []
    for name, resource in SAM.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            statements = [s for p in props.get("Policies", []) for s in p["Statement"]]
        elif resource["Type"] == "AWS::IAM::Role":
            statements = [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]
        else:
            continue
        for index, statement in enumerate(statements):
            if "Fn::If" in statement:  # the stack is deployed with every such condition true
                statement = statement["Fn::If"][1]
            if statement["Effect"] == "Allow":  # a Deny is proven by what it refuses
                found += [(name, index, action) for action in statement["Action"]]
    return found


def _role_policies(stack: EmulatedStack, owner: str) -> tuple[str, list[Any], list[Any]]:
    """The role's name, its template policy documents as deployed (in order), and its managed
    policies. The inline policies SAM adds for destinations and dead-letter queues are left
    out: an action the template grants must be needed for what the code calls itself."""
    from moto.iam.models import iam_backends

    role = stack.deployment.physical.get(f"{owner}Role") or stack.deployment.physical[owner]
    backend = iam_backends["123456789012"]["aws"]
    names = backend.list_role_policies(role)
    declared = [p.get("PolicyName") for p in SAM[owner]["Properties"].get("Policies", [])]
    ours = [f"{owner}RolePolicy0"] if f"{owner}RolePolicy0" in names else declared
    documents = [backend.get_role_policy(role, n)[1] for n in ours]
    managed: list[Any] = list(backend.list_attached_role_policies(role)[0])
    return role, documents, managed


def _without(documents: list[Any], index: int, action: str) -> list[Any]:
    """The documents with ``action`` taken out of statement ``index`` (counted across them)."""
    changed = [json.loads(d) if isinstance(d, str) else copy.deepcopy(d) for d in documents]
    statements = [s for d in changed for s in d["Statement"]]
    statement = statements[index]
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    statement["Action"] = [a for a in actions if a != action] or ["none:nothing"]
    return changed


def test_nothing_the_tour_did_was_refused(tour: list[authorizer.Call]) -> None:
    refused = {(c.role, c.action, c.resource) for c in tour if c.role and not c.allowed}
    missing = {r for r in refused if "-missing" not in r[2]}  # the one refusal the tour wants
    assert missing == set()


EXERCISED = [g for g in granted() if (g[0], g[2]) not in UNSEEN]


@pytest.mark.parametrize(("owner", "index", "action"), EXERCISED)
def test_every_granted_action_is_needed(
    stack: EmulatedStack, tour: list[authorizer.Call], owner: str, index: int, action: str
) -> None:
    role, documents, managed = _role_policies(stack, owner)

    def allowed(policies: list[Any], call: authorizer.Call) -> bool:
        check = authorizer.Check(call.action, call.resource, call.context)
        return authorizer.permits(call.principal, policies, check)

    calls = [c for c in tour if c.role == role and allowed(documents + managed, c)]
    without = _without(documents, index, action) + managed
    refused = [c for c in calls if not allowed(without, c)]
    assert refused, f"nothing {owner} did needs {action} (statement {index})"


def test_the_actions_left_unseen_are_granted_and_only_those_the_emulator_cannot_show(
    stack: EmulatedStack, tour: list[authorizer.Call]
) -> None:
    pairs = {(owner, action) for owner, _, action in granted()}
    assert set(UNSEEN) <= pairs
    for owner, action in UNSEEN:
        role, _, _ = _role_policies(stack, owner)
        assert not [c for c in tour if c.role == role and c.action == action]
