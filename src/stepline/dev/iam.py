"""A pure IAM policy evaluator for the dev stack: identity-based and resource-based policies.

The invariant: a request is allowed only when some statement that applies to it says Allow and
no statement that applies to it says Deny (AWS's evaluation logic, reduced to one policy kind at
a time). Evaluation reads nothing but its arguments: no clock, no I/O, no AWS.

A statement this module cannot read fails closed: an unknown condition operator (the Date, IP
address and Binary operators included), a condition value that is not a scalar, or an Action,
Resource or Principal of the wrong shape makes an Allow statement not apply and a Deny statement
apply — AWS would have refused such a policy at upload time. Not supported, on purpose:

- ``${aws:...}`` policy variables; they are matched literally;
- permission boundaries, session policies, SCPs and cross-account checks: the caller decides
  how the decisions of the identity policies and the resource policy combine;
- global condition keys: the caller puts every key it wants checked into ``Request.context``;
- Principal and NotPrincipal in identity-based policies, which AWS rejects: they are ignored.
"""

from __future__ import annotations

import enum
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Final

Matcher = Callable[[str, str], bool]
Context = Mapping[str, tuple[str, ...]]

_ACCOUNT: Final = re.compile(r"(\d{12})|arn:[^:]+:iam::(\d{12}):root")
_ROLE: Final = re.compile(r"arn:([^:]+):iam::(\d{12}):role/(?:.*/)?([^/]+)")
_SESSION: Final = re.compile(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+")
_QUALIFIERS: Final = ("", "ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class Request:
    """One call to authorize: who does what to which resource, with its condition keys."""

    action: str
    """The action, as ``service:Operation`` (``dynamodb:GetItem``)."""
    resource: str
    """The ARN of the resource acted on."""
    principal: str | None = None
    """The caller's ARN or a service principal; read by resource-based policies only."""
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    """Condition keys and their values; a list is a multi-valued key."""


class Decision(enum.Enum):
    """The outcome of evaluating policies for a request."""

    ALLOW = "ALLOW"
    EXPLICIT_DENY = "EXPLICIT_DENY"
    IMPLICIT_DENY = "IMPLICIT_DENY"


class _Malformed(Exception):
    """A statement this module cannot read; never leaves the module."""


def evaluate(policies: Iterable[Mapping[str, Any] | str], request: Request) -> Decision:
    """The decision of identity-based policies (dicts, or JSON strings: else ValueError)."""
    statements = [s for document in policies for s in _statements(document)]
    return _decide(statements, request, resource_policy=False)


def evaluate_resource_policy(policy: Mapping[str, Any] | str | None, request: Request) -> Decision:
    """The decision of one resource-based policy, whose statements must name the principal.

    A statement without Resource or NotResource applies to the resource the policy is attached
    to; one without Principal or NotPrincipal applies to nobody. A bad JSON string: ValueError.
    """
    statements = [] if policy is None else _statements(policy)
    return _decide(statements, request, resource_policy=True)


def _statements(document: Mapping[str, Any] | str) -> list[object]:
    """The statements of a policy document; Statement may be one object or a list."""
    parsed = json.loads(document) if isinstance(document, str) else document
    if not isinstance(parsed, Mapping):
        raise ValueError("an IAM policy document must be a JSON object")
    body = parsed.get("Statement", [])
    return [body] if isinstance(body, Mapping) else list(body) if isinstance(body, list) else []


def _decide(statements: list[object], request: Request, *, resource_policy: bool) -> Decision:
    """Deny if any applicable statement denies, else allow if any allows, else implicit deny."""
    context = {
        k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in request.context.items()
    }
    allowed = False
    for statement in statements:
        effect = _effect(statement, request, context, resource_policy)
        if effect == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = allowed or effect == "Allow"
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _effect(statement: object, request: Request, ctx: Context, on_resource: bool) -> str | None:
    """The statement's Effect if it applies to the request, else None; unreadable fails closed."""
    if not isinstance(statement, Mapping) or statement.get("Effect") not in ("Allow", "Deny"):
        return None
    effect: str = statement["Effect"]
    try:
        applies = _applies(statement, request, ctx, on_resource)
    except _Malformed:
        applies = effect == "Deny"
    return effect if applies else None


def _applies(st: Mapping[str, Any], request: Request, ctx: Context, on_resource: bool) -> bool:
    """Whether action, resource, principal (resource policies) and conditions all match."""
    names = partial(_principal_matches, principal=request.principal)
    return (
        _element(st, "Action", partial(_glob, request.action, ignore_case=True), False)
        and _element(st, "Resource", partial(_glob, request.resource), on_resource)
        and (not on_resource or _element(st, "Principal", names, False, False))
        and _conditions_hold(st.get("Condition"), ctx)
    )


def _element(
    st: Mapping[str, Any],
    name: str,
    matches: Callable[[Any], bool],
    absent: bool,
    listed: bool = True,
) -> bool:
    """Whether `name` lists a match or `Not<name>` lists none; `absent` if neither is there."""
    if name in st and f"Not{name}" in st:
        raise _Malformed(name)
    for key, hit in ((name, True), (f"Not{name}", False)):
        if key in st:
            patterns = _strings(st[key]) if listed else (st[key],)
            return any(matches(p) for p in patterns) == hit
    return absent


def _principal_matches(block: object, principal: str | None) -> bool:
    """Whether a Principal block (``"*"`` or ``{"AWS"|"Service"|...: names}``) names the caller."""
    if block == "*":
        return True
    if not isinstance(block, Mapping):
        raise _Malformed("Principal")
    return any(
        _names(kind, name, principal) for kind, names in block.items() for name in _strings(names)
    )


def _names(kind: str, name: str, principal: str | None) -> bool:
    """Whether one principal entry names the caller; kinds other than AWS/Service match exactly."""
    if kind == "AWS" and name == "*":
        return True
    if principal is None:
        return False
    if kind == "Service":
        return name.lower() == principal.lower()
    return _aws_names(name, principal) if kind == "AWS" else name == principal


def _aws_names(name: str, principal: str) -> bool:
    """Whether an AWS entry names the caller: same ARN, its account, or the role of its session."""
    if name == principal:
        return True
    if account := _ACCOUNT.fullmatch(name):
        parts = principal.split(":")
        return len(parts) >= 6 and parts[0] == "arn" and parts[4] in account.groups()
    role, session = _ROLE.fullmatch(name), _SESSION.fullmatch(principal)
    return bool(role and session and role.groups() == session.groups())


def _conditions_hold(block: object, context: Context) -> bool:
    """Whether every operator of a Condition block holds (operators and keys are ANDed)."""
    if block is None:
        return True
    if not isinstance(block, Mapping):
        raise _Malformed("Condition")
    # Evaluated in full, not short-circuited, so that an unreadable part always fails closed.
    return all([_operator_holds(name, keys, context) for name, keys in block.items()])


def _operator_holds(name: str, keys: object, context: Context) -> bool:
    """Whether one ``Operator: {key: values}`` entry holds for every key in it."""
    qualifier, _, base = name.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if not isinstance(keys, Mapping) or qualifier not in _QUALIFIERS:
        raise _Malformed(name)
    if base == "Null" and not (qualifier or if_exists):
        return all([_null_holds(_scalars(v), context.get(k.lower())) for k, v in keys.items()])
    if base not in _OPERATORS:
        raise _Malformed(name)
    matcher, negated = _OPERATORS[base]
    results = []
    for key, wanted in keys.items():
        patterns, values = _scalars(wanted), context.get(key.lower())
        if not values:  # missing: AWS's documented outcome for each kind of operator
            results.append(if_exists or qualifier == "ForAllValues" or (negated and not qualifier))
            continue
        hits = [any(matcher(v, p) for p in patterns) != negated for v in values]
        results.append(all(hits) if qualifier == "ForAllValues" else any(hits))
    return all(results)


def _null_holds(wanted: tuple[str, ...], values: tuple[str, ...] | None) -> bool:
    """``Null: {key: "true"}`` holds when the key is absent, ``"false"`` when it is present."""
    if any(w.lower() not in ("true", "false") for w in wanted):
        raise _Malformed("Null")
    return any((w.lower() == "true") == (not values) for w in wanted)


def _strings(value: object) -> tuple[str, ...]:
    """A string-or-list-of-strings element as a tuple."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _Malformed(repr(value))


def _scalars(value: object) -> tuple[str, ...]:
    """Condition values (one or a list; strings, numbers, booleans) as strings."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str | int | float) for v in items):
        raise _Malformed(repr(value))
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in items)


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    """A compiled glob where ``*`` is any sequence and ``?`` any one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob(value: str, glob: str, ignore_case: bool = False) -> bool:
    """Whether `value` matches the whole of `glob`."""
    return _pattern(glob, ignore_case).fullmatch(value) is not None


def _arn_like(value: str, glob: str) -> bool:
    """ARN matching per segment; a value or glob that is not six segments is matched whole."""
    values, globs = value.split(":", 5), glob.split(":", 5)
    if len(values) != 6 or len(globs) != 6:
        return _glob(value, glob)
    return all(_glob(v, g) for g, v in zip(globs, values, strict=True))


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    """A matcher comparing context value to policy value as numbers; non-numbers never match."""

    def match(value: str, wanted: str) -> bool:
        try:
            return compare(float(value), float(wanted))
        except ValueError:
            return False

    return match


def _ignore_case(value: str, wanted: str) -> bool:
    return value.casefold() == wanted.casefold()


# Base operator → (how one context value matches one policy value, whether the result is negated).
_OPERATORS: Final[dict[str, tuple[Matcher, bool]]] = {
    "StringEquals": (operator.eq, False),
    "StringNotEquals": (operator.eq, True),
    "StringEqualsIgnoreCase": (_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_ignore_case, True),
    "StringLike": (_glob, False),
    "StringNotLike": (_glob, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_ignore_case, False),
    "NumericEquals": (_numeric(operator.eq), False),
    "NumericNotEquals": (_numeric(operator.eq), True),
    "NumericLessThan": (_numeric(operator.lt), False),
    "NumericLessThanEquals": (_numeric(operator.le), False),
    "NumericGreaterThan": (_numeric(operator.gt), False),
    "NumericGreaterThanEquals": (_numeric(operator.ge), False),
}
