"""Access bindings: the roles, the subjects they bind, and who a caller's bindings make it.

A binding gives a role to a subject on a folder (every workflow in it, Create in it, List of it)
or on one workflow (the workflow and its executions). Roles nest, each including the one before:

=================================  ==========================================================
role                               allows
=================================  ==========================================================
``serverless.workflows.viewer``    Get/List workflows, Get/GetHistory/List executions,
                                   listAccessBindings
``serverless.workflows.executor``  the viewer's, and Start, Stop, Terminate
``serverless.workflows.editor``    the executor's, and Create, Update, Delete workflows
``serverless.workflows.admin``     the editor's, and setAccessBindings, updateAccessBindings
=================================  ==========================================================

Subjects are IAM principals, as API Gateway's IAM authorizer names the caller (``userArn``):

==========  ==========================================  =====================================
type        id                                          matches
==========  ==========================================  =====================================
``iamUser`` ``arn:aws:iam::<account>:user/[path/]name`` that IAM user
``iamRole`` ``arn:aws:iam::<account>:role/[path/]name`` that role's sessions,
                                                        ``arn:aws:sts::<account>:assumed-role/
                                                        name/<session>`` (a session's ARN has
                                                        no path: roles match by account and
                                                        name, which IAM keeps unique)
``system``  ``allAuthenticatedUsers``                   every signed caller of the API
==========  ==========================================  =====================================

User and role ids may hold ``*`` (any run of characters) and ``?`` (one character), as IAM's
``ArnLike`` does: ``arn:aws:iam::123456789012:user/*``, ``arn:aws:iam::*:role/deploy-*``. A role
id with a path cannot hold them (the path is what sessions do not carry). The account root
(``arn:aws:iam::<the API's account>:root``) is admin everywhere, bound or not.

Everything here is pure: the store keeps bindings, ``service/guard.py`` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Final

MAX_BINDINGS: Final = 1000
"""Bindings one folder or workflow may hold (as the API's SetAccessBindings allows): one item
of the table holds them all, at most about 300 KB with the longest subject ids."""
MAX_SUBJECT_ID: Final = 256
"""Characters of a subject id: an ARN with a path (the API's own ids are at most 100)."""

IAM_USER: Final = "iamUser"
IAM_ROLE: Final = "iamRole"
SYSTEM: Final = "system"
SUBJECT_TYPES: Final = (IAM_USER, IAM_ROLE, SYSTEM)
ALL_AUTHENTICATED: Final = "allAuthenticatedUsers"

_ROLE_PREFIX: Final = "serverless.workflows."
_SUBJECT_ARN = re.compile(
    r"^arn:(?:aws[a-z-]*|\*):iam::(?:\d{12}|\*):(?P<kind>user|role)/(?P<rest>[\w+=,.@/*?-]+)$"
)
_USER_ARN = re.compile(r"^arn:[a-z-]+:iam::\d{12}:user/.+$")
_SESSION_ARN = re.compile(
    r"^arn:(?P<partition>[a-z-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$"
)


class Role(IntEnum):
    """The Workflows roles, each including every lower one."""

    VIEWER = 1
    EXECUTOR = 2
    EDITOR = 3
    ADMIN = 4

    @property
    def id(self) -> str:
        """The role id bindings name: ``serverless.workflows.viewer``, ..."""
        return _ROLE_PREFIX + self.name.lower()

    @classmethod
    def from_id(cls, role_id: str) -> Role:
        """The role a role id names; ValueError for any other id."""
        for role in cls:
            if role.id == role_id:
                return role
        known = ", ".join(r.id for r in cls)
        raise ValueError(f"unknown role {role_id[:64]!r}; the roles are {known}")


def check_subject(subject_type: str, subject_id: str) -> None:
    """Refuse a subject Stepline cannot match; the ValueError says why (not where)."""
    if subject_type not in SUBJECT_TYPES:
        raise ValueError(f"unknown type {subject_type[:100]!r}; one of {', '.join(SUBJECT_TYPES)}")
    if subject_type == SYSTEM:
        if subject_id != ALL_AUTHENTICATED:
            raise ValueError(f"a system subject is {ALL_AUTHENTICATED!r}")
        return
    if len(subject_id) > MAX_SUBJECT_ID:
        raise ValueError(f"{len(subject_id)} characters; at most {MAX_SUBJECT_ID}")
    kind = "user" if subject_type == IAM_USER else "role"
    match = _SUBJECT_ARN.match(subject_id)
    if match is None or match["kind"] != kind:
        raise ValueError(
            f"{subject_id[:100]!r} is not an IAM {kind} ARN such as "
            f"arn:aws:iam::123456789012:{kind}/name ('*' and '?' may stand for characters)"
        )
    rest = match["rest"]
    if kind == "role" and "/" in rest and any(c in rest for c in "*?"):
        raise ValueError(
            "a role ARN with a path cannot hold wildcards: sessions name their role without "
            "its path"
        )


@dataclass(frozen=True)
class Binding:
    """One role given to one subject."""

    role_id: str
    subject_type: str
    subject_id: str

    @property
    def role(self) -> Role:
        """The role this binding gives."""
        return Role.from_id(self.role_id)


@dataclass(frozen=True)
class Principal:
    """The signed caller of an API call, as API Gateway's IAM authorizer names it."""

    arn: str
    """``requestContext.authorizer.iam.userArn``."""
    account: str
    """The account the API belongs to (``requestContext.accountId``)."""

    @property
    def is_root(self) -> bool:
        """The root user of the API's own account: admin everywhere."""
        partition = self.arn.split(":", 2)[1] if self.arn.count(":") >= 2 else "aws"
        return bool(self.account) and self.arn == f"arn:{partition}:iam::{self.account}:root"

    def matches(self, binding: Binding) -> bool:
        """Whether the binding's subject is this caller."""
        if binding.subject_type == SYSTEM:
            return binding.subject_id == ALL_AUTHENTICATED
        if binding.subject_type == IAM_USER:
            return bool(_USER_ARN.match(self.arn) and _glob(binding.subject_id).match(self.arn))
        if binding.subject_type == IAM_ROLE:
            role = _session_role(self.arn)
            return bool(role and _glob(_without_path(binding.subject_id)).match(role))
        return False


def granted(principal: Principal, bindings: Iterable[Binding]) -> Role | None:
    """The highest role the bindings give the caller, or None."""
    roles = [b.role for b in bindings if principal.matches(b)]
    return max(roles, default=None)


def effective(principal: Principal, bindings: Iterable[Binding], *, enforced: bool) -> Role | None:
    """What the caller may do on a resource: everything as the account root or where bindings
    are not enforced, else what its bindings give it (None: nothing, not even viewing)."""
    if principal.is_root or not enforced:
        return Role.ADMIN
    return granted(principal, bindings)


def _session_role(arn: str) -> str | None:
    """``arn:aws:sts::A:assumed-role/NAME/session`` → ``arn:aws:iam::A:role/NAME``."""
    match = _SESSION_ARN.match(arn)
    if match is None:
        return None
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"


def _without_path(role_arn: str) -> str:
    """``arn:aws:iam::A:role/path/to/NAME`` → ``arn:aws:iam::A:role/NAME``."""
    head, _, rest = role_arn.partition(":role/")
    return f"{head}:role/{rest.rsplit('/', 1)[-1]}"


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` any run of characters, ``?`` one character, everything else itself."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)
