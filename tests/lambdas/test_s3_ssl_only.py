"""s3-ssl-only: one deny-insecure-transport statement added to the bucket policy, nothing else changed.

The property at the heart of it: over generated policies, every existing statement (and every
other top-level member) survives as parsed JSON, in order, and the only addition is the documented
deny. Also: exact plans, the policy-size limit, policies that are already compliant (no write),
unreadable policies, the Config verdict next to the fixer's plan, fail-closed exemptions, a bucket
deleted under the fixer, undo from a record's before-state (delete only what the fixer created,
and only while it is unchanged), and the S3 refusals moto does not model (it stores any policy
text without validation or size limit), stubbed as AWS answers them.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from bucket_cases import deleted_before_the_event, deleted_between_read_and_write, undo_refusal
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remediation import clients
from remediation.fixers import s3_ssl_only
from remediation.fixers.base import ApiCall, NoAction, Plan, Target, call
from remediation.fixers.inverse import NOTHING_TO_UNDO, UndoRefused
from remediation.fixers.s3_ssl_only import POLICY_SIZE_LIMIT, Params, PolicyState, deny_statement, plan
from remediation.handler import lambda_handler

from governance.compliance import config_verdict

KEY = "s3-ssl-only"
BUCKET = "tls-bucket"
ARN = f"arn:aws:s3:::{BUCKET}"
TARGET = Target("AWS::S3::Bucket", BUCKET, ACCOUNT, REGION)
DENY = deny_statement(BUCKET, "aws")
READER = {"Sid": "Readers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/reader"}, "Action": "s3:GetObject", "Resource": f"{ARN}/*"}


def state(policy: Any) -> PolicyState:
    return PolicyState(BUCKET, "aws", policy if policy is None or isinstance(policy, str) else json.dumps(policy))


def written(change: Any) -> dict[str, Any]:
    assert isinstance(change, Plan)
    (put,) = change.calls
    assert (put.operation, put.params["Bucket"]) == ("PutBucketPolicy", BUCKET)
    document: dict[str, Any] = json.loads(put.params["Policy"])
    return document


def run(bucket: str = BUCKET) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::S3::Bucket", bucket), FakeContext())


def make_bucket(policy: dict[str, Any] | None = None) -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    if policy is not None:
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    return BUCKET


def policy_now() -> str | None:
    try:
        text: str = boto3.client("s3").get_bucket_policy(Bucket=BUCKET)["Policy"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None
    return text


# --- exact plans ----------------------------------------------------------------------------------


def test_a_bucket_without_a_policy_gets_one_with_only_the_documented_statement_and_undo_deletes_it() -> None:
    change = plan(state(None), Params())
    document = {"Version": "2012-10-17", "Statement": [DENY]}
    assert change == Plan(
        f"Create a bucket policy of {BUCKET} that denies requests without TLS (aws:SecureTransport false)",
        (ApiCall("s3", "PutBucketPolicy", {"Bucket": BUCKET, "Policy": json.dumps(document, separators=(",", ":"))}),),
        (ApiCall("s3", "DeleteBucketPolicy", {"Bucket": BUCKET}),),
        {"bucket": BUCKET, "createdPolicy": True, "addedStatement": DENY},
    )
    assert {
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [ARN, f"{ARN}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } == DENY


def test_an_existing_policy_is_extended_and_undo_puts_back_its_exact_text() -> None:
    original = '{ "Version": "2012-10-17",  "Id": "keep-me", "Statement": [ {"Sid": "Readers", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tls-bucket/*"} ] }'
    change = plan(state(original), Params())
    assert written(change) == {"Version": "2012-10-17", "Id": "keep-me", "Statement": [READER, DENY]}
    assert isinstance(change, Plan)
    assert change.undo == (ApiCall("s3", "PutBucketPolicy", {"Bucket": BUCKET, "Policy": original}),)
    assert change.summary == f"Add a statement to the bucket policy of {BUCKET} that denies requests without TLS (aws:SecureTransport false)"


def test_a_taken_sid_gets_a_number() -> None:
    taken = [{**READER, "Sid": "DenyInsecureTransport"}, {**READER, "Sid": "DenyInsecureTransport2"}]
    assert written(plan(state({"Version": "2012-10-17", "Statement": taken}), Params()))["Statement"][-1]["Sid"] == "DenyInsecureTransport3"


def test_a_sid_that_is_not_a_string_is_kept_and_does_not_stop_the_plan() -> None:
    odd = [READER, {"Sid": []}, {"Sid": {"nested": 1}}]
    assert written(plan(state({"Version": "2012-10-17", "Statement": odd}), Params()))["Statement"] == [*odd, DENY]


def test_a_single_statement_object_is_kept_as_the_first_statement() -> None:
    assert written(plan(state({"Version": "2012-10-17", "Statement": READER}), Params()))["Statement"] == [READER, DENY]


@pytest.mark.parametrize(
    "statement",
    [
        DENY,
        {**DENY, "Sid": "Other", "Principal": {"AWS": "*"}, "Action": ["s3:*"], "Resource": [f"{ARN}/*", ARN, "arn:aws:s3:::other"]},
        {**DENY, "Action": "*", "Condition": {"Bool": {"AWS:SecureTransport": ["false"]}}},
        {**DENY, "Condition": {"Bool": {"aws:SecureTransport": False}}},
        {key: value for key, value in DENY.items() if key != "Sid"},
    ],
    ids=["documented", "list forms", "any action, key case", "boolean false", "no Sid"],
)
def test_a_policy_that_already_denies_insecure_transport_is_compliant_and_never_written(statement: dict[str, Any]) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [READER, statement]})
    assert plan(state(policy), Params()) is None
    assert config_verdict(KEY, state(policy).to_json(), {}, BUCKET) == "COMPLIANT"


@pytest.mark.parametrize(
    "statement",
    [
        {**DENY, "Effect": "Allow", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {**DENY, "Action": "s3:GetObject"},
        {**DENY, "Resource": f"{ARN}/*"},
        {**DENY, "Resource": ["arn:aws:s3:::other", "arn:aws:s3:::other/*"]},
        {**DENY, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}},
        {**DENY, "Condition": {"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:PrincipalAccount": ACCOUNT}}},
        {**DENY, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
        {**{key: value for key, value in DENY.items() if key != "Principal"}, "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}},
    ],
    ids=["allow over TLS", "one action", "objects only", "other bucket", "one principal", "extra condition", "TLS version", "NotPrincipal"],
)
def test_a_narrower_or_different_statement_gets_the_documented_one_as_well(statement: dict[str, Any]) -> None:
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    # Each of these keeps the documented statement's Sid, so the added one is numbered.
    assert written(plan(state(policy), Params()))["Statement"] == [statement, {**DENY, "Sid": "DenyInsecureTransport2"}]
    assert config_verdict(KEY, state(policy).to_json(), {}, BUCKET) == "NON_COMPLIANT"


@pytest.mark.parametrize("text", ["not json", "[]", '{"Version": "2012-10-17"}', '{"Statement": "x"}'])
def test_a_policy_the_fixer_cannot_read_is_never_rewritten(text: str) -> None:
    assert plan(state(text), Params()) == NoAction("failed", "the bucket policy is not a JSON object with a Statement list, so the fixer will not rewrite it")


def test_a_policy_that_would_outgrow_20_kb_is_a_failure() -> None:
    def policy_with(padding: int) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [{**READER, "Sid": "A" * padding}]}

    base = len(json.dumps(policy_with(0), separators=(",", ":")))
    # The largest padding that still fits once the deny statement is added, and one byte more.
    added = len(json.dumps(written(plan(state(policy_with(0)), Params())), separators=(",", ":"))) - base
    fits = POLICY_SIZE_LIMIT - base - added
    assert len(json.dumps(written(plan(state(policy_with(fits)), Params())), separators=(",", ":"))) == POLICY_SIZE_LIMIT
    refused = plan(state(policy_with(fits + 1)), Params())
    assert refused == NoAction("failed", f"the bucket policy with the deny statement would be {POLICY_SIZE_LIMIT + 1} bytes, over the 20 KB bucket policy limit")


def test_another_partition_gets_its_own_arns() -> None:
    change = plan(PolicyState(BUCKET, "aws-cn", None), Params())
    assert written(change)["Statement"][0]["Resource"] == [f"arn:aws-cn:s3:::{BUCKET}", f"arn:aws-cn:s3:::{BUCKET}/*"]


# --- the "never" column: every existing statement survives, as parsed JSON ----------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
statements = st.one_of(
    st.fixed_dictionaries(
        {
            "Effect": st.sampled_from(["Allow", "Deny"]),
            "Principal": st.sampled_from(["*", {"AWS": "*"}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"Service": "logging.s3.amazonaws.com"}]),
            "Action": st.sampled_from(["s3:*", "*", "s3:GetObject", ["s3:GetObject", "s3:PutObject"]]),
            "Resource": st.sampled_from([ARN, f"{ARN}/*", [ARN, f"{ARN}/*"], "arn:aws:s3:::other/*"]),
        },
        optional={
            "Sid": st.sampled_from(["DenyInsecureTransport", "DenyInsecureTransport2", "Readers", ""]),
            "Condition": st.sampled_from([
                {"Bool": {"aws:SecureTransport": "false"}}, {"Bool": {"aws:SecureTransport": "true"}},
                {"NumericLessThan": {"s3:TlsVersion": "1.2"}}, {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
            ]),
            "Extra": json_values,
        },
    ),
    json_values,
)
policies = st.fixed_dictionaries(
    {"Statement": st.one_of(st.lists(statements, max_size=6), statements.filter(lambda s: isinstance(s, dict)))},
    optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17"]), "Id": st.text(max_size=10), "Other": json_values},
)


@settings(max_examples=400, deadline=None)
@given(policies, st.booleans())
def test_every_existing_statement_survives_and_only_the_deny_is_added(policy: dict[str, Any], indented: bool) -> None:
    text = json.dumps(policy, indent=2 if indented else None)
    current = state(text)
    result = plan(current, Params())
    listed = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    if result is None:
        assert config_verdict(KEY, current.to_json(), {}, BUCKET) == "COMPLIANT"
        return
    assert config_verdict(KEY, current.to_json(), {}, BUCKET) == "NON_COMPLIANT"
    document = written(result)
    assert {key: value for key, value in document.items() if key != "Statement"} == {key: value for key, value in policy.items() if key != "Statement"}
    *kept, added = document["Statement"]
    assert kept == listed, "every statement is kept, in order, as parsed"
    assert {key: value for key, value in added.items() if key != "Sid"} == {key: value for key, value in DENY.items() if key != "Sid"}
    assert added["Sid"] not in [s.get("Sid") for s in listed if isinstance(s, dict)], "the Sid is unique"
    assert isinstance(result, Plan) and result.undo == (ApiCall("s3", "PutBucketPolicy", {"Bucket": BUCKET, "Policy": text}),)
    assert plan(state(json.dumps(document)), Params()) is None, "the written policy is compliant"


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(statements.filter(lambda s: isinstance(s, dict)), min_size=1, max_size=4))
def test_through_moto_the_stored_policy_keeps_every_statement(listed: list[dict[str, Any]]) -> None:
    s3 = boto3.client("s3")
    if BUCKET not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": listed}))
    record = run()
    stored = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    if record["decision"] == "already_compliant":
        assert stored == listed
    else:
        assert record["decision"] == "remediated", record["reason"]
        assert stored[:-1] == listed


# --- through the handler, on moto -------------------------------------------------------------------


def test_unreadable_tags_fail_closed_without_a_write(requests) -> None:
    make_bucket({"Version": "2012-10-17", "Statement": [READER]})
    before = policy_now()
    inject_error("s3", "GetBucketTagging", "AccessDenied", 403)
    record = run()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert policy_now() == before


def test_a_bucket_deleted_before_the_event_is_handled_is_a_failure_without_a_write(requests) -> None:
    deleted_before_the_event(run, make_bucket, requests)


def test_a_bucket_deleted_between_read_and_write_is_not_recreated(monkeypatch) -> None:
    deleted_between_read_and_write(s3_ssl_only, run, make_bucket, monkeypatch)


def test_a_listed_rule_defaults_to_a_dry_run() -> None:
    from governance.settings import load_settings

    settings_ = load_settings({"regions": [REGION], "accounts": [{"id": ACCOUNT}], "rules": {KEY: {}}})
    assert [(rule.key, rule.mode) for rule in settings_.accounts[0].rules] == [(KEY, "manual")]


# --- undo -------------------------------------------------------------------------------------------------


def undo(record: dict[str, Any], current: Any) -> tuple[ApiCall, ...]:
    return s3_ssl_only.undo_calls(TARGET, record["before"], record["change"], Params(), current)


def test_undo_puts_back_the_exact_previous_policy_text() -> None:
    make_bucket({"Version": "2012-10-17", "Statement": [READER]})
    before = policy_now()
    record = run()
    assert record["decision"] == "remediated"
    for api_call in undo(record, s3_ssl_only.read_state(TARGET)):
        call(api_call)
    assert policy_now() == before


def test_undo_deletes_a_policy_the_fixer_created() -> None:
    make_bucket()
    record = run()
    assert record["decision"] == "remediated" and record["change"]["detail"]["createdPolicy"] is True
    for api_call in undo(record, s3_ssl_only.read_state(TARGET)):
        call(api_call)
    assert policy_now() is None


def test_undo_refuses_to_delete_a_created_policy_that_someone_extended_since() -> None:
    make_bucket()
    record = run()
    extended = json.loads(str(policy_now()))
    extended["Statement"].append(READER)
    boto3.client("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(extended))
    with pytest.raises(UndoRefused) as refused:
        undo(record, s3_ssl_only.read_state(TARGET))
    assert str(refused.value) == "the bucket policy is no longer the one the fixer created, so deleting it would remove statements the fixer did not write"


@pytest.mark.parametrize(
    ("before", "refusal"),
    [
        ({"bucket": "other-bucket", "partition": "aws", "policy": None}, f"the record's before-state names bucket 'other-bucket', not the record's resource {BUCKET}"),
        ({"bucket": BUCKET, "partition": "aws", "policy": {"Statement": []}}, "the record's before-state policy is not a policy document"),
        ({"bucket": BUCKET, "partition": "aws-cn", "policy": None}, "the record's before-state names partition 'aws-cn', not the record's aws"),
        ({"bucket": BUCKET, "partition": "aws", "policy": json.dumps({"Statement": [DENY]})}, NOTHING_TO_UNDO),
        ({"bucket": BUCKET, "partition": "aws", "policy": "not json"}, NOTHING_TO_UNDO),
    ],
)
def test_an_edited_record_is_refused(before: dict[str, Any], refusal: str) -> None:
    assert undo_refusal(s3_ssl_only, TARGET, before) == refusal


# --- what moto does not model ---------------------------------------------------------------------


def test_moto_stores_any_policy_so_s3s_refusals_are_stubbed(requests) -> None:
    make_bucket()
    s3 = boto3.client("s3")
    s3.put_bucket_policy(Bucket=BUCKET, Policy="not a policy")
    assert s3.get_bucket_policy(Bucket=BUCKET)["Policy"] == "not a policy", "moto 5.2.5 stores policies unvalidated"
    s3.delete_bucket_policy(Bucket=BUCKET)
    # On AWS a put that S3 refuses (MalformedPolicy, or AccessDenied when Block Public Access's
    # BlockPublicPolicy meets a public statement already in the policy) leaves the policy as it was.
    with Stubber(clients.client("s3")) as stubber:
        stubber.add_client_error("get_bucket_policy", "NoSuchBucketPolicy", "The bucket policy does not exist", 404, expected_params={"Bucket": BUCKET})
        stubber.add_response("get_bucket_tagging", {"TagSet": []}, {"Bucket": BUCKET})
        stubber.add_client_error("put_bucket_policy", "MalformedPolicy", "Policy has invalid resource", 400)
        record = run()
        stubber.assert_no_pending_responses()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "MalformedPolicy" in record["reason"]
    assert policy_now() is None
