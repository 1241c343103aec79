"""SecretMask: secret values redacted for good, or hidden and restored as a pair; LogRedaction."""

from __future__ import annotations

import io
import json
import logging
import re
import traceback
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from hypothesis import given, settings
from hypothesis import strategies as st

from stepline.integrations.secrets import MARK, LogRedaction, SecretMask, redact, secret_values
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.templating import TemplateError, render

TOKEN = "TOKEN-7F3A-LONG-ENOUGH-TO-BE-CUT"
PASSWORD = 'PW"\\É\n'  # needs escaping in JSON, and is not ASCII
REFS = [("api", "token", None), ("db", "password", "AWSPREVIOUS")]
SECRETS = {"api": {"token": TOKEN, "other": "x"}, "db@AWSPREVIOUS": {"password": PASSWORD}}
MASK = SecretMask.of(REFS, SECRETS)


def _forms(value: str) -> list[str]:
    """How a value shows up in text: as it is, JSON-escaped (raw and ASCII), twice escaped."""
    once, ascii_once = json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]
    return [
        value,
        once,
        ascii_once,
        json.dumps(once, ensure_ascii=False)[1:-1],
        json.dumps(ascii_once)[1:-1],
    ]


FRAGMENTS = st.sampled_from(
    [
        *_forms(TOKEN),
        *_forms(PASSWORD),
        f'"{TOKEN[:10]}...',  # jq's shortened quote of a value in its error messages
        '"TOK...',
        '"other...',
        MARK,
        f"{MARK}secret:0{MARK}",  # data that looks like a marker
        f"{MARK}secret:1:j{MARK}",
        f"{MARK}{MARK}",
        "secret:",
        '"',
        "\\",
        "...",
        "Bearer ",
        "x",
    ]
)
TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=8).map("".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


def _shown(value: Any) -> str:
    """Every text a value may be shown as."""
    return json.dumps(value, ensure_ascii=False) + json.dumps(value)


def _leaks(value: Any) -> list[str]:
    text = _shown(value)
    return [form for form in _forms(TOKEN) + _forms(PASSWORD) if form in text]


MARKER = re.compile(f"{MARK}secret:\\d+(?::[a-z0-9]+)?{MARK}")


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_restore_undoes_hide_for_any_json_value(value: Any) -> None:
    hidden = MASK.hide(value)
    assert json.loads(json.dumps(hidden)) == hidden  # still JSON
    assert MASK.restore(hidden) == value


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_neither_hidden_nor_redacted_values_show_a_secret(value: Any) -> None:
    assert _leaks(MASK.hide(value)) == []
    assert _leaks(MASK.redact(value)) == []


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_redacted_values_show_no_markers(value: Any) -> None:
    assert not MARKER.search(json.dumps(MASK.redact(MASK.hide(value)), ensure_ascii=False))


def test_markers_tell_the_reference_and_form_but_not_the_value() -> None:
    value = {
        "auth": f"Bearer {TOKEN}",
        TOKEN: [json.dumps({"pw": PASSWORD})],
        "error": f'string ("{TOKEN[:10]}...) and number (1) cannot be added',
    }
    hidden = MASK.hide(value)
    assert hidden == {
        "auth": f"Bearer {MARK}secret:0{MARK}",
        f"{MARK}secret:0{MARK}": [f'{{"pw": "{MARK}secret:1:a{MARK}"}}'],
        "error": f"string ({MARK}secret:0:q10{MARK}) and number (1) cannot be added",
    }
    other = SecretMask.of(REFS, {"api": {"token": "T2" * 20}, "db@AWSPREVIOUS": {"password": "p"}})
    assert other.hide(f"Bearer {'T2' * 20}") == hidden["auth"]  # the same, whatever the value


def test_the_numbers_of_references_do_not_depend_on_their_order() -> None:
    assert SecretMask.of(reversed(REFS), SECRETS).hide(TOKEN) == MASK.hide(TOKEN)


def test_restore_puts_back_the_values_as_they_are_read_now() -> None:
    hidden = MASK.hide({"auth": f"Bearer {TOKEN}"})
    rotated = SecretMask.of(REFS, {**SECRETS, "api": {"token": "NEW"}})
    assert rotated.restore(hidden) == {"auth": "Bearer NEW"}


@pytest.mark.parametrize(
    "secrets",
    [
        {"db@AWSPREVIOUS": {"password": PASSWORD}},  # the secret is gone
        {"api": {"other": "x"}, "db@AWSPREVIOUS": {"password": PASSWORD}},  # its key is gone
    ],
)
def test_a_marker_whose_secret_is_gone_is_an_invalid_argument(secrets: Any) -> None:
    hidden = MASK.hide({"auth": f"Bearer {TOKEN}"})
    with pytest.raises(StepFailure) as caught:
        SecretMask.of(REFS, secrets).restore(hidden)
    assert caught.value.code == WorkflowErrorCode.STEP_INVALID_ARGUMENT
    assert "secret api key token" in caught.value.message
    assert TOKEN not in caught.value.message


def test_redact_shows_stray_markers_as_redacted() -> None:
    assert MASK.redact(f"a {MARK}secret:1{MARK} b {MARK} c") == f"a *** b {MARK} c"


def test_jq_error_messages_quoting_a_secret_are_redacted() -> None:
    template = '\\(lockboxPayload("api"; "token") | tonumber)'
    with pytest.raises(TemplateError) as caught:
        render(template, {}, secrets=SECRETS)
    assert TOKEN[:10] in caught.value.message  # jq quotes the start of the value
    assert TOKEN[:10] not in MASK.redact_text(caught.value.message)
    assert "***" in MASK.redact_text(caught.value.message)


def test_only_the_values_of_the_references_are_masked() -> None:
    assert MASK.redact("x and y") == "x and y"  # "other" of the api secret is never read
    assert redact("x", SECRETS) == "***"  # redact masks every value of a mapping


def test_an_empty_mask_changes_nothing() -> None:
    value = {"a": [f"{MARK}secret:0{MARK}"]}
    mask = SecretMask()
    assert not mask
    assert mask.hide(value) is value
    assert mask.redact(value) is value
    assert mask.restore({"a": [MARK]}) == {"a": [MARK]}


def test_secret_values_lists_every_form_longest_first() -> None:
    values = secret_values({"db": {"pw": 'p"w'}, "e": {"k": ""}})
    assert values == ['p\\\\\\"w', 'p\\"w', 'p"w']


def test_redact_exception_redacts_its_text_causes_and_context() -> None:
    try:
        try:
            raise KeyError(TOKEN)
        except KeyError as inner:
            failure = StepFailure(WorkflowErrorCode.STEP_INTERNAL, f"bad {TOKEN}")
            failure.add_note(f"note {TOKEN}")
            raise failure from inner
    except StepFailure as caught:
        MASK.redact_exception(caught)
        assert (str(caught), caught.message, caught.__notes__) == (
            "bad ***",
            "bad ***",
            ["note ***"],
        )
        assert str(caught.__cause__) == "'***'"
        assert TOKEN not in "".join(traceback.format_exception(caught))


# --- log lines -------------------------------------------------------------------------------


def _logger() -> tuple[Logger, io.StringIO, LogRedaction]:
    stream = io.StringIO()
    logger = Logger(service=f"secrets-mask-{uuid.uuid4().hex}", stream=stream)  # a new one
    redaction = LogRedaction()
    logger.addFilter(redaction)
    return logger, stream, redaction


def test_log_records_of_an_execution_in_scope_are_redacted() -> None:
    logger, stream, redaction = _logger()
    with redaction.scope("e1"):
        redaction.use("e1", MASK)
        try:
            raise ValueError(f"cannot use {TOKEN}")
        except ValueError:
            logger.exception("failed with %s", TOKEN, extra={"input": {"auth": TOKEN}})
        logger.info({"message": f"Bearer {TOKEN}"})
        logger.warning(f"pw {json.dumps(PASSWORD)}")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert TOKEN not in stream.getvalue() and TOKEN[:10] not in stream.getvalue()
    assert json.dumps(PASSWORD)[1:-1] not in stream.getvalue()
    assert lines[0]["message"] == "failed with ***"
    assert lines[0]["input"] == {"auth": "***"}
    assert lines[0]["exception_name"] == "ValueError"
    assert lines[0]["exception"].endswith("ValueError: cannot use ***")
    assert lines[1]["message"] == {"message": "Bearer ***"}
    assert lines[2]["message"] == 'pw "***"'


def test_scopes_nest_and_log_records_outside_every_scope_are_left_alone() -> None:
    logger, stream, redaction = _logger()
    with redaction.scope("e1"):
        with redaction.scope("e1"):
            redaction.use("e1", MASK)
        assert redaction.mask_of("e1") is MASK  # the outer scope still holds it
        logger.info(TOKEN)
    redaction.use("e1", MASK)  # no scope: nothing to remember it for
    assert not redaction.mask_of("e1")
    logger.info(TOKEN)
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "***",
        TOKEN,
    ]


def test_log_records_are_redacted_with_every_execution_in_scope() -> None:
    logger, stream, redaction = _logger()
    with redaction.scope("e1"), redaction.scope("e2"):
        redaction.use("e1", SecretMask.of_values(["ONE-SECRET"]))
        redaction.use("e2", SecretMask.of_values(["TWO-SECRET"]))
        logger.info("ONE-SECRET TWO-SECRET")
    assert json.loads(stream.getvalue())["message"] == "*** ***"


def test_a_record_without_secrets_is_not_changed() -> None:
    record = logging.makeLogRecord({"msg": "hello %s", "args": ("you",)})
    redaction = LogRedaction()
    with redaction.scope("e1"):
        redaction.use("e1", MASK)
        assert redaction.filter(record)
    assert (record.msg, record.args) == ("hello %s", ("you",))


@pytest.mark.parametrize("cut", [4, 10, 25])
def test_a_message_cut_short_inside_a_secret_shows_none_of_it(cut: int) -> None:
    secret = "s3cr3t-0123456789abcdef0123456789"
    mask = SecretMask.of_values([secret])
    message = f"GET https://api.test/x answered 500: token={secret}"[: 43 + cut]

    shown = mask.redact_text(message)

    assert shown.endswith("token=***") and secret[:cut] not in shown
