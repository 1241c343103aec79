"""Roles, subjects and how a caller's bindings decide (stepline.access), without AWS."""

from __future__ import annotations

import pytest

from stepline.access import (
    MAX_BINDINGS,
    MAX_SUBJECT_ID,
    Binding,
    Principal,
    Role,
    check_subject,
    effective,
    granted,
)
from stepline.store import keys
from stepline.store.access import AccessRecord, _stored
from stepline.store.errors import ITEM_LIMIT
from stepline.store.table import item_size, to_dynamo

ACCOUNT = "123456789012"
ADA = Principal(f"arn:aws:iam::{ACCOUNT}:user/ada", ACCOUNT)
PATHED = Principal(f"arn:aws:iam::{ACCOUNT}:user/team/bob", ACCOUNT)
DEPLOYER = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci-42", ACCOUNT)
ROOT = Principal(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)


def user(pattern: str, role: Role = Role.VIEWER) -> Binding:
    return Binding(role.id, "iamUser", pattern)


def role(pattern: str, role: Role = Role.VIEWER) -> Binding:
    return Binding(role.id, "iamRole", pattern)


def test_roles_nest_and_are_named_as_the_public_ones() -> None:
    assert [r.id for r in sorted(Role)] == [
        "serverless.workflows.viewer",
        "serverless.workflows.executor",
        "serverless.workflows.editor",
        "serverless.workflows.admin",
    ]
    assert Role.from_id("serverless.workflows.executor") is Role.EXECUTOR
    assert Role.VIEWER < Role.EXECUTOR < Role.EDITOR < Role.ADMIN


@pytest.mark.parametrize(
    "role_id", ["serverless.workflows.auditor", "serverless.workflows.Viewer", "admin", ""]
)
def test_other_role_ids_are_refused(role_id: str) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        Role.from_id(role_id)


@pytest.mark.parametrize(
    ("subject_type", "subject_id"),
    [
        ("iamUser", f"arn:aws:iam::{ACCOUNT}:user/ada"),
        ("iamUser", f"arn:aws:iam::{ACCOUNT}:user/team/*"),
        ("iamUser", "arn:aws:iam::*:user/ci-??"),
        ("iamRole", f"arn:aws:iam::{ACCOUNT}:role/deployer"),
        ("iamRole", f"arn:aws:iam::{ACCOUNT}:role/ops/deployer"),
        ("iamRole", f"arn:aws:iam::{ACCOUNT}:role/deploy-*"),
        ("system", "allAuthenticatedUsers"),
    ],
)
def test_subjects_stepline_can_match_are_accepted(subject_type: str, subject_id: str) -> None:
    check_subject(subject_type, subject_id)


@pytest.mark.parametrize(
    ("subject_type", "subject_id", "problem"),
    [
        ("userAccount", "ajeabc", "unknown type"),
        ("iamUser", "ada", "not an IAM user ARN"),
        ("iamUser", f"arn:aws:iam::{ACCOUNT}:role/deployer", "not an IAM user ARN"),
        ("iamRole", f"arn:aws:iam::{ACCOUNT}:user/ada", "not an IAM role ARN"),
        ("iamRole", f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s", "not an IAM role ARN"),
        ("iamRole", f"arn:aws:iam::{ACCOUNT}:role/ops/*", "cannot hold wildcards"),
        ("iamUser", f"arn:aws:iam::{ACCOUNT}:user/" + "a" * MAX_SUBJECT_ID, "characters"),
        ("system", "allUsers", "allAuthenticatedUsers"),
    ],
)
def test_subjects_stepline_cannot_match_are_refused(
    subject_type: str, subject_id: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        check_subject(subject_type, subject_id)


def test_a_user_binding_matches_that_user_and_wildcards_match_like_arnlike() -> None:
    assert ADA.matches(user(ADA.arn))
    assert not PATHED.matches(user(ADA.arn))
    assert PATHED.matches(user(f"arn:aws:iam::{ACCOUNT}:user/*"))  # * spans the path
    assert PATHED.matches(user(f"arn:aws:iam::{ACCOUNT}:user/team/*"))
    assert not ADA.matches(user(f"arn:aws:iam::{ACCOUNT}:user/team/*"))
    assert ADA.matches(user("arn:aws:iam::*:user/a?a"))
    assert not ADA.matches(user(f"arn:aws:iam::{ACCOUNT}:user/ad"))  # the whole ARN, not a prefix
    assert not DEPLOYER.matches(user("arn:aws:iam::*:user/*"))  # a session is not a user


def test_a_role_binding_matches_the_sessions_of_that_role_with_or_without_its_path() -> None:
    assert DEPLOYER.matches(role(f"arn:aws:iam::{ACCOUNT}:role/deployer"))
    assert DEPLOYER.matches(role(f"arn:aws:iam::{ACCOUNT}:role/ops/ci/deployer"))
    assert DEPLOYER.matches(role(f"arn:aws:iam::{ACCOUNT}:role/deploy*"))
    assert not DEPLOYER.matches(role(f"arn:aws:iam::{ACCOUNT}:role/deploy"))
    assert not DEPLOYER.matches(role("arn:aws:iam::999999999999:role/deployer"))
    assert not ADA.matches(role(f"arn:aws:iam::{ACCOUNT}:role/*"))


def test_every_signed_caller_is_an_authenticated_user() -> None:
    everyone = Binding(Role.VIEWER.id, "system", "allAuthenticatedUsers")
    assert all(p.matches(everyone) for p in (ADA, PATHED, DEPLOYER))


def test_the_highest_matching_role_wins() -> None:
    bindings = [user(ADA.arn), user("arn:aws:iam::*:user/*", Role.EDITOR), role("x")]
    assert granted(ADA, bindings) is Role.EDITOR
    assert granted(DEPLOYER, bindings) is None


def test_unguarded_resources_and_the_root_allow_everything() -> None:
    assert effective(ADA, [], enforced=False) is Role.ADMIN
    assert effective(ADA, [], enforced=True) is None
    assert effective(ROOT, [], enforced=True) is Role.ADMIN
    other_root = Principal("arn:aws:iam::999999999999:root", ACCOUNT)
    assert effective(other_root, [], enforced=True) is None


def test_the_most_bindings_with_the_longest_ids_fit_in_one_item() -> None:
    prefix = f"arn:aws:iam::{ACCOUNT}:user/"
    longest = prefix + ("p/" * 100 + "x" * MAX_SUBJECT_ID)[: MAX_SUBJECT_ID - len(prefix)]
    assert len(longest) == MAX_SUBJECT_ID
    check_subject("iamUser", longest)
    bindings = tuple(Binding(Role.EXECUTOR.id, "iamUser", longest) for _ in range(MAX_BINDINGS))
    item = {
        **keys.workflow_access("sw" + "x" * 48),
        "folderId": "f" * 50,
        "bindings": _stored(bindings),
        "rev": 10**9,
        "wtok": "t" * 12,
    }
    assert item_size(to_dynamo(item)) < ITEM_LIMIT * 0.8
    assert AccessRecord.from_item(item).bindings == bindings
