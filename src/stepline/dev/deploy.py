"""Deploys the whole of template.yaml onto the emulator, as ``sam deploy`` would into AWS.

The SAM-translated template becomes one CloudFormation stack on the emulator: code artifacts
go to a deployment bucket first (a zip per ``CodeUri``/``ContentUri``), and the emulator's
CloudFormation creates the table, queues, buckets, functions, layer, roles with their
policies, permissions, event source mappings and EventBridge rules. What it cannot create is
created through each service's own API, in the order CloudFormation would:

- before the stack (others refer to them): ``AWS::SecretsManager::Secret`` (value generated as
  ``GenerateSecretString`` asks), ``AWS::Scheduler::ScheduleGroup``, ``AWS::ApiGatewayV2::Api``
  (the API itself); their ``Ref``/``Fn::GetAtt``/``Fn::Sub`` uses are resolved in the template;
- after it (they refer to stack resources): the HTTP API's routes and integrations from its
  OpenAPI body (with each route's authorization type, as API Gateway imports it),
  ``AWS::ApiGatewayV2::Stage``, ``AWS::Lambda::EventInvokeConfig``, ``AWS::SQS::QueuePolicy``
  and ``AWS::CloudWatch::Alarm``; function layers, role managed policies and bucket
  notifications, which the emulator's CloudFormation drops. A function's dead-letter queue
  the emulator cannot hold at all: the :class:`Deployment` carries it.

:func:`deploy` returns the :class:`Deployment` read back from the emulator's APIs — functions
with their configuration, routes, event source mappings, rules — which is all the dev stack
and the tests use: nothing about the stack is described twice.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import string
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepline.dev import template

ClientFactory = Callable[[str], Any]
REGION = "us-east-1"
ACCOUNT = "123456789012"
ARTIFACTS_PLACEHOLDER = "local-checkout"
BEFORE_STACK = frozenset(
    {"AWS::SecretsManager::Secret", "AWS::Scheduler::ScheduleGroup", "AWS::ApiGatewayV2::Api"}
)
AFTER_STACK = frozenset(
    {
        "AWS::ApiGatewayV2::Stage",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::SQS::QueuePolicy",
        "AWS::CloudWatch::Alarm",
    }
)
_SUB = re.compile(r"\$\{([A-Za-z0-9:._]+)\}")


@dataclass(frozen=True)
class Function:
    """A deployed Lambda function, as ``GetFunctionConfiguration`` describes it."""

    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    role: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    layers: tuple[str, ...]
    code_dir: Path
    dead_letter_target: str | None = None
    """``DeadLetterConfig.TargetArn`` as deployed (the emulator's Lambda keeps none)."""


@dataclass(frozen=True)
class Route:
    """A deployed HTTP API route: ``METHOD /path``, its authorization and its function."""

    api_id: str
    method: str
    path: str
    authorization: str
    function_arn: str

    @property
    def route_key(self) -> str:
        """``POST /workflows/v1/execution/start``."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class QueueMapping:
    """A deployed SQS event source mapping."""

    queue_arn: str
    function_arn: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class Rule:
    """A deployed EventBridge rule on the default bus and its Lambda targets."""

    name: str
    arn: str
    pattern: dict[str, Any]
    targets: tuple[str, ...]
    schedule: str | None = None
    """``rate(…)`` or ``cron(…)`` of a scheduled rule (which has no pattern)."""


@dataclass
class Deployment:
    """What was deployed, read back from the emulator."""

    stack_name: str
    physical: dict[str, str]
    outputs: dict[str, str]
    functions: dict[str, Function]
    routes: list[Route]
    apis: dict[str, str]
    mappings: list[QueueMapping]
    rules: list[Rule]
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def api_id(self) -> str:
        """The id of the main HTTP API (every call, IAM-authorised)."""
        return self.apis["HttpApi"]

    @property
    def public_api_id(self) -> str:
        """The id of the public start-by-link API."""
        return self.apis["PublicApi"]

    def function_by_arn(self, arn: str) -> Function:
        """The function with this ARN (qualifier ignored)."""
        base = ":".join(arn.split(":")[:7])
        return next(f for f in self.functions.values() if f.arn == base)

    def queue_url(self, logical_id: str) -> str:
        """A queue's URL by its logical id."""
        return self.physical[logical_id]


# --- intrinsic functions ----------------------------------------------------------------


@dataclass
class _Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::If and friends against known values."""

    refs: dict[str, Any]
    attributes: dict[str, Any]
    conditions: dict[str, bool] = field(default_factory=dict)

    def sub(self, text: str, extra: dict[str, Any] | None = None) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if extra and name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.attributes[name])
            return str(self.refs[name])

        return _SUB.sub(one, text)

    def resolve(self, value: Any) -> Any:  # noqa: C901 - one branch per intrinsic function
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self.refs[arg]
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return self.attributes[name]
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], self.resolve(arg[1]))
                return self.sub(arg)
            if key == "Fn::If":
                return self.resolve(arg[1] if self.conditions[arg[0]] else arg[2])
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in arg)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in arg)
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(str(arg[0]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(arg[0])]
            if key == "Condition":
                return self.conditions[arg]
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


class _NoValue:
    pass


_NO_VALUE = _NoValue()


class DeployRefused(ValueError):
    """CloudFormation would refuse this deployment (a parameter or a condition says so)."""


def _parameters(cfn: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    """Parameter values, checked against their AllowedPattern and AllowedValues as
    CloudFormation checks them before it creates anything."""
    values = {}
    for name, spec in cfn.get("Parameters", {}).items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            continue
        pattern, allowed = spec.get("AllowedPattern"), spec.get("AllowedValues")
        if (pattern and not re.fullmatch(pattern, values[name])) or (
            allowed and values[name] not in [str(v) for v in allowed]
        ):
            hint = spec.get("ConstraintDescription") or pattern or allowed
            raise DeployRefused(f"parameter {name}={values[name]!r}: must be {hint}")
    return values


CHECKED_AT_DEPLOY = frozenset(
    {"AWS::CloudFormation::WaitCondition", "AWS::CloudFormation::WaitConditionHandle"}
)


def _refusals(cfn: dict[str, Any], resolver: _Resolver) -> None:
    """What the template makes fail on purpose: a wait condition nobody signals (made only
    under a condition) times out, and the stack rolls back. Refused here at once, with the
    message of the output that names the same condition; wait conditions are left out of the
    stack otherwise (nothing here signals them)."""
    for logical in [n for n, r in cfn["Resources"].items() if r["Type"] in CHECKED_AT_DEPLOY]:
        resource = cfn["Resources"].pop(logical)
        condition = resource.get("Condition")
        if resource["Type"] != "AWS::CloudFormation::WaitCondition":
            continue
        if condition is None or resolver.conditions[condition]:
            raise DeployRefused(_refusal_message(cfn, resolver, logical, condition))


def _refusal_message(
    cfn: dict[str, Any], resolver: _Resolver, logical: str, condition: str | None
) -> str:
    for output in cfn.get("Outputs", {}).values():
        value = output.get("Value")
        if isinstance(value, dict) and value.get("Fn::If", [None])[0] == condition:
            return f"{logical}: {resolver.resolve(value)}"
    return f"{logical}: the condition {condition} holds"


def _pseudo(stack_name: str) -> dict[str, str]:
    return {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
    }


# --- the phases -------------------------------------------------------------------------


def _upload_artifacts(cfn: dict[str, Any], clients: ClientFactory, bucket: str) -> None:
    """Zip each code folder into the deployment bucket and point the template at it."""
    s3 = clients("s3")
    s3.create_bucket(Bucket=bucket)
    root = template.project_root()
    for resource in cfn["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("Code", "Content"):
            location = props.get(key)
            if isinstance(location, dict) and location.get("S3Bucket") == ARTIFACTS_PLACEHOLDER:
                folder = str(location["S3Key"])
                s3.put_object(Bucket=bucket, Key=folder, Body=_zip(root / folder, key))
                props[key] = {"S3Bucket": bucket, "S3Key": folder}


def _zip(folder: Path, kind: str) -> bytes:
    """A function's code folder as a zip; a layer's as its file list (the checkout runs it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if kind == "Code":
            for path in sorted(folder.rglob("*.py")):
                archive.write(path, path.relative_to(folder).as_posix())
        else:
            listing = "\n".join(p.relative_to(folder).as_posix() for p in folder.rglob("*.py"))
            archive.writestr("python/MANIFEST", listing)
    return buffer.getvalue()


def _generated_secret(props: dict[str, Any]) -> str:
    generate = props.get("GenerateSecretString") or {}
    alphabet = string.ascii_letters + string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    length = int(generate.get("PasswordLength", 32))
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _suffix() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))


def _create_before(
    logical: str, resource: dict[str, Any], clients: ClientFactory, stack: str
) -> tuple[str, dict[str, str]]:
    """Create a resource the stack refers to; returns its Ref value and attributes."""
    kind, props = resource["Type"], resource.get("Properties", {})
    name = f"{stack}-{logical}-{_suffix()}"
    if kind == "AWS::SecretsManager::Secret":
        reply = clients("secretsmanager").create_secret(
            Name=name,
            SecretString=_generated_secret(props),
            Description=props.get("Description", ""),
        )
        return str(reply["ARN"]), {"Id": str(reply["ARN"])}
    if kind == "AWS::Scheduler::ScheduleGroup":
        reply = clients("scheduler").create_schedule_group(Name=name)
        return name, {"Arn": str(reply["ScheduleGroupArn"])}
    reply = clients("apigatewayv2").create_api(Name=stack, ProtocolType="HTTP")
    return str(reply["ApiId"]), {"ApiEndpoint": str(reply["ApiEndpoint"])}


def _attributes(clients: ClientFactory, kind: str, physical: str) -> dict[str, str]:
    """The ``Fn::GetAtt`` attributes the template uses, for a created resource."""
    if kind == "AWS::Lambda::Function":
        return {
            "Arn": str(
                clients("lambda").get_function(FunctionName=physical)["Configuration"][
                    "FunctionArn"
                ]
            )
        }
    if kind == "AWS::SQS::Queue":
        attrs = clients("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
        arn = str(attrs["Attributes"]["QueueArn"])
        return {"Arn": arn, "QueueName": arn.rsplit(":", 1)[1], "QueueUrl": physical}
    if kind == "AWS::IAM::Role":
        return {"Arn": str(clients("iam").get_role(RoleName=physical)["Role"]["Arn"])}
    if kind == "AWS::DynamoDB::Table":
        return {
            "Arn": str(clients("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"])
        }
    if kind == "AWS::S3::Bucket":
        return {"Arn": f"arn:aws:s3:::{physical}"}
    return {}


def _create_after(
    logical: str, resource: dict[str, Any], clients: ClientFactory, resolver: _Resolver
) -> None:
    """Create a resource that refers to stack resources, its intrinsics resolved."""
    kind = resource["Type"]
    if "Condition" in resource and not resolver.conditions[resource["Condition"]]:
        return
    props = resolver.resolve(resource.get("Properties", {}))
    if kind == "AWS::ApiGatewayV2::Stage":
        clients("apigatewayv2").create_stage(
            ApiId=props["ApiId"],
            StageName=props["StageName"],
            AutoDeploy=bool(props.get("AutoDeploy")),
        )
    elif kind == "AWS::Lambda::EventInvokeConfig":
        clients("lambda").put_function_event_invoke_config(
            FunctionName=props["FunctionName"],
            Qualifier=props.get("Qualifier", "$LATEST"),
            MaximumRetryAttempts=int(props["MaximumRetryAttempts"]),
            MaximumEventAgeInSeconds=int(props["MaximumEventAgeInSeconds"]),
            DestinationConfig=props.get("DestinationConfig", {}),
        )
    elif kind == "AWS::SQS::QueuePolicy":
        for url in props["Queues"]:
            clients("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
    elif kind == "AWS::CloudWatch::Alarm":
        alarm = {k: v for k, v in props.items() if k != "Threshold"}
        clients("cloudwatch").put_metric_alarm(
            AlarmName=f"{resolver.refs['AWS::StackName']}-{logical}",
            Threshold=float(props["Threshold"]),
            **{
                k: (int(v) if k in ("Period", "EvaluationPeriods") else v) for k, v in alarm.items()
            },
        )


def _import_routes(body: dict[str, Any], api_id: str, clients: ClientFactory) -> None:
    """Routes and integrations from the API's OpenAPI body, as API Gateway imports them."""
    gateway = clients("apigatewayv2")
    for path, methods in body.get("paths", {}).items():
        for method, operation in methods.items():
            integration = operation["x-amazon-apigateway-integration"]
            function_arn = str(integration["uri"]).split("/functions/", 1)[1].rsplit("/", 1)[0]
            created = gateway.create_integration(
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=function_arn,
                PayloadFormatVersion=str(integration.get("payloadFormatVersion", "2.0")),
            )
            iam_auth = any("AWS_IAM" in scheme for scheme in operation.get("security", []))
            gateway.create_route(
                ApiId=api_id,
                RouteKey=f"{method.upper()} {path}",
                AuthorizationType="AWS_IAM" if iam_auth else "NONE",
                Target=f"integrations/{created['IntegrationId']}",
            )


def deploy_template(
    clients: ClientFactory,
    stack_name: str = "dev",
    parameters: dict[str, str] | None = None,
) -> Deployment:
    """Create the whole stack of template.yaml on the emulator; returns what was deployed."""
    import copy

    cfn = copy.deepcopy(template.transformed())
    values = _parameters(cfn, parameters or {})
    resolver = _Resolver(refs=_pseudo(stack_name) | values, attributes={})
    for name, condition in cfn.get("Conditions", {}).items():  # in order: one may name another
        resolver.conditions[name] = bool(resolver.resolve(condition))
    _refusals(cfn, resolver)
    _upload_artifacts(cfn, clients, f"{stack_name.lower()}-deployment-artifacts")
    kinds = {logical: r["Type"] for logical, r in cfn["Resources"].items()}
    physical: dict[str, str] = {}
    for logical in [name for name, kind in kinds.items() if kind in BEFORE_STACK]:
        ref, attributes = _create_before(logical, cfn["Resources"][logical], clients, stack_name)
        _record(resolver, physical, logical, ref, attributes)
    early = {n: cfn["Resources"].pop(n) for n in kinds if kinds[n] in BEFORE_STACK | AFTER_STACK}
    stack_body = _Substituted(resolver, set(physical)).apply(cfn)
    _create_stack(clients, stack_name, stack_body, values)
    _read_created(clients, stack_name, stack_body["Resources"], kinds, resolver, physical)

    for api in (n for n, k in kinds.items() if k == "AWS::ApiGatewayV2::Api"):
        _import_routes(resolver.resolve(early[api]["Properties"]["Body"]), physical[api], clients)
    for logical, resource in early.items():
        if kinds[logical] in AFTER_STACK:
            _create_after(logical, resource, clients, resolver)
    dead_letters = _complete_functions(stack_body, physical, clients, resolver)
    _attach_managed_policies(stack_body, physical, clients)
    _apply_bucket_notifications(stack_body, physical, clients)
    return read_back(clients, stack_name, physical, values, dead_letters)


def _record(
    resolver: _Resolver,
    physical: dict[str, str],
    logical: str,
    ref: str,
    attributes: dict[str, str],
) -> None:
    """Note a created resource's physical id, ``Ref`` value and attributes."""
    physical[logical] = resolver.refs[logical] = ref
    resolver.attributes |= {f"{logical}.{k}": v for k, v in attributes.items()}


def _create_stack(
    clients: ClientFactory, stack_name: str, body: dict[str, Any], values: dict[str, str]
) -> None:
    """Create the CloudFormation stack (dependencies on resources made outside it dropped).

    An environment variable referring to a Number parameter is written as its text: Lambda
    holds every variable as a string (CloudFormation converts it), and the emulator would keep
    the number it parsed.
    """
    parameters = set(body.get("Parameters", {}))
    for resource in body["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            if isinstance(value, dict) and value.get("Ref") in parameters:
                variables[name] = {"Fn::Sub": "${" + value["Ref"] + "}"}
        if "DependsOn" in resource:
            needs = resource["DependsOn"]
            needs = [needs] if isinstance(needs, str) else needs
            resource["DependsOn"] = [n for n in needs if n in body["Resources"]]
    clients("cloudformation").create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )


def _read_created(
    clients: ClientFactory,
    stack_name: str,
    resources: dict[str, Any],
    kinds: dict[str, str],
    resolver: _Resolver,
    physical: dict[str, str],
) -> None:
    """Physical ids and attributes of what the stack created; fails if anything is missing."""
    described = clients("cloudformation").describe_stack_resources(StackName=stack_name)
    for item in described["StackResources"]:
        logical, created = item.get("LogicalResourceId"), item.get("PhysicalResourceId")
        if created and logical in resources:
            extra = _attributes(clients, kinds[logical], created)
            _record(resolver, physical, logical, created, extra)
    layers = [n for n, k in kinds.items() if k == "AWS::Lambda::LayerVersion"]
    for layer in clients("lambda").list_layers()["Layers"]:
        # The emulator reports no physical id for a layer version: find it by its name.
        for logical in layers:
            if layer["LayerName"].startswith(f"{stack_name}-{logical}-"):
                arn = layer["LatestMatchingVersion"]["LayerVersionArn"]
                _record(resolver, physical, logical, arn, {})
    missing = sorted(set(resources) - set(physical) - _no_physical_id(resources))
    if missing:
        raise RuntimeError(f"the emulator did not create {missing}")


def _no_physical_id(resources: dict[str, Any]) -> set[str]:
    """Resources CloudFormation reports without a physical id of their own."""
    return {n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Permission"}


@dataclass
class _Substituted:
    """The template with the resources created before the stack written in as literals."""

    resolver: _Resolver
    created: set[str]

    def apply(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and arg in self.created:
                return self.resolver.refs[arg]
            if key == "Fn::GetAtt":
                name = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
                if name in self.created:
                    return self.resolver.resolve(value)
            if key == "Fn::Sub" and isinstance(arg, str):
                return {"Fn::Sub": self._sub(arg)}
        return {k: self.apply(v) for k, v in value.items()}

    def _sub(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.split(".")[0] in self.created:
                key = name if "." in name else None
                return str(self.resolver.attributes[key] if key else self.resolver.refs[name])
            return match.group(0)

        return _SUB.sub(one, text)


def _complete_functions(
    cfn: dict[str, Any], physical: dict[str, str], clients: ClientFactory, resolver: _Resolver
) -> dict[str, str]:
    """Give functions the layers the template lists (the emulator's CloudFormation drops
    them); returns their dead-letter targets, which the emulator cannot hold at all."""
    lam = clients("lambda")
    dead_letters = {}
    for logical, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        layers = resolver.resolve(props.get("Layers", []))
        if layers:
            lam.update_function_configuration(FunctionName=physical[logical], Layers=layers)
        target = resolver.resolve(props.get("DeadLetterConfig", {})).get("TargetArn")
        if target:
            dead_letters[logical] = str(target)
    return dead_letters


def _attach_managed_policies(
    cfn: dict[str, Any], physical: dict[str, str], clients: ClientFactory
) -> None:
    """Attach each role's ``ManagedPolicyArns`` (the emulator's CloudFormation ignores them)."""
    iam = clients("iam")
    for logical, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for arn in resource["Properties"].get("ManagedPolicyArns", []):
                iam.attach_role_policy(RoleName=physical[logical], PolicyArn=arn)


def _apply_bucket_notifications(
    cfn: dict[str, Any], physical: dict[str, str], clients: ClientFactory
) -> None:
    """Turn on the buckets' EventBridge notifications (the emulator's CloudFormation does not)."""
    s3 = clients("s3")
    for logical, resource in cfn["Resources"].items():
        notifications = resource.get("Properties", {}).get("NotificationConfiguration") or {}
        if resource["Type"] == "AWS::S3::Bucket" and "EventBridgeConfiguration" in notifications:
            s3.put_bucket_notification_configuration(
                Bucket=physical[logical],
                NotificationConfiguration={"EventBridgeConfiguration": {}},
            )


def read_back(
    clients: ClientFactory,
    stack_name: str,
    physical: dict[str, str],
    parameters: dict[str, str],
    dead_letters: dict[str, str] | None = None,
) -> Deployment:
    """The deployment as the emulator's APIs describe it."""
    loaded = template.load()["Resources"]
    root = template.project_root()
    lam = clients("lambda")
    functions = {}
    for logical, name in physical.items():
        if loaded.get(logical, {}).get("Type") != "AWS::Serverless::Function":
            continue
        config = lam.get_function_configuration(FunctionName=name)
        variables = (config.get("Environment") or {}).get("Variables") or {}
        functions[logical] = Function(
            logical_id=logical,
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            handler=config["Handler"],
            runtime=config["Runtime"],
            role=config["Role"],
            timeout=int(config["Timeout"]),
            memory_mb=int(config["MemorySize"]),
            environment={k: str(v) for k, v in variables.items()},
            layers=tuple(layer["Arn"] for layer in config.get("Layers", [])),
            code_dir=root / str(loaded[logical]["Properties"]["CodeUri"]),
            dead_letter_target=(dead_letters or {}).get(logical),
        )
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in clients("cloudformation")
        .describe_stacks(StackName=stack_name)["Stacks"][0]
        .get("Outputs", [])
    }
    apis = {
        k: v
        for k, v in physical.items()
        if loaded.get(k, {}).get("Type") == "AWS::Serverless::HttpApi"
    }
    return Deployment(
        stack_name=stack_name,
        physical=physical,
        outputs=outputs,
        functions=functions,
        routes=[route for api_id in apis.values() for route in _routes(clients, api_id)],
        apis=apis,
        mappings=_mappings(lam),
        rules=_rules(clients("events")),
        parameters=parameters,
    )


def _routes(clients: ClientFactory, api_id: str) -> list[Route]:
    gateway = clients("apigatewayv2")
    integrations = {i["IntegrationId"]: i for i in gateway.get_integrations(ApiId=api_id)["Items"]}
    routes = []
    for item in gateway.get_routes(ApiId=api_id)["Items"]:
        method, path = item["RouteKey"].split(" ", 1)
        integration = integrations[item["Target"].split("/", 1)[1]]
        authorization = item.get("AuthorizationType", "NONE")
        routes.append(Route(api_id, method, path, authorization, integration["IntegrationUri"]))
    return routes


def _mappings(lam: Any) -> list[QueueMapping]:
    found = []
    for item in lam.list_event_source_mappings()["EventSourceMappings"]:
        if ":sqs:" not in item.get("EventSourceArn", ""):
            continue
        found.append(
            QueueMapping(
                queue_arn=item["EventSourceArn"],
                function_arn=item["FunctionArn"],
                batch_size=int(item.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in item.get("FunctionResponseTypes", []),
                enabled=item.get("State", "Enabled") == "Enabled",
            )
        )
    return found


def _rules(events: Any) -> list[Rule]:
    found = []
    for item in events.list_rules()["Rules"]:
        targets = events.list_targets_by_rule(Rule=item["Name"])["Targets"]
        found.append(
            Rule(
                name=item["Name"],
                arn=item["Arn"],
                pattern=json.loads(item.get("EventPattern") or "{}"),
                targets=tuple(t["Arn"] for t in targets if ":lambda:" in t["Arn"]),
                schedule=item.get("ScheduleExpression") or None,
            )
        )
    return found
