"""IAM on the emulator: every request is authenticated and authorised as AWS would do it.

moto knows the principals (IAM users' access keys, assumed-role sessions) and their
policies, but checks a request's action only, never its resource. :func:`install` puts this
module in front of its request authorisation: the signature is verified by
:mod:`stepline.dev.sigv4` (moto's own check mis-signs REST calls with a query string; S3's,
with its chunked and unsigned payloads, stays moto's), the access key is resolved to its
principal, and the checks AWS makes — action, resource ARN and condition context, several
for a transaction — are evaluated with :mod:`stepline.dev.iam`; a role session assumed with a
session policy (``AssumeRole``'s ``Policy``) must be allowed by it too, and ``AssumeRole`` by
the role's trust policy (``sts:RoleSessionName`` in its context). A denied check answers the
error AWS answers (``AccessDeniedException`` for JSON services, ``AccessDenied`` for S3 and
the query protocol).

The emulated account's own key (:data:`ROOT_ACCESS_KEY`) is the account root: allowed
everything, as the root user is in AWS. Tools, tests and the dev stack's own set-up use it;
function code never sees it (each function signs with its role's session credentials).

Every evaluated check lands in :data:`CALLS`, so tests can compare what each role used with
what its policy grants.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

from stepline.dev import iam, sigv4

ROOT_ACCESS_KEY = "stepline-dev"
ROOT_SECRET_KEY = "stepline-dev"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Check:
    """One authorisation AWS makes for a request."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """An evaluated check: who asked, for what, and the answer."""

    principal: str
    action: str
    resource: str
    allowed: bool
    context: Mapping[str, str] = field(default_factory=dict)

    @property
    def role(self) -> str | None:
        """The role name of an assumed-role principal (``…:assumed-role/<role>/<session>``)."""
        parts = self.principal.split(":assumed-role/", 1)
        return parts[1].split("/", 1)[0] if len(parts) == 2 else None


class CallLog:
    """Evaluated checks, in order; thread-safe."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        """Record one check."""
        with self._lock:
            self._calls.append(call)

    def snapshot(self) -> list[Call]:
        """Everything recorded so far."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self._calls.clear()


CALLS = CallLog()


@dataclass
class _State:
    enforcing: int = 0
    installed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATE = _State()


# --- which checks a request needs -------------------------------------------------------


def _arn(service: str, region: str, resource: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _dynamodb(action: str, body: Mapping[str, Any], region: str) -> list[Check]:
    def table(name: str, index: str | None = None) -> str:
        arn = _arn("dynamodb", region, f"table/{name}")
        return f"{arn}/index/{index}" if index else arn

    if action == "TransactWriteItems":
        names = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
        names["ConditionCheck"] = "ConditionCheckItem"
        return [
            Check(f"dynamodb:{names[kind]}", table(op["TableName"]))
            for item in body.get("TransactItems", [])
            for kind, op in item.items()
        ]
    if action == "TransactGetItems":
        items = body.get("TransactItems", [])
        return [Check("dynamodb:GetItem", table(i["Get"]["TableName"])) for i in items]
    if action in ("BatchGetItem", "BatchWriteItem"):
        return [Check(f"dynamodb:{action}", table(n)) for n in body.get("RequestItems", {})]
    if "TableName" in body:
        return [Check(f"dynamodb:{action}", table(body["TableName"], body.get("IndexName")))]
    return [Check(f"dynamodb:{action}", "*")]


def _lambda_name(name: str, region: str) -> str:
    """A function's ARN from a name, partial ARN or ARN (qualifier dropped)."""
    if name.startswith("arn:"):
        return ":".join(name.split(":")[:7])
    parts = name.split(":")
    if len(parts) >= 3:  # 123456789012:function:name
        return _arn("lambda", region, f"function:{parts[2]}", parts[0])
    return _arn("lambda", region, f"function:{parts[0]}")


def lambda_checks(action: str, path: str, region: str) -> list[Check]:
    """The checks of a Lambda API call on ``/2015-03-31/functions/<name>/...``."""
    parts = [unquote(p) for p in path.split("/") if p]
    if len(parts) >= 3 and parts[1] == "functions":
        return [Check(f"lambda:{action}", _lambda_name(parts[2], region))]
    return [Check(f"lambda:{action}", "*")]


def _secret_arn(secret_id: str, region: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    found = secretsmanager_backends[ACCOUNT][region].secrets.get(secret_id)
    return found.arn if found is not None else _arn("secretsmanager", region, f"secret:{secret_id}")


def _scheduler(
    action: str, path: str, query: Mapping[str, list[str]], body: Any, region: str
) -> list[Check]:
    parts = [unquote(p) for p in path.split("/") if p]
    checks: list[Check] = []
    if len(parts) == 2 and parts[0] == "schedules":
        group = (body or {}).get("GroupName") or query.get("groupName", ["default"])[0]
        checks.append(
            Check(f"scheduler:{action}", _arn("scheduler", region, f"schedule/{group}/{parts[1]}"))
        )
        role = ((body or {}).get("Target") or {}).get("RoleArn")
        if role and action in ("CreateSchedule", "UpdateSchedule"):
            # Scheduler assumes the target's role: the caller must be allowed to pass it.
            passed = {"iam:PassedToService": "scheduler.amazonaws.com"}
            checks.append(Check("iam:PassRole", role, passed))
    elif len(parts) == 2 and parts[0] == "schedule-groups":
        checks.append(
            Check(f"scheduler:{action}", _arn("scheduler", region, f"schedule-group/{parts[1]}"))
        )
    return checks or [Check(f"scheduler:{action}", "*")]


def _ses(action: str, body: Mapping[str, Any], region: str) -> list[Check]:
    sender = str(body.get("FromEmailAddress") or "")
    if action != "SendEmail" or "@" not in sender:
        return [Check(f"ses:{action}", "*")]
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    from moto.ses.models import ses_backends

    verified = set(ses_backends[ACCOUNT][region].email_identities)
    identity = address if address in verified else address.split("@", 1)[1]
    return [Check("ses:SendEmail", _arn("ses", region, f"identity/{identity}"))]


def _json_body(response: Any) -> dict[str, Any]:
    """The request's JSON body (empty for other protocols)."""
    body = getattr(response, "raw_body", None) or getattr(response, "body", None)
    if isinstance(body, dict):
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


# SQS authorises a batch call as the single-message action it repeats.
_SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def checks_for(service: str, action: str, response: Any, moto_resource: str) -> list[Check]:
    """The checks AWS makes for one request that moto is about to serve."""
    if service == "sqs":
        action = _SQS_BATCHES.get(action, action)
    region = str(getattr(response, "region", "us-east-1"))
    url = urlsplit(str(getattr(response, "uri", "")))
    body = _json_body(response)
    if service == "dynamodb":
        return _dynamodb(action, body, region)
    if service == "lambda":
        return lambda_checks(action, url.path, region)
    if service == "scheduler":
        return _scheduler(action, url.path, parse_qs(url.query), body, region)
    if service == "ses":
        return _ses(action, body, region)
    if service == "secretsmanager" and "SecretId" in body:
        return [Check(f"secretsmanager:{action}", _secret_arn(str(body["SecretId"]), region))]
    if service in ("sts", "kinesis", "logs"):
        return _by_name(service, action, response, body, region, moto_resource)
    if service == "sqs" and moto_resource == "*" and "QueueName" in body:
        return [Check(f"sqs:{action}", _arn("sqs", region, str(body["QueueName"])))]
    if service == "events" and action == "PutEvents":
        buses = {str(e.get("EventBusName") or "default") for e in body.get("Entries", [])}
        return [Check("events:PutEvents", _arn("events", region, f"event-bus/{b}")) for b in buses]
    return [Check(f"{service}:{action}", moto_resource)]


def _log_arn(body: Mapping[str, Any], region: str) -> str:
    """A log group's ARN, or its stream's when the request names one (PutLogEvents,
    CreateLogStream)."""
    arn = _arn("logs", region, f"log-group:{body['logGroupName']}")
    stream = body.get("logStreamName")
    return f"{arn}:log-stream:{stream}" if stream else arn


def _by_name(
    service: str, action: str, response: Any, body: dict[str, Any], region: str, fallback: str
) -> list[Check]:
    """Requests naming their resource in a parameter: the role to assume, the stream, the
    log group."""
    if service == "logs":
        resource = _log_arn(body, region) if "logGroupName" in body else fallback
        return [Check(f"logs:{action}", resource)]
    if service == "sts":
        params = getattr(response, "querystring", {}) or {}
        role = str((params.get("RoleArn") or [fallback])[0])
        session = params.get("RoleSessionName")
        # The trust policy may name the sessions it admits (sts:RoleSessionName).
        context = {"sts:RoleSessionName": str(session[0])} if session else {}
        return [Check(f"sts:{action}", role, context)]
    stream = body.get("StreamARN") or _arn("kinesis", region, f"stream/{body.get('StreamName')}")
    return [Check(f"kinesis:{action}", str(stream))]


# --- evaluation -----------------------------------------------------------------------


def _documents(policies: list[Any]) -> list[Any]:
    """moto's policy objects (inline tuples, strings, managed Policy objects) as documents."""
    documents = []
    for policy in policies:
        if isinstance(policy, tuple):
            policy = policy[-1]
        if hasattr(policy, "versions"):
            policy = next(v.document for v in policy.versions if v.is_default)
        if isinstance(policy, dict) and "policy_document" in policy:
            policy = policy["policy_document"]
        documents.append(policy)
    return documents


def permits(principal: str, policies: list[Any], check: Check) -> bool:
    """The policies (documents or moto's policy objects) allow the check."""
    request = iam.Request(check.action, check.resource, principal, check.context)
    return iam.evaluate(_documents(policies), request) is iam.Decision.ALLOW


def evaluate(principal: str, policies: list[Any], checks: list[Check]) -> Check | None:
    """The first check the policies do not allow (recorded in :data:`CALLS`), else None."""
    denied = None
    for check in checks:
        allowed = permits(principal, policies, check)
        CALLS.add(Call(principal, check.action, check.resource, allowed, dict(check.context)))
        if not allowed and denied is None:
            denied = check
    return denied


def denial_message(principal: str, check: Check) -> str:
    """The text AWS gives an identity-based denial."""
    return (
        f"User: {principal} is not authorized to perform: {check.action} on resource: "
        f"{check.resource} because no identity-based policy allows the {check.action} action"
    )


def _access_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    marker = "Credential="
    if marker not in auth:
        return None
    return auth.split(marker, 1)[1].split("/", 1)[0]


def _raise_denied(response: Any, service: str, message: str) -> None:
    from moto.core.exceptions import JsonRESTError

    headers = getattr(response, "headers", {}) or {}
    if service == "s3":
        from moto.s3.exceptions import S3AccessDeniedError

        raise S3AccessDeniedError()
    if headers.get("X-Amz-Target") or service in ("lambda", "scheduler", "ses", "apigateway"):
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 400 if headers.get("X-Amz-Target") else 403
        raise error
    raise _QueryDenied(message)


def _query_denied() -> type[Exception]:
    from moto.core.exceptions import AccessDeniedError

    class QueryDenied(AccessDeniedError):
        """AccessDenied in the query protocol's XML, with AWS's full message."""

        def __init__(self, message: str) -> None:
            super(AccessDeniedError, self).__init__("AccessDenied", message)

    return QueryDenied


def _QueryDenied(message: str) -> Exception:
    return _query_denied()(message)


def _scope_service(headers: Mapping[str, str]) -> str:
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else ""


def _form_body(form: Any) -> bytes:
    """A query-protocol body (STS) as botocore sent it: the server has parsed it into a form
    already, in order; botocore percent-encodes all but ``-._~``."""
    from urllib.parse import quote, urlencode

    return urlencode(list(form.items(multi=True)), quote_via=quote, safe="-._~").encode()


def _authenticate(self: Any, iam_request_cls: type) -> tuple[str, list[Any], Any]:
    """Check a non-root request's signature; its principal's ARN, policies and session
    policy (None: none)."""
    if _scope_service(self.headers) == "s3":
        # S3's signing (chunked and unsigned payloads) is moto's to check.
        url = urlsplit(self.uri)
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=self.raw_path + (f"?{url.query}" if url.query else ""),
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        request.check_signature()
        key = request._access_key
        session = find_principal(_access_key(self.headers) or "")
        return key.arn, list(key.collect_policies()), session and session.session_policy
    url = urlsplit(self.uri)
    target = self.raw_path + (f"?{url.query}" if url.query else "")
    body = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body or "").encode()
    if not body and getattr(self, "form_data", None):
        body = _form_body(self.form_data)
    try:
        signer = sigv4.verify(
            self.method,
            target,
            dict(self.headers.items()),
            body,
            secret_for=secret_for,
            service=_scope_service(self.headers),
        )
    except sigv4.SignatureError as exc:
        _raise_refused(self, exc.error_type, exc.message)
    principal = find_principal(signer.access_key_id) if signer else None
    if signer is None or principal is None or principal.session_token != signer.session_token:
        _raise_refused(self, "UnrecognizedClientException", sigv4.UNKNOWN_KEY)
    return principal.arn, principal.policies, principal.session_policy


def _raise_refused(response: Any, error_type: str, message: str) -> NoReturn:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(error_type, message)
    error.code = 403
    raise error


def _authorize(original: Callable[..., None]) -> Callable[..., None]:
    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if not _STATE.enforcing:
            original(self, iam_request_cls, resource)
            return
        key = _access_key(self.headers)
        if key == ROOT_ACCESS_KEY:
            return
        if key is None:
            _raise_denied(self, "", "the request is not signed")
        principal, policies, session_policy = _authenticate(self, iam_request_cls)
        action = self._get_action()
        service = _scope_service(self.headers)
        if f"{service}:{action}" == "sts:GetCallerIdentity":
            return
        checks = checks_for(service, action, self, resource)
        denied = evaluate(principal, policies, checks)
        if denied is None and session_policy is not None:
            # A session policy narrows the role's: both must allow (AWS's intersection).
            denied = next((c for c in checks if not permits(principal, [session_policy], c)), None)
        if denied is not None:
            _raise_denied(self, service, denial_message(principal, denied))
        if f"{service}:{action}" == "sts:AssumeRole" and not _trusted(principal, checks[0]):
            _raise_denied(self, service, denial_message(principal, checks[0]))

    return authorize


def install() -> None:
    """Put resource-level evaluation in front of moto's request authentication (once)."""
    with _STATE.lock:
        if _STATE.installed:
            return
        from moto.core.authorization import ActionAuthenticatorMixin

        original = ActionAuthenticatorMixin._authenticate_and_authorize_action
        ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorize(original)  # type: ignore[method-assign]
        _STATE.installed = True


def _trusted(principal: str, check: Check) -> bool:
    """Whether the role a session asks to assume trusts the caller (its trust policy)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT]["aws"]
    name = check.resource.rsplit("/", 1)[-1]
    try:
        document = backend.get_role(name).assume_role_policy_document
    except Exception:  # no such role: AWS refuses the same way
        return False
    request = iam.Request("sts:AssumeRole", check.resource, principal, check.context)
    return iam.evaluate_resource_policy(document, request) is iam.Decision.ALLOW


def is_enforcing() -> bool:
    """IAM is enforced right now (inside :func:`enforcing`)."""
    return _STATE.enforcing > 0


@contextmanager
def enforcing() -> Iterator[None]:
    """IAM enforced on every emulated request made while the block runs."""
    install()
    with _STATE.lock:
        _STATE.enforcing += 1
    try:
        yield
    finally:
        with _STATE.lock:
            _STATE.enforcing -= 1


@dataclass(frozen=True)
class Principal:
    """Whoever owns an access key the emulator knows."""

    arn: str
    secret_key: str
    session_token: str | None
    policies: list[Any]
    session_policy: Any = None
    """The policy passed to ``AssumeRole`` (``Policy``), which narrows the role's; None: none."""


def find_principal(access_key_id: str) -> Principal | None:
    """The IAM user or role session owning an access key (None: the key is unknown)."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    backend = iam_backends[ACCOUNT]["aws"]
    for session in sts_backends[ACCOUNT]["aws"].assumed_roles:
        if session.access_key_id == access_key_id:
            role = session.role_arn.split("/")[-1]
            policies: list[Any] = [
                backend.get_role_policy(role, name) for name in backend.list_role_policies(role)
            ]
            policies += backend.list_attached_role_policies(role)[0]
            arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session.session_name}"
            return Principal(
                arn,
                session.secret_access_key,
                session.session_token,
                policies,
                session.policy or None,
            )
    for user in backend.list_users("/", None, None):
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                policies = [
                    backend.get_user_policy(user.name, n)
                    for n in backend.list_user_policies(user.name)
                ]
                policies += backend.list_attached_user_policies(user.name)[0]
                return Principal(user.arn, key.secret_access_key, None, policies)
    return None


def secret_for(access_key_id: str) -> str | None:
    """The secret of an access key the emulator knows (the root key, users, role sessions)."""
    if access_key_id == ROOT_ACCESS_KEY:
        return ROOT_SECRET_KEY
    found = find_principal(access_key_id)
    return found.secret_key if found is not None else None
