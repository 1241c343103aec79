"""template.yaml deployed whole on moto: every function, role, route, mapping, rule and output.

What the emulator's CloudFormation skips, and how the deploy makes up for it
(src/stepline/dev/deploy.py), each checked below through the service's own API:

=================================  ==========================================================
skipped by moto's CloudFormation   created through
=================================  ==========================================================
AWS::SecretsManager::Secret        Secrets Manager ``CreateSecret`` (value generated)
AWS::Scheduler::ScheduleGroup      Scheduler ``CreateScheduleGroup``
AWS::ApiGatewayV2::Api (2)         API Gateway v2 ``CreateApi``, routes and integrations from
                                   the OpenAPI body with each route's authorization type
AWS::ApiGatewayV2::Stage           ``CreateStage``
AWS::Lambda::EventInvokeConfig     Lambda ``PutFunctionEventInvokeConfig``
AWS::SQS::QueuePolicy              SQS ``SetQueueAttributes`` (Policy)
AWS::CloudWatch::Alarm             CloudWatch ``PutMetricAlarm``
function ``Layers``                Lambda ``UpdateFunctionConfiguration``
role ``ManagedPolicyArns``         IAM ``AttachRolePolicy``
bucket EventBridge notifications   S3 ``PutBucketNotificationConfiguration``
=================================  ==========================================================

Nothing of the template is left out. Two function properties the emulator's Lambda cannot
hold: ``Architectures`` (always ``x86_64`` there; the template's arm64 is checked by
``sam build``) and ``DeadLetterConfig`` (kept by the deployment, which the dev stack's
asynchronous invocations use).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepline.dev import deploy, iam, template
from stepline.dev.stack import EmulatedStack
from stepline.service.deps import Settings

SAM = template.load()
FUNCTIONS = sorted(
    name for name, r in SAM["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
)
GLOBALS = SAM["Globals"]["Function"]


def sam_property(function: str, name: str) -> Any:
    """A function's property in template.yaml, or the Globals value."""
    return SAM["Resources"][function]["Properties"].get(name, GLOBALS.get(name))


def events(function: str, kind: str) -> dict[str, Any]:
    found = SAM["Resources"][function]["Properties"].get("Events", {})
    return {name: e["Properties"] for name, e in found.items() if e["Type"] == kind}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_is_deployed_as_the_template_describes_it(
    stack: EmulatedStack, function: str
) -> None:
    deployed = stack.function(function)
    config = stack.clients("lambda").get_function_configuration(FunctionName=deployed.name)

    assert deployed.handler == sam_property(function, "Handler")
    assert config["Runtime"] == GLOBALS["Runtime"]
    assert deployed.timeout == sam_property(function, "Timeout")
    assert deployed.memory_mb == sam_property(function, "MemorySize")
    assert deployed.layers == (stack.deployment.physical[_layer()],)
    assert (deployed.code_dir / (deployed.handler.split(".")[0] + ".py")).is_file()


def _layer() -> str:
    cfn = template.transformed()["Resources"]
    return next(n for n, r in cfn.items() if r["Type"] == "AWS::Lambda::LayerVersion")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_gets_exactly_its_own_variables_resolved_to_the_stack(
    stack: EmulatedStack, function: str
) -> None:
    deployed = stack.function(function)
    own = SAM["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    wanted = set(GLOBALS["Environment"]["Variables"]) | set(own)

    assert set(deployed.environment) == wanted
    unresolved = {k: v for k, v in deployed.environment.items() if "${" in v or "Ref" in v}
    assert unresolved == {}
    settings = Settings.from_env(deployed.environment)  # what the code reads at cold start
    physical = stack.deployment.physical
    assert settings.table_name == physical["Table"]
    assert settings.steps_queue_url == physical["StepsQueue"]
    assert settings.payload_bucket == physical["PayloadBucket"]
    assert settings.page_token_secret_arn == physical["PageTokenSecret"]
    if "RUNNER_FUNCTION" in own:
        assert settings.runner_function == stack.function("RunnerFunction").name


def test_no_other_function_sees_another_functions_variables(stack: EmulatedStack) -> None:
    workflows = stack.function("WorkflowsFunction").environment
    assert "SCHEDULE_ROLE_ARN" in workflows
    assert "SCHEDULE_ROLE_ARN" not in stack.function("GetFunction").environment
    assert "RUNNER_FUNCTION" not in stack.function("GetFunction").environment
    assert "ALLOWED_PRIVATE_HOSTS" not in stack.function("StartFunction").environment


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_a_role_of_its_own_trusting_lambda_with_the_template_policies(
    stack: EmulatedStack, function: str
) -> None:
    deployed = stack.function(function)
    others = [stack.function(f).role for f in FUNCTIONS if f != function]
    assert deployed.role not in others
    role_name = deployed.role.rsplit("/", 1)[1]
    client = stack.clients("iam")
    role = client.get_role(RoleName=role_name)["Role"]
    trust = iam.Request("sts:AssumeRole", deployed.role, principal="lambda.amazonaws.com")
    assert iam.evaluate_resource_policy(role["AssumeRolePolicyDocument"], trust).name == "ALLOW"

    cfn_role = template.transformed()["Resources"][f"{function}Role"]["Properties"]
    inline = set(client.list_role_policies(RoleName=role_name)["PolicyNames"])
    assert inline == {p["PolicyName"] for p in cfn_role.get("Policies", [])}
    attached = client.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == set(cfn_role.get("ManagedPolicyArns", []))


def _may_invoke(stack: EmulatedStack, function_arn: str, principal: str, source: str) -> bool:
    lam = stack.clients("lambda")
    policy = lam.get_policy(FunctionName=function_arn)["Policy"]
    request = iam.Request(
        "lambda:InvokeFunction",
        function_arn,
        principal=principal,
        context={"aws:SourceArn": source, "aws:SourceAccount": "123456789012"},
    )
    return iam.evaluate_resource_policy(policy, request) is iam.Decision.ALLOW


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_route_targets_its_function_with_its_authorizer(
    stack: EmulatedStack, function: str
) -> None:
    deployed = stack.function(function)
    apis = stack.deployment.apis
    wanted = set()
    for props in events(function, "HttpApi").values():
        api = props["ApiId"]["Ref"]
        auth = (props.get("Auth") or {}).get("Authorizer")
        default = (SAM["Resources"][api]["Properties"].get("Auth") or {}).get("DefaultAuthorizer")
        authorization = "NONE" if (auth or default or "NONE") == "NONE" else "AWS_IAM"
        wanted.add((apis[api], props["Method"], props["Path"], authorization))
    got = {
        (r.api_id, r.method, r.path, r.authorization)
        for r in stack.deployment.routes
        if r.function_arn == deployed.arn
    }
    assert got == wanted
    for route in (r for r in stack.deployment.routes if r.function_arn == deployed.arn):
        arn = f"arn:aws:execute-api:us-east-1:123456789012:{route.api_id}/$default/"
        source = arn + f"{route.method}{route.path.replace('{', '').replace('}', '')}"
        assert _may_invoke(stack, deployed.arn, "apigateway.amazonaws.com", source)


def test_every_main_api_route_but_none_of_the_public_one_needs_iam(stack: EmulatedStack) -> None:
    routes = stack.deployment.routes
    main = {r.authorization for r in routes if r.api_id == stack.deployment.api_id}
    public = [(r.route_key, r.authorization) for r in routes if r.api_id != stack.deployment.api_id]
    assert main == {"AWS_IAM"}
    assert public == [("POST /workflows/v1/execution/{workflowId}/start", "NONE")]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_queue_mapping_targets_its_function(stack: EmulatedStack, function: str) -> None:
    deployed = stack.function(function)
    wanted = {
        (
            stack.clients("sqs").get_queue_attributes(
                QueueUrl=stack.deployment.physical[props["Queue"]["Fn::GetAtt"][0]],
                AttributeNames=["QueueArn"],
            )["Attributes"]["QueueArn"],
            props["BatchSize"],
            "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
        )
        for props in events(function, "SQS").values()
    }
    got = {
        (m.queue_arn, m.batch_size, m.report_batch_item_failures)
        for m in stack.deployment.mappings
        if m.function_arn == deployed.arn and m.enabled
    }
    assert got == wanted


def test_every_rule_matches_as_the_template_says_and_may_invoke_the_trigger(
    stack: EmulatedStack,
) -> None:
    trigger = stack.function("TriggerFunction")
    patterns = events("TriggerFunction", "EventBridgeRule")
    matching = [r for r in stack.deployment.rules if r.pattern]
    assert len(matching) == len(patterns)
    for rule in matching:
        assert rule.targets == (trigger.arn,)
        assert _may_invoke(stack, trigger.arn, "events.amazonaws.com", rule.arn)
    sources = sorted(str(r.pattern["source"]) for r in matching)
    assert sources == sorted(["['aws.s3']", "['stepline.events']"])
    bucket = stack.deployment.physical["TriggerBucket"]
    s3_rule = next(r for r in matching if r.pattern["source"] == ["aws.s3"])
    assert s3_rule.pattern["detail"]["bucket"]["name"] == [bucket]


def test_the_reconciler_runs_on_its_schedule_and_knows_the_runner_timeout(
    stack: EmulatedStack,
) -> None:
    reconciler = stack.function("ReconcilerFunction")
    (rule,) = [r for r in stack.deployment.rules if r.schedule]
    assert rule.schedule == "rate(1 minute)" and not rule.pattern
    assert rule.targets == (reconciler.arn,)
    assert _may_invoke(stack, reconciler.arn, "events.amazonaws.com", rule.arn)
    runner_timeout = stack.function("RunnerFunction").timeout
    assert float(reconciler.environment["RUNNER_TIMEOUT_SECONDS"]) == runner_timeout


def test_schedules_invoke_the_trigger_through_the_scheduler_role(stack: EmulatedStack) -> None:
    env = stack.function("WorkflowsFunction").environment
    trigger = stack.function("TriggerFunction")
    client = stack.clients("iam")
    role = client.get_role(RoleName=stack.deployment.physical["SchedulerRole"])["Role"]

    assert env["SCHEDULE_TARGET_ARN"] == trigger.arn
    assert env["SCHEDULE_ROLE_ARN"] == role["Arn"]
    assert stack.clients("scheduler").get_schedule_group(Name=env["SCHEDULE_GROUP"])
    trust = iam.Request(
        "sts:AssumeRole",
        role["Arn"],
        principal="scheduler.amazonaws.com",
        context={"aws:SourceAccount": "123456789012"},
    )
    assert iam.evaluate_resource_policy(role["AssumeRolePolicyDocument"], trust).name == "ALLOW"
    (name,) = client.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    from moto.iam.models import iam_backends  # GetRolePolicy's answer does not parse in boto3

    _, policy = iam_backends["123456789012"]["aws"].get_role_policy(role["RoleName"], name)
    invoke = iam.Request("lambda:InvokeFunction", trigger.arn)
    assert iam.evaluate([policy], invoke) is iam.Decision.ALLOW


def test_the_trigger_dead_letters_failed_asynchronous_invocations(stack: EmulatedStack) -> None:
    trigger = stack.function("TriggerFunction")
    queue = stack.clients("sqs").get_queue_attributes(
        QueueUrl=stack.deployment.physical["TriggerDeadLetterQueue"], AttributeNames=["QueueArn"]
    )
    assert trigger.dead_letter_target == queue["Attributes"]["QueueArn"]


def test_the_runner_fails_over_to_the_steps_queue(stack: EmulatedStack) -> None:
    runner = stack.function("RunnerFunction")
    config = stack.clients("lambda").get_function_event_invoke_config(FunctionName=runner.name)
    queue = stack.clients("sqs").get_queue_attributes(
        QueueUrl=stack.deployment.physical["StepsQueue"], AttributeNames=["QueueArn", "Policy"]
    )
    assert config["MaximumRetryAttempts"] == 0
    assert (
        config["DestinationConfig"]["OnFailure"]["Destination"] == queue["Attributes"]["QueueArn"]
    )


def test_the_resources_created_outside_the_stack_exist(stack: EmulatedStack) -> None:
    physical = stack.deployment.physical
    secret = stack.clients("secretsmanager").get_secret_value(SecretId=physical["PageTokenSecret"])
    assert len(secret["SecretString"]) == 48
    stages = stack.clients("apigatewayv2").get_stages(ApiId=stack.deployment.api_id)["Items"]
    assert [s["StageName"] for s in stages] == ["$default"]
    dead_letter = stack.clients("sqs").get_queue_attributes(
        QueueUrl=physical["TriggerDeadLetterQueue"], AttributeNames=["Policy"]
    )
    statement = json.loads(dead_letter["Attributes"]["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    alarms = stack.clients("cloudwatch").describe_alarms()["MetricAlarms"]
    assert {a["AlarmName"].rsplit("-", 1)[1] for a in alarms} == {
        "StepsDeadLetterAlarm",
        "TriggerDeadLetterAlarm",
    }


def test_every_output_resolves_to_a_deployed_resource(stack: EmulatedStack) -> None:
    outputs = stack.deployment.outputs
    physical = stack.deployment.physical

    assert set(outputs) == set(SAM["Outputs"])
    assert not [v for v in outputs.values() if "${" in v]
    assert (
        outputs["ApiUrl"]
        == f"https://{stack.deployment.api_id}.execute-api.us-east-1.amazonaws.com"
    )
    assert stack.deployment.public_api_id in outputs["PublicApiUrl"]
    assert outputs["TableName"] == physical["Table"]
    assert outputs["StepsQueueUrl"] == physical["StepsQueue"]
    assert outputs["ScheduleGroupName"] == physical["ScheduleGroup"]


def test_every_resource_type_of_the_template_is_created() -> None:
    created_by_stack = {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Events::Rule",
    }
    types = {r["Type"] for r in template.transformed()["Resources"].values()}
    done_by_deploy = deploy.BEFORE_STACK | deploy.AFTER_STACK | deploy.CHECKED_AT_DEPLOY
    assert types <= created_by_stack | done_by_deploy


def test_every_mapped_queue_hides_a_message_longer_than_its_function_runs(
    stack: EmulatedStack,
) -> None:
    # AWS refuses an SQS mapping whose queue's visibility timeout is below the function's.
    for mapping in stack.deployment.mappings:
        url = stack.clients("sqs").get_queue_url(QueueName=mapping.queue_arn.rsplit(":", 1)[1])
        attributes = stack.clients("sqs").get_queue_attributes(
            QueueUrl=url["QueueUrl"], AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        function = stack.deployment.function_by_arn(mapping.function_arn)
        assert int(attributes["VisibilityTimeout"]) >= function.timeout, mapping.queue_arn
