"""The deployed stack's Lambda functions, each run as Lambda runs it.

Every function has a :class:`~stepline.dev.sandbox.Sandbox` of its own: its processes see
exactly the environment of its deployed configuration and sign with its execution role's
session credentials (``sts:AssumeRole``, allowed only when the role trusts
``lambda.amazonaws.com``). A changed configuration (``UpdateFunctionConfiguration``) reaches
new instances, as in Lambda.

Invocations follow Lambda's semantics: ``RequestResponse`` answers the payload (a function
error marked as ``X-Amz-Function-Error`` would mark it); ``Event`` is accepted at once and run
in the background, retried as the function's ``EventInvokeConfig`` says (two retries by
default), then recorded on its on-failure destination or dead-letter queue — sent with the
function's own role, as Lambda does, so a missing permission there shows too.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stepline.dev import iam
from stepline.dev.deploy import Deployment, Function
from stepline.dev.sandbox import FunctionConfig, Invocation, Sandbox

ClientFactory = Callable[..., Any]
DEFAULT_ASYNC_RETRIES = 2
ASYNC_RETRY_DELAYS = (60.0, 120.0)  # Lambda waits about a minute, then two


@dataclass
class _Deployed:
    function: Function
    revision: str
    sandbox: Sandbox


@dataclass
class StackFunctions:
    """Sandboxes for every function of a deployment, created on first use."""

    deployment: Deployment
    clients: ClientFactory
    passthrough: Mapping[str, str] = field(default_factory=dict)
    log: Callable[[str, str], None] | None = None
    time_scale: float = 1.0
    max_instances: int = 10
    _deployed: dict[str, _Deployed] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: threading.Event = field(default_factory=threading.Event)

    def find(self, name_or_arn: str) -> Function | None:
        """The stack's function with this name, ARN or partial ARN, if it is one."""
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        return next((f for f in self.deployment.functions.values() if f.name == name), None)

    def role_credentials(
        self,
        role_arn: str,
        session: str,
        service: str,
        context: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Session credentials of a role, for a service its trust policy names.

        ``context`` holds the condition keys the service sends (``aws:SourceAccount``...).
        """
        iam_client = self.clients("iam")
        role = iam_client.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
        trust = role["AssumeRolePolicyDocument"]
        request = iam.Request("sts:AssumeRole", role_arn, principal=service, context=context or {})
        if iam.evaluate_resource_policy(trust, request) is not iam.Decision.ALLOW:
            raise PermissionError(f"{role_arn} does not trust {service}")
        reply = self.clients("sts").assume_role(RoleArn=role_arn, RoleSessionName=session[:64])
        credentials = reply["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def _config(self, function: Function, current: dict[str, Any]) -> FunctionConfig:
        variables = (current.get("Environment") or {}).get("Variables") or {}
        return FunctionConfig(
            name=function.name,
            arn=function.arn,
            handler=str(current["Handler"]),
            code_dir=function.code_dir,
            environment={k: str(v) for k, v in variables.items()},
            timeout=float(current["Timeout"]),
            memory_mb=int(current["MemorySize"]),
        )

    def _sandbox(self, function: Function) -> Sandbox:
        current = self.clients("lambda").get_function_configuration(FunctionName=function.name)
        revision = _revision(current)
        with self._lock:
            deployed = self._deployed.get(function.name)
            if deployed is None:
                role = str(current["Role"])

                def credentials() -> dict[str, str]:
                    return self.role_credentials(role, function.name, "lambda.amazonaws.com")

                sandbox = Sandbox(
                    self._config(function, current),
                    credentials,
                    max_instances=self.max_instances,
                    log=self.log,
                    passthrough=dict(self.passthrough),
                )
                deployed = self._deployed[function.name] = _Deployed(function, revision, sandbox)
            elif deployed.revision != revision:
                deployed.sandbox.update(self._config(function, current))
                deployed.revision = revision
            return deployed.sandbox

    def invoke(self, function: Function, payload: bytes) -> Invocation:
        """A synchronous (RequestResponse) invocation."""
        return self._sandbox(function).invoke(payload)

    def invoke_async(self, function: Function, payload: bytes) -> str:
        """An asynchronous (Event) invocation: accepted now, run in the background."""
        request_id = str(uuid.uuid4())
        threading.Thread(
            target=self._run_async, args=(function, payload, request_id), daemon=True
        ).start()
        return request_id

    def _run_async(self, function: Function, payload: bytes, request_id: str) -> None:
        try:
            self._run_async_attempts(function, payload, request_id)
        except Exception as exc:  # the stack closing under it, or the emulator gone
            if not self._closed.is_set() and self.log is not None:
                self.log(function.name, f"[ERROR] asynchronous invocation {request_id}: {exc}")

    def _run_async_attempts(self, function: Function, payload: bytes, request_id: str) -> None:
        config = self._invoke_config(function)
        retries = int(config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES))
        result = None
        for attempt in range(retries + 1):
            if attempt:
                delay = ASYNC_RETRY_DELAYS[min(attempt - 1, len(ASYNC_RETRY_DELAYS) - 1)]
                if self._closed.wait(delay * self.time_scale):  # Lambda's retry delay, scaled
                    return
            try:
                result = self.invoke(function, payload)
            except Exception as exc:  # the sandbox could not run it at all
                result = Invocation(
                    payload=json.dumps({"errorMessage": str(exc)}).encode(),
                    function_error="Unhandled",
                    request_id=request_id,
                    duration_ms=0.0,
                )
            if result.function_error is None:
                return
        if result is not None:
            self._on_failure(function, config, payload, result, attempts=retries + 1)

    def _invoke_config(self, function: Function) -> dict[str, Any]:
        try:
            reply = self.clients("lambda").get_function_event_invoke_config(
                FunctionName=function.name
            )
        except Exception:  # no EventInvokeConfig: Lambda's defaults
            return {}
        return dict(reply)

    def _on_failure(
        self,
        function: Function,
        config: dict[str, Any],
        payload: bytes,
        result: Invocation,
        attempts: int,
    ) -> None:
        """Send a failed asynchronous invocation where the function's configuration says."""
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        current = self.clients("lambda").get_function_configuration(FunctionName=function.name)
        target = destination or function.dead_letter_target
        if not target or ":sqs:" not in str(target):
            return
        if destination:
            body = json.dumps(_destination_record(function, payload, result, attempts))
        else:
            body = payload.decode()
        credentials = self.role_credentials(
            str(current["Role"]), function.name, "lambda.amazonaws.com"
        )
        sqs = self.clients(
            "sqs",
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
        )
        name = str(target).rsplit(":", 1)[1]  # Lambda sends by ARN: only SendMessage is the role's
        url = self.clients("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def close(self) -> None:
        """Stop every sandbox."""
        self._closed.set()
        with self._lock:
            for deployed in self._deployed.values():
                deployed.sandbox.close()
            self._deployed.clear()


def _revision(config: Mapping[str, Any]) -> str:
    """What identifies a configuration (the emulator keeps no RevisionId of its own)."""
    fields = ("Handler", "Role", "Timeout", "MemorySize", "Environment", "Layers")
    return json.dumps({k: config.get(k) for k in fields}, sort_keys=True, default=str)


def _destination_record(
    function: Function, payload: bytes, result: Invocation, attempts: int
) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination."""
    try:
        response: Any = json.loads(result.payload or b"null")
    except ValueError:
        response = result.payload.decode("utf-8", "replace")
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "requestContext": {
            "requestId": result.request_id,
            "functionArn": f"{function.arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": json.loads(payload or b"null"),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": result.function_error,
        },
        "responsePayload": response,
    }
