"""The IAM policy evaluator: AWS's evaluation logic on identity- and resource-based policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepline.dev.iam import Decision, Request, evaluate, evaluate_resource_policy

ACCOUNT = "123456789012"
TABLE_A = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/ta"
TABLE_B = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/tb"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:stepline-dev-Runner-ABC"
API = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/POST/runs"
GET_A = Request("dynamodb:GetItem", TABLE_A)

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(
    action: Any = "dynamodb:GetItem", resource: Any = TABLE_A, **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "dynamodb:GetItem", resource: Any = TABLE_A, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(statement: dict[str, Any], request: Request = GET_A) -> Decision:
    return evaluate([policy(statement)], request)


def with_context(**context: str | list[str]) -> Request:
    return Request(
        "dynamodb:GetItem", TABLE_A, context={k.replace("_", ":"): v for k, v in context.items()}
    )


def conditioned(condition: dict[str, Any], request: Request) -> Decision:
    return decide(allow(Condition=condition), request)


# --- statements, effects, documents -----------------------------------------------------------


def test_matching_allow_allows() -> None:
    assert decide(allow()) is ALLOW


def test_no_matching_statement_is_implicit_deny() -> None:
    assert decide(allow(action="dynamodb:PutItem")) is IMPLICIT_DENY
    assert evaluate([], GET_A) is IMPLICIT_DENY


def test_explicit_deny_wins_over_allow() -> None:
    assert evaluate([policy(allow(), deny())], GET_A) is EXPLICIT_DENY
    assert evaluate([policy(allow("*", "*")), policy(deny())], GET_A) is EXPLICIT_DENY
    assert evaluate([policy(deny()), policy(allow())], GET_A) is EXPLICIT_DENY


def test_deny_that_does_not_match_leaves_allow_standing() -> None:
    assert evaluate([policy(allow(), deny(resource=TABLE_B))], GET_A) is ALLOW


def test_single_object_statement_is_read() -> None:
    assert evaluate([{"Version": "2012-10-17", "Statement": allow()}], GET_A) is ALLOW


def test_json_string_documents_are_read() -> None:
    assert evaluate([json.dumps(policy(allow()))], GET_A) is ALLOW
    resource_policy = json.dumps(policy(allow(Principal="*")))
    assert evaluate_resource_policy(resource_policy, GET_A) is ALLOW


def test_json_string_that_is_not_an_object_raises_value_error() -> None:
    with pytest.raises(ValueError):
        evaluate(["{not json"], GET_A)
    with pytest.raises(ValueError):
        evaluate(["[1, 2]"], GET_A)


def test_document_without_statements_is_implicit_deny() -> None:
    assert evaluate([{"Version": "2012-10-17"}], GET_A) is IMPLICIT_DENY


def test_unknown_effect_is_ignored() -> None:
    assert decide({**allow(), "Effect": "allow"}) is IMPLICIT_DENY
    assert evaluate([policy(allow(), {**deny(), "Effect": "DENY"})], GET_A) is ALLOW


def test_statement_without_resource_never_matches_in_identity_policy() -> None:
    assert decide({"Effect": "Allow", "Action": "*"}) is IMPLICIT_DENY
    assert evaluate([policy(allow(), {"Effect": "Deny", "Action": "*"})], GET_A) is ALLOW


def test_statement_without_action_never_matches() -> None:
    assert decide({"Effect": "Allow", "Resource": "*"}) is IMPLICIT_DENY


def test_action_and_not_action_together_fail_closed() -> None:
    assert decide(allow(NotAction="s3:*")) is IMPLICIT_DENY
    assert evaluate([policy(allow(), deny(NotAction="s3:*"))], GET_A) is EXPLICIT_DENY


# --- Action and Resource matching -------------------------------------------------------------


def test_allow_on_one_table_does_not_allow_another() -> None:
    assert decide(allow(resource=TABLE_A), Request("dynamodb:GetItem", TABLE_B)) is IMPLICIT_DENY


def test_index_wildcard_allows_the_index_but_not_the_table() -> None:
    statement = allow("dynamodb:Query", f"{TABLE_A}/index/*")
    assert decide(statement, Request("dynamodb:Query", f"{TABLE_A}/index/gsi1")) is ALLOW
    assert decide(statement, Request("dynamodb:Query", TABLE_A)) is IMPLICIT_DENY


def test_function_wildcard_matches_its_prefix_only() -> None:
    statement = allow(
        "lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:stepline-*"
    )
    assert decide(statement, Request("lambda:InvokeFunction", FUNCTION)) is ALLOW
    other = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:other"
    assert decide(statement, Request("lambda:InvokeFunction", other)) is IMPLICIT_DENY


def test_question_mark_matches_exactly_one_character() -> None:
    statement = allow(resource=f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t?")
    assert decide(statement) is ALLOW
    assert decide(statement, Request("dynamodb:GetItem", f"{TABLE_A}x")) is IMPLICIT_DENY
    assert decide(statement, Request("dynamodb:GetItem", TABLE_A[:-1])) is IMPLICIT_DENY


@pytest.mark.parametrize("action", ["DynamoDB:getitem", "DYNAMODB:GETITEM", "dynamodb:GetItem"])
def test_action_matching_ignores_case(action: str) -> None:
    assert decide(allow(action="dynamodb:GetItem"), Request(action, TABLE_A)) is ALLOW
    assert decide(allow(action=action)) is ALLOW


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("dynamodb:*", ALLOW),
        ("dynamodb:Get*", ALLOW),
        ("dynamodb:?etItem", ALLOW),
        ("*:GetItem", ALLOW),
        ("dynamo*", ALLOW),
        ("*", ALLOW),
        ("s3:*", IMPLICIT_DENY),
        ("dynamodb:Get", IMPLICIT_DENY),
        ("GetItem", IMPLICIT_DENY),
        ("dynamodb:GetItems", IMPLICIT_DENY),
    ],
)
def test_action_wildcards_cover_the_service_prefix(pattern: str, expected: Decision) -> None:
    assert decide(allow(action=pattern)) is expected


def test_resource_matching_is_case_sensitive() -> None:
    assert decide(allow(resource=TABLE_A.replace("table/ta", "table/TA"))) is IMPLICIT_DENY
    assert decide(allow(resource=TABLE_A.upper())) is IMPLICIT_DENY


def test_star_resource_matches_everything() -> None:
    assert decide(allow(resource="*"), Request("s3:GetObject", "arn:aws:s3:::b/k")) is IMPLICIT_DENY
    assert (
        decide(allow(action="*", resource="*"), Request("s3:GetObject", "arn:aws:s3:::b/k"))
        is ALLOW
    )


def test_lists_of_actions_and_resources_match_any_entry() -> None:
    statement = allow(["dynamodb:PutItem", "dynamodb:GetItem"], [TABLE_B, TABLE_A])
    assert decide(statement) is ALLOW
    assert decide(statement, Request("dynamodb:Query", TABLE_A)) is IMPLICIT_DENY
    assert decide(allow(action=[])) is IMPLICIT_DENY


def test_not_action_with_allow_allows_every_other_action() -> None:
    statement = {"Effect": "Allow", "NotAction": ["iam:*", "dynamodb:DeleteTable"], "Resource": "*"}
    assert decide(statement) is ALLOW
    assert decide(statement, Request("iam:PassRole", "arn:aws:iam::1:role/r")) is IMPLICIT_DENY
    assert decide(statement, Request("dynamodb:deletetable", TABLE_A)) is IMPLICIT_DENY


def test_not_resource_with_deny_denies_every_other_resource() -> None:
    statement = {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": [TABLE_A, f"{TABLE_A}/*"]}
    policies = [policy(allow("dynamodb:*", "*"), statement)]
    assert evaluate(policies, GET_A) is ALLOW
    assert evaluate(policies, Request("dynamodb:Query", f"{TABLE_A}/index/i")) is ALLOW
    assert evaluate(policies, Request("dynamodb:GetItem", TABLE_B)) is EXPLICIT_DENY


def test_policy_variables_are_matched_literally() -> None:
    statement = allow(resource="arn:aws:s3:::b/${aws:username}/*")
    assert decide(statement, Request("dynamodb:GetItem", "arn:aws:s3:::b/alice/k")) is IMPLICIT_DENY
    literal = Request("dynamodb:GetItem", "arn:aws:s3:::b/${aws:username}/k")
    assert decide(statement, literal) is ALLOW


# --- conditions -------------------------------------------------------------------------------

PASS_ROLE = allow(
    "iam:PassRole",
    f"arn:aws:iam::{ACCOUNT}:role/stepline-*",
    Condition={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
)


def pass_role(**context: str | list[str]) -> Request:
    return Request(
        "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/stepline-scheduler", context=context
    )


def test_string_equals_on_passed_to_service() -> None:
    assert (
        decide(PASS_ROLE, pass_role(**{"iam:PassedToService": "scheduler.amazonaws.com"})) is ALLOW
    )
    assert decide(PASS_ROLE, pass_role(**{"iam:PassedToService": "lambda.amazonaws.com"})) is (
        IMPLICIT_DENY
    )
    assert decide(PASS_ROLE, pass_role()) is IMPLICIT_DENY


def test_condition_keys_are_case_insensitive() -> None:
    assert (
        decide(PASS_ROLE, pass_role(**{"IAM:passedToService": "scheduler.amazonaws.com"})) is ALLOW
    )
    condition = {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}
    assert conditioned(condition, with_context(aws_sourceaccount=ACCOUNT)) is ALLOW


def test_condition_values_are_case_sensitive_except_for_ignore_case_operators() -> None:
    request = with_context(aws_username="Alice")
    assert conditioned({"StringEquals": {"aws:username": "alice"}}, request) is IMPLICIT_DENY
    assert conditioned({"StringEqualsIgnoreCase": {"aws:username": "alice"}}, request) is ALLOW
    assert conditioned({"StringNotEquals": {"aws:username": "alice"}}, request) is ALLOW
    assert conditioned({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, request) is (
        IMPLICIT_DENY
    )
    assert conditioned({"StringLike": {"aws:username": "a*"}}, request) is IMPLICIT_DENY


def test_string_like_and_not_like_use_wildcards() -> None:
    request = with_context(s3_prefix="home/alice/docs")
    assert conditioned({"StringLike": {"s3:prefix": "home/*/docs"}}, request) is ALLOW
    assert conditioned({"StringLike": {"s3:prefix": "home/?lice/*"}}, request) is ALLOW
    assert conditioned({"StringLike": {"s3:prefix": "home/bob/*"}}, request) is IMPLICIT_DENY
    assert conditioned({"StringNotLike": {"s3:prefix": "home/bob/*"}}, request) is ALLOW
    assert conditioned({"StringNotLike": {"s3:prefix": "home/*"}}, request) is IMPLICIT_DENY


def test_several_values_for_one_key_are_ored() -> None:
    condition = {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}
    assert conditioned(condition, with_context(aws_RequestedRegion="us-east-1")) is ALLOW
    assert conditioned(condition, with_context(aws_RequestedRegion="ap-south-1")) is IMPLICIT_DENY


def test_negated_operator_with_several_values_requires_none_to_match() -> None:
    condition = {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}
    assert conditioned(condition, with_context(aws_RequestedRegion="us-east-1")) is IMPLICIT_DENY
    assert conditioned(condition, with_context(aws_RequestedRegion="ap-south-1")) is ALLOW


def test_several_keys_and_several_operators_are_anded() -> None:
    condition = {
        "StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:RequestedRegion": "us-east-1"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    full = {"aws_SourceAccount": ACCOUNT, "aws_RequestedRegion": "us-east-1"}
    assert conditioned(condition, with_context(**full, aws_SecureTransport="true")) is ALLOW
    assert conditioned(condition, with_context(**full, aws_SecureTransport="false")) is (
        IMPLICIT_DENY
    )
    assert conditioned(condition, with_context(**full)) is IMPLICIT_DENY
    partial = with_context(aws_SourceAccount=ACCOUNT, aws_SecureTransport="true")
    assert conditioned(condition, partial) is IMPLICIT_DENY


@pytest.mark.parametrize(
    "operator_name",
    ["StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool",
     "NumericEquals", "NumericLessThan", "NumericGreaterThanEquals"],
)  # fmt: skip
def test_positive_operator_is_false_when_key_is_missing(operator_name: str) -> None:
    assert conditioned({operator_name: {"my:key": "1"}}, with_context()) is IMPLICIT_DENY


@pytest.mark.parametrize(
    "operator_name",
    ["StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals",
     "ArnNotLike", "NumericNotEquals"],
)  # fmt: skip
def test_negated_operator_is_true_when_key_is_missing(operator_name: str) -> None:
    assert conditioned({operator_name: {"my:key": "1"}}, with_context()) is ALLOW


def test_string_not_equals_with_missing_key_lets_a_deny_apply() -> None:
    guard = deny(Condition={"StringNotEquals": {"aws:SourceAccount": ACCOUNT}})
    policies = [policy(allow(), guard)]
    assert evaluate(policies, GET_A) is EXPLICIT_DENY
    assert evaluate(policies, with_context(aws_SourceAccount=ACCOUNT)) is ALLOW


def test_if_exists_makes_a_missing_key_true_and_checks_a_present_one() -> None:
    condition = {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}
    assert conditioned(condition, with_context()) is ALLOW
    assert conditioned(condition, with_context(aws_SourceAccount=ACCOUNT)) is ALLOW
    assert conditioned(condition, with_context(aws_SourceAccount="999999999999")) is IMPLICIT_DENY
    numeric = {"NumericLessThanIfExists": {"s3:max-keys": "10"}}
    assert conditioned(numeric, with_context()) is ALLOW
    assert conditioned(numeric, with_context(**{"s3_max-keys": "20"})) is IMPLICIT_DENY


def test_null_true_holds_when_the_key_is_absent() -> None:
    absent = {"Null": {"aws:TokenIssueTime": "true"}}
    present = {"Null": {"aws:TokenIssueTime": "false"}}
    issued = with_context(aws_TokenIssueTime="2024-01-01T00:00:00Z")
    assert conditioned(absent, with_context()) is ALLOW
    assert conditioned(absent, issued) is IMPLICIT_DENY
    assert conditioned(present, issued) is ALLOW
    assert conditioned(present, with_context()) is IMPLICIT_DENY
    assert conditioned({"Null": {"aws:TokenIssueTime": True}}, with_context()) is ALLOW


def test_bool_accepts_string_and_json_booleans() -> None:
    secure = with_context(aws_SecureTransport="true")
    assert conditioned({"Bool": {"aws:SecureTransport": "true"}}, secure) is ALLOW
    assert conditioned({"Bool": {"aws:SecureTransport": True}}, secure) is ALLOW
    assert conditioned({"Bool": {"aws:SecureTransport": False}}, secure) is IMPLICIT_DENY


@pytest.mark.parametrize(
    ("operator_name", "wanted", "expected"),
    [
        ("NumericEquals", "10", ALLOW),
        ("NumericEquals", 10, ALLOW),
        ("NumericEquals", "10.0", ALLOW),
        ("NumericEquals", "11", IMPLICIT_DENY),
        ("NumericNotEquals", "11", ALLOW),
        ("NumericNotEquals", "10", IMPLICIT_DENY),
        ("NumericLessThan", "11", ALLOW),
        ("NumericLessThan", "10", IMPLICIT_DENY),
        ("NumericLessThanEquals", "10", ALLOW),
        ("NumericLessThanEquals", "9", IMPLICIT_DENY),
        ("NumericGreaterThan", "9", ALLOW),
        ("NumericGreaterThan", "10", IMPLICIT_DENY),
        ("NumericGreaterThanEquals", "10", ALLOW),
        ("NumericGreaterThanEquals", "11", IMPLICIT_DENY),
        ("NumericEquals", "ten", IMPLICIT_DENY),
    ],
)
def test_numeric_operators_compare_numbers(
    operator_name: str, wanted: Any, expected: Decision
) -> None:
    request = with_context(**{"s3_max-keys": "10"})
    assert conditioned({operator_name: {"s3:max-keys": wanted}}, request) is expected


def test_arn_like_compares_segments_with_wildcards() -> None:
    request = with_context(aws_SourceArn=API)
    like = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/*/POST/runs"
    assert conditioned({"ArnLike": {"aws:SourceArn": like}}, request) is ALLOW
    assert (
        conditioned({"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*:*:*"}}, request) is ALLOW
    )
    assert conditioned({"ArnLike": {"aws:SourceArn": like.replace("POST", "GET")}}, request) is (
        IMPLICIT_DENY
    )
    assert conditioned({"ArnEquals": {"aws:SourceArn": API}}, request) is ALLOW
    assert conditioned({"ArnNotLike": {"aws:SourceArn": like}}, request) is IMPLICIT_DENY
    assert conditioned({"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::b"}}, request) is ALLOW


def test_arn_wildcard_does_not_cross_a_segment() -> None:
    # A whole-string glob would let `*` swallow "us-east-1:999999999999" here.
    pattern = f"arn:aws:lambda:*:{ACCOUNT}:function:f"
    spoof = with_context(
        aws_SourceArn=f"arn:aws:lambda:us-east-1:999999999999:{ACCOUNT}:function:f"
    )
    assert conditioned({"ArnLike": {"aws:SourceArn": pattern}}, spoof) is IMPLICIT_DENY
    real = with_context(aws_SourceArn=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f")
    assert conditioned({"ArnLike": {"aws:SourceArn": pattern}}, real) is ALLOW


def test_arn_match_is_case_sensitive() -> None:
    request = with_context(aws_SourceArn=API)
    assert conditioned({"ArnEquals": {"aws:SourceArn": API.upper()}}, request) is IMPLICIT_DENY


def test_for_all_values_with_an_empty_set_is_true() -> None:
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}
    assert conditioned(condition, with_context(aws_TagKeys=[])) is ALLOW
    assert conditioned(condition, with_context()) is ALLOW


def test_for_all_values_requires_every_value_to_match() -> None:
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}
    assert conditioned(condition, with_context(aws_TagKeys=["env", "team"])) is ALLOW
    assert conditioned(condition, with_context(aws_TagKeys=["env", "cost"])) is IMPLICIT_DENY


def test_for_any_value_with_an_empty_set_is_false() -> None:
    condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}
    assert conditioned(condition, with_context(aws_TagKeys=[])) is IMPLICIT_DENY
    assert conditioned(condition, with_context()) is IMPLICIT_DENY
    negated = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}}
    assert conditioned(negated, with_context()) is IMPLICIT_DENY


def test_for_any_value_requires_one_value_to_match() -> None:
    condition = {"ForAnyValue:StringLike": {"aws:TagKeys": ["team*"]}}
    assert conditioned(condition, with_context(aws_TagKeys=["env", "team-a"])) is ALLOW
    assert conditioned(condition, with_context(aws_TagKeys=["env", "cost"])) is IMPLICIT_DENY


def test_for_all_values_with_a_negated_operator_rejects_any_listed_value() -> None:
    condition = {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}
    assert conditioned(condition, with_context(aws_TagKeys=["env", "team"])) is ALLOW
    assert conditioned(condition, with_context(aws_TagKeys=["env", "secret"])) is IMPLICIT_DENY


@pytest.mark.parametrize(
    "condition",
    [
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"StringEqualz": {"aws:SourceAccount": ACCOUNT}},
        {"ForEveryValue:StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"NullIfExists": {"aws:SourceAccount": "true"}},
        {"Null": {"aws:SourceAccount": "maybe"}},
        {"StringEquals": {"aws:SourceAccount": {"nested": ACCOUNT}}},
        {"StringEquals": "aws:SourceAccount"},
        ["StringEquals"],
    ],
)
def test_unreadable_condition_fails_closed(condition: Any) -> None:
    request = with_context(aws_SourceAccount=ACCOUNT, aws_CurrentTime="2030-01-01T00:00:00Z")
    assert conditioned(condition, request) is IMPLICIT_DENY
    assert evaluate([policy(allow(), deny(Condition=condition))], request) is EXPLICIT_DENY


def test_unreadable_deny_for_another_action_does_not_apply() -> None:
    broken = deny(action="dynamodb:DeleteTable", Condition={"Bogus": {}})
    assert evaluate([policy(allow(), broken)], GET_A) is ALLOW


# --- resource-based policies ------------------------------------------------------------------

APIGW_INVOKE = {
    "Effect": "Allow",
    "Principal": {"Service": "apigateway.amazonaws.com"},
    "Action": "lambda:InvokeFunction",
    "Resource": FUNCTION,
    "Condition": {
        "ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/*"}
    },
}


def invoke(principal: str | None, **context: str) -> Request:
    return Request("lambda:InvokeFunction", FUNCTION, principal, context)


def test_service_principal_with_source_arn_like_may_invoke() -> None:
    doc = policy(APIGW_INVOKE)
    assert (
        evaluate_resource_policy(doc, invoke("apigateway.amazonaws.com", **{"aws:SourceArn": API}))
        is ALLOW
    )
    other_api = API.replace("a1b2c3", "zzzzzz")
    assert evaluate_resource_policy(
        doc, invoke("apigateway.amazonaws.com", **{"aws:SourceArn": other_api})
    ) is (IMPLICIT_DENY)
    assert evaluate_resource_policy(doc, invoke("apigateway.amazonaws.com")) is IMPLICIT_DENY
    assert evaluate_resource_policy(
        doc, invoke("events.amazonaws.com", **{"aws:SourceArn": API})
    ) is (IMPLICIT_DENY)


def test_service_principal_list_matches_any_entry() -> None:
    services = ["events.amazonaws.com", "scheduler.amazonaws.com"]
    statement = allow("lambda:InvokeFunction", FUNCTION, Principal={"Service": services})
    assert evaluate_resource_policy(policy(statement), invoke("scheduler.amazonaws.com")) is ALLOW
    assert evaluate_resource_policy(policy(statement), invoke("sqs.amazonaws.com")) is IMPLICIT_DENY


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_star_principal_matches_anyone(principal: Any) -> None:
    doc = policy(allow("lambda:InvokeFunction", FUNCTION, Principal=principal))
    for caller in [f"arn:aws:iam::{ACCOUNT}:user/x", "arn:aws:iam::999999999999:root", None]:
        assert evaluate_resource_policy(doc, invoke(caller)) is ALLOW


def test_aws_principal_arn_matches_that_principal_only() -> None:
    user = f"arn:aws:iam::{ACCOUNT}:user/x"
    doc = policy(allow("lambda:InvokeFunction", FUNCTION, Principal={"AWS": [user]}))
    assert evaluate_resource_policy(doc, invoke(user)) is ALLOW
    assert evaluate_resource_policy(doc, invoke(f"arn:aws:iam::{ACCOUNT}:user/y")) is IMPLICIT_DENY
    assert evaluate_resource_policy(doc, invoke(None)) is IMPLICIT_DENY


@pytest.mark.parametrize("account", [f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT])
def test_account_principal_matches_any_principal_in_that_account(account: str) -> None:
    doc = policy(allow("lambda:InvokeFunction", FUNCTION, Principal={"AWS": account}))
    assert evaluate_resource_policy(doc, invoke(f"arn:aws:iam::{ACCOUNT}:user/x")) is ALLOW
    assert (
        evaluate_resource_policy(doc, invoke(f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s")) is ALLOW
    )
    assert (
        evaluate_resource_policy(doc, invoke("arn:aws:iam::999999999999:user/x")) is IMPLICIT_DENY
    )
    assert evaluate_resource_policy(doc, invoke("lambda.amazonaws.com")) is IMPLICIT_DENY


def test_role_principal_matches_sessions_of_that_role() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/service/stepline-runner"
    doc = policy(allow("lambda:InvokeFunction", FUNCTION, Principal={"AWS": role}))
    assert (
        evaluate_resource_policy(
            doc, invoke(f"arn:aws:sts::{ACCOUNT}:assumed-role/stepline-runner/s1")
        )
        is ALLOW
    )
    assert evaluate_resource_policy(
        doc, invoke(f"arn:aws:sts::{ACCOUNT}:assumed-role/other/s1")
    ) is (IMPLICIT_DENY)
    assert evaluate_resource_policy(
        doc, invoke("arn:aws:sts::999999999999:assumed-role/stepline-runner/s1")
    ) is (IMPLICIT_DENY)


def test_not_principal_is_the_complement() -> None:
    admin = f"arn:aws:iam::{ACCOUNT}:role/admin"
    doc = policy(
        allow("lambda:*", FUNCTION, Principal="*"),
        deny("lambda:*", FUNCTION, NotPrincipal={"AWS": admin}),
    )
    assert evaluate_resource_policy(doc, invoke(admin)) is ALLOW
    assert evaluate_resource_policy(doc, invoke(f"arn:aws:iam::{ACCOUNT}:user/x")) is EXPLICIT_DENY
    assert evaluate_resource_policy(doc, invoke("apigateway.amazonaws.com")) is EXPLICIT_DENY


def test_resource_policy_statement_without_principal_applies_to_nobody() -> None:
    doc = policy(allow("lambda:InvokeFunction", FUNCTION))
    assert evaluate_resource_policy(doc, invoke("apigateway.amazonaws.com")) is IMPLICIT_DENY


def test_resource_policy_statement_without_resource_applies_to_its_resource() -> None:
    doc = policy({"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"})
    assert evaluate_resource_policy(doc, invoke("apigateway.amazonaws.com")) is ALLOW


def test_resource_policy_still_checks_action_and_resource() -> None:
    doc = policy(APIGW_INVOKE)
    request = Request(
        "lambda:GetFunction", FUNCTION, "apigateway.amazonaws.com", {"aws:SourceArn": API}
    )
    assert evaluate_resource_policy(doc, request) is IMPLICIT_DENY


def test_missing_resource_policy_is_implicit_deny() -> None:
    assert evaluate_resource_policy(None, invoke("apigateway.amazonaws.com")) is IMPLICIT_DENY


def test_identity_policy_ignores_principal() -> None:
    assert decide(allow(Principal={"AWS": "arn:aws:iam::999999999999:root"})) is ALLOW


# --- properties -------------------------------------------------------------------------------

OPERATORS = [
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringLike", "StringNotLike",
    "ArnLike", "ArnNotEquals", "Bool", "NumericLessThan", "NumericNotEquals", "Null",
    "StringEqualsIfExists", "ForAllValues:StringLike", "ForAnyValue:StringNotEquals",
    "DateEquals", "Bogus", "IfExists", "ForAnyValue:Null",
]  # fmt: skip
KEYS = ["aws:SourceArn", "AWS:sourcearn", "iam:PassedToService", "aws:TagKeys", "n"]

patterns = st.sampled_from(
    ["*", "?", "s3:*", "dynamodb:Get*", TABLE_A, "arn:aws:*:*:*:*", ""]
) | st.text(max_size=6)
strings = patterns | st.lists(patterns, max_size=3)
junk = st.none() | st.integers() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
scalars = st.text(max_size=6) | st.booleans() | st.integers() | st.floats(allow_nan=False) | junk
condition = st.dictionaries(
    st.sampled_from(OPERATORS),
    st.dictionaries(st.sampled_from(KEYS), scalars | st.lists(scalars, max_size=3), max_size=3)
    | junk,
    max_size=3,
)
principals = (
    st.just("*")
    | st.dictionaries(st.sampled_from(["AWS", "Service", "Federated"]), strings | junk, max_size=2)
    | junk
)
statements = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny", "Maybe"])},
    optional={
        "Sid": st.text(max_size=4),
        "Action": strings | junk,
        "NotAction": strings,
        "Resource": strings | junk,
        "NotResource": strings,
        "Principal": principals,
        "NotPrincipal": principals,
        "Condition": condition | junk,
    },
)
documents = st.fixed_dictionaries({"Statement": st.lists(statements, max_size=4) | statements})
requests = st.builds(
    Request,
    action=patterns,
    resource=patterns,
    principal=st.none()
    | st.sampled_from([f"arn:aws:iam::{ACCOUNT}:root", "events.amazonaws.com"])
    | st.text(max_size=6),
    context=st.dictionaries(
        st.sampled_from(KEYS), st.text(max_size=6) | st.lists(st.text(max_size=6), max_size=3)
    ),
)


@given(st.lists(documents, max_size=3), requests)
def test_evaluation_never_raises_on_statements_of_any_shape(
    docs: list[dict[str, Any]], request: Request
) -> None:
    assert evaluate(docs, request) in Decision
    for doc in docs:
        assert evaluate_resource_policy(doc, request) in Decision


@given(st.lists(documents, max_size=3), requests, st.integers(min_value=0, max_value=3))
def test_a_matching_deny_makes_any_policy_set_explicitly_deny(
    docs: list[dict[str, Any]], request: Request, where: int
) -> None:
    denial = {"Effect": "Deny", "Action": request.action, "Resource": request.resource}
    docs = [*docs[:where], policy(denial), *docs[where:]]
    assert evaluate(docs, request) is EXPLICIT_DENY
    for doc in docs:
        body = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        resource_doc = {"Statement": [*body, {**denial, "Principal": "*"}]}
        assert evaluate_resource_policy(resource_doc, request) is EXPLICIT_DENY
