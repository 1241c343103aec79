"""A workflow's own role: integration clients signed as the role its ``serviceAccountId`` names.

The runner assumes the role with its own credentials (``sts:AssumeRole``, allowed by its policy
only under the stack's path ``/stepline-integrations/<stack name>/``; the role must trust the
runner's role). The invariant this module keeps: credentials handed out are valid for at least
:data:`REFRESH_BEFORE` more — longer than the longest step attempt — so no call made with them
expires midway; they are assumed again before that, and a role that cannot be assumed raises a
:class:`~stepline.yawl.StepFailure` naming the role (its code from the STS error: denied →
``STEP_PERMISSION_DENIED``, throttled → ``STEP_QUOTA_EXCEEDED``), never botocore's error and
never the credentials. A failure is not remembered: the next attempt asks STS again.

The session is named after the workflow (``RoleSessionName``), so a role's trust policy may
admit chosen workflows only (``sts:RoleSessionName``) and CloudTrail shows which workflow
called. A session policy (``Policy``) may narrow what the session may do below the role's
policies: the runner passes one that denies the stack's own resources.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from stepline.integrations import aws_errors
from stepline.yawl.errors import StepFailure, WorkflowErrorCode

SESSION_SECONDS: Final = 3600
"""Lifetime asked of each session: every role allows at least an hour (its maximum session
duration is 1 to 12 h)."""
REFRESH_BEFORE: Final = 20 * 60.0
"""Credentials closer than this to their expiry are assumed again: a step attempt takes at most
15 minutes, so one begun with them never outlives them."""
MAX_ROLES: Final = 256
"""Sessions kept per process (all dropped when full, as the spec cache does)."""
ASSUME_TIMEOUT: Final = 5.0
"""Seconds STS may take to answer an AssumeRole."""


@dataclass(frozen=True)
class Keys:
    """Temporary credentials of one role session."""

    access_key: str
    secret_key: str
    token: str
    expires: float
    """Epoch seconds."""

    def __repr__(self) -> str:  # never shown whole, in a log line or a trace
        return f"Keys(access_key={self.access_key[:4]}…, expires={self.expires:.0f})"


ClientsWith = Callable[[Keys], Callable[[str], Any]]
"""Makes the boto3 clients (by service name) that sign with a session's keys."""


def session_clients(keys: Keys) -> Callable[[str], Any]:
    """boto3 clients signed with ``keys``, their endpoints and region as the default chain
    finds them (``AWS_REGION``, ``AWS_ENDPOINT_URL*``), one per service."""
    import boto3

    session = boto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        aws_session_token=keys.token,
    )
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def client(service: str) -> Any:
        with lock:
            if service not in clients:
                clients[service] = session.client(service)  # type: ignore[call-overload]
            return clients[service]

    return client


@dataclass(frozen=True)
class RoleSession:
    """One assumed session: its keys and the clients that sign with them."""

    keys: Keys
    clients: Callable[[str], Any]

    def credentials(self) -> Any:
        """The keys as botocore credentials, for requests signed by hand (function URLs)."""
        from botocore.credentials import Credentials

        return Credentials(self.keys.access_key, self.keys.secret_key, self.keys.token)


@dataclass
class RoleSessions:
    """Sessions of the roles workflows name, by (scope, role ARN, session name), refreshed
    before they expire. Thread-safe: the calls of a batch ask for them at once."""

    clients_with: ClientsWith = session_clients
    clock: Callable[[], float] = time.time
    _sessions: dict[tuple[str, str, str], RoleSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session(
        self, scope: str, sts: Any, role_arn: str, session_name: str, policy: str | None = None
    ) -> RoleSession:
        """The session of ``role_arn`` (assumed with ``sts``, the runner's own client) whose
        keys stay valid for REFRESH_BEFORE at least; ``scope`` keeps stacks apart, and
        ``policy`` (the same for a scope) is the session policy its calls are held to too."""
        key = (scope, role_arn, session_name)
        with self._lock:
            held = self._sessions.get(key)
        if held is not None and held.keys.expires - self.clock() > REFRESH_BEFORE:
            return held
        keys = assume(sts, role_arn, session_name, policy)
        fresh = RoleSession(keys, self.clients_with(keys))
        with self._lock:
            if len(self._sessions) >= MAX_ROLES:
                self._sessions.clear()
            self._sessions[key] = fresh
        return fresh

    def clear(self) -> None:
        """Forget every session."""
        with self._lock:
            self._sessions.clear()


def assume(sts: Any, role_arn: str, session_name: str, policy: str | None = None) -> Keys:
    """Assume ``role_arn`` (with a session policy, when given); a StepFailure naming the role
    when STS refuses or fails."""
    action = f"serviceAccountId {role_arn}: the runner could not assume the role"
    request = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": SESSION_SECONDS,
    } | ({"Policy": policy} if policy else {})
    with aws_errors.translated(ASSUME_TIMEOUT, action=action):
        reply = aws_errors.with_timeout_hook(sts).assume_role(**request)
    credentials = reply.get("Credentials") or {}
    try:
        return Keys(
            access_key=credentials["AccessKeyId"],
            secret_key=credentials["SecretAccessKey"],
            token=credentials["SessionToken"],
            expires=credentials["Expiration"].timestamp(),
        )
    except (KeyError, AttributeError) as exc:
        raise StepFailure(
            WorkflowErrorCode.STEP_PERMISSION_DENIED, f"{action}: STS gave no credentials"
        ) from exc


SESSIONS: Final = RoleSessions()
