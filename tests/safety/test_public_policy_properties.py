"""Properties of the shared public-statement filter (fixers/public_policy.py) that the SQS, SNS and Lambda fixers use.

Over generated policies: every statement that is not public survives byte for byte (as parsed JSON),
in the same order; the result is never more permissive (its statements are a subsequence of the
original and none of them is public; no other key changes); removing is idempotent; and the filter
agrees with the Config verdict that ``scan`` shows.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from remediation.fixers import public_policy

from governance.compliance import no_public_statement
from tests.safety.figures import scale

PURE = scale("public_policy_examples", 1000)
ACCOUNT = "123456789012"

principals = st.one_of(
    st.just("*"),
    st.just({"AWS": "*"}),
    st.just({"AWS": ["111122223333", "*"]}),
    st.just({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
    st.just({"AWS": "arn:aws:iam::*:root"}),
    st.just({"Service": "sns.amazonaws.com"}),
    st.just({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/app", "111122223333"]}),
)
condition_keys = st.sampled_from(
    ["aws:SourceArn", "AWS:SourceOwner", "aws:SourceAccount", "aws:PrincipalOrgID", "aws:SourceVpce", "aws:SourceIp", "aws:SecureTransport", "lambda:FunctionUrlAuthType", "aws:UserAgent"]
)
operators = st.sampled_from(
    ["StringEquals", "StringLike", "ArnEquals", "ArnLike", "StringNotEquals", "StringEqualsIfExists", "ForAllValues:StringEquals", "ForAnyValue:StringEquals", "IpAddress", "Bool", "Null"]
)
values = st.one_of(
    st.sampled_from([ACCOUNT, f"arn:aws:sns:us-east-1:{ACCOUNT}:topic", "o-abcdef1234", "vpce-0123", "10.0.0.0/8", "0.0.0.0/0", "true", "NONE"]),
    st.sampled_from(["arn:aws:sns:*:*:topic", "${aws:username}", "12345678901?", "*"]),
    st.lists(st.sampled_from([ACCOUNT, "111122223333", "*"]), min_size=0, max_size=3),
)
conditions = st.dictionaries(operators, st.dictionaries(condition_keys, values, min_size=1, max_size=2), max_size=2)


@st.composite
def statements(draw: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    if draw(st.booleans()):
        statement["Sid"] = draw(st.text("abcdefXYZ0123456789", min_size=1, max_size=8))
    if draw(st.integers(0, 9)) == 0:
        statement["NotPrincipal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    else:
        statement["Principal"] = draw(principals)
    statement["Action"] = draw(st.sampled_from(["sqs:SendMessage", ["sns:Publish", "sns:Subscribe"], "lambda:InvokeFunction", "*"]))
    statement["Resource"] = "arn:aws:sqs:us-east-1:123456789012:queue"
    condition = draw(conditions)
    if condition:
        statement["Condition"] = condition
    return statement


policies = st.builds(
    lambda version, listed, single: {"Version": version, "Id": "policy-id", "Statement": listed if single is None else single},
    st.sampled_from(["2012-10-17", "2008-10-17"]),
    st.lists(statements(), max_size=6),
    st.one_of(st.none(), st.none(), statements()),
)


def _is_subsequence(part: list[Any], whole: list[Any]) -> bool:
    remaining = iter(whole)
    return all(any(item == candidate for candidate in remaining) for item in part)


@settings(max_examples=PURE, deadline=None)
@given(policies)
def test_statements_that_are_not_public_survive_unchanged_and_in_order(policy: dict[str, Any]) -> None:
    document = public_policy.parse(json.dumps(policy))
    result = public_policy.without_public(document)
    original = public_policy.statements_of(document)
    expected = [statement for statement in original if not public_policy.is_public(statement)]
    assert public_policy.statements_of(result) == expected
    assert [json.dumps(s) for s in public_policy.split(document).kept] == [json.dumps(s) for s in expected]


@settings(max_examples=PURE, deadline=None)
@given(policies)
def test_the_result_is_never_more_permissive(policy: dict[str, Any]) -> None:
    document = public_policy.parse(json.dumps(policy))
    result = public_policy.without_public(document)
    kept = public_policy.statements_of(result)
    assert _is_subsequence(kept, public_policy.statements_of(document)), "no statement is added or changed"
    assert not any(public_policy.is_public(statement) for statement in kept)
    assert {key: value for key, value in result.items() if key != "Statement"} == {key: value for key, value in document.items() if key != "Statement"}
    assert policy == json.loads(json.dumps(policy)), "the input is not modified"


@settings(max_examples=PURE, deadline=None)
@given(policies)
def test_removing_is_idempotent(policy: dict[str, Any]) -> None:
    once = public_policy.without_public(policy)
    assert public_policy.without_public(once) == once
    assert public_policy.split(once).public == ()


@settings(max_examples=PURE, deadline=None)
@given(policies)
def test_the_config_verdict_is_non_compliant_exactly_when_a_statement_is_public(policy: dict[str, Any]) -> None:
    verdict = no_public_statement({"policy": json.dumps(policy)}, {})
    assert (verdict == "NON_COMPLIANT") == bool(public_policy.split(policy).public)


def test_an_empty_result_is_an_empty_statement_list() -> None:
    single = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}}
    assert public_policy.without_public(single)["Statement"] == []
    listed = {"Version": "2012-10-17", "Statement": [single["Statement"], single["Statement"]]}
    assert public_policy.without_public(listed) == {"Version": "2012-10-17", "Statement": []}


def test_a_single_statement_object_that_is_not_public_stays_an_object() -> None:
    single = {"Statement": {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sqs:SendMessage"}}
    assert public_policy.without_public(single) == single


def test_texts_that_are_not_policies_are_refused() -> None:
    for text in ("", "not json", "[]", '{"Statement": ["x"]}', '{"Statement": 3}'):
        try:
            public_policy.parse(text)
        except public_policy.NotAPolicy:
            continue
        raise AssertionError(f"{text!r} was taken for a policy")
