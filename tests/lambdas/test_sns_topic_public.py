"""sns-topic-public: removes exactly the public statements of a topic policy, and keeps SNS's default statement.

Covers the resource-id forms, SNS's default statement (restricted to the owner account, so kept),
unreadable tags, a topic deleted between the event and the fix, a policy whose every statement is
public (failed, nothing sent), undo from a record's before-state (and the refusal of forged records),
scan agreeing with the fixer over generated policies, and moto's gap (it accepts a policy without
statements, which SNS rejects) modelled with a Stubber.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, EXEMPTION_TAG, REGION, FakeContext, compliance_event, rule_entry, rule_name
from faults import inject_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_scenarios import TOPIC, default_topic_statement, new_topic, public_publish, topic_arn
from remediation import clients
from remediation.fixers import base, public_policy, sns_topic_public
from remediation.fixers.base import NoAction, Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.compliance import no_public_statement
from tests.safety.figures import scale

KEY = "sns-topic-public"
ARN = topic_arn()
PARAMS = sns_topic_public.Params()


def run(resource_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::SNS::Topic", resource_id), FakeContext())


def statements_of(arn: str) -> list[dict[str, Any]]:
    policy = boto3.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    return list(json.loads(policy)["Statement"])


def target(resource_id: str = ARN) -> Target:
    return Target("AWS::SNS::Topic", resource_id, ACCOUNT, REGION)


def test_topic_arns_and_names_of_the_account_are_accepted_and_others_refused() -> None:
    for raw in (ARN, TOPIC, "events.fifo", f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:t"):
        assert sns_topic_public.resource_id("AWS::SNS::Topic", raw, ACCOUNT) == raw
    for raw in ("arn:aws:sns:us-east-1:999999999999:t", "has space", "x" * 257, f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"):
        assert sns_topic_public.resource_id("AWS::SNS::Topic", raw, ACCOUNT) is None
    assert sns_topic_public.resource_id("AWS::SQS::Queue", TOPIC, ACCOUNT) is None


@pytest.mark.parametrize("form", ["arn", "name"])
def test_the_public_statements_go_and_the_default_statement_stays(form: str, requests) -> None:
    arn = new_topic(TOPIC, public_publish("P1"), {**public_publish("Bucket"), "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::logs"}}}, public_publish("P2"))
    default = default_topic_statement()
    requests.clear()
    record = run(arn if form == "arn" else TOPIC)
    assert record["decision"] == "remediated", record["reason"]
    assert statements_of(arn) == [default, {**public_publish("Bucket"), "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::logs"}}}]
    assert [s["Sid"] for s in record["change"]["detail"]["removedStatements"]] == ["P1", "P2"]
    assert requests.operations() == ["GetTopicAttributes", "ListTagsForResource", "SetTopicAttributes", "GetTopicAttributes"]


def test_a_new_topic_with_its_default_policy_is_compliant(requests) -> None:
    arn = new_topic(TOPIC)
    requests.clear()
    assert run(arn)["decision"] == "already_compliant"
    assert requests.writes() == []


def test_a_policy_of_public_statements_only_is_a_failure_and_nothing_is_sent(requests) -> None:
    arn = new_topic(TOPIC)
    only_public = {"Version": "2008-10-17", "Statement": [public_publish()]}
    boto3.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(only_public))
    requests.clear()
    record = run(arn)
    assert record["decision"] == "failed"
    assert "SNS rejects a policy without statements" in record["reason"]
    assert requests.writes() == []
    assert statements_of(arn) == [public_publish()]


def test_unreadable_tags_fail_closed_and_write_nothing(requests) -> None:
    arn = new_topic(TOPIC, public_publish())
    inject_error("sns", "ListTagsForResource", "AuthorizationError", 403)
    record = run(arn)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert public_publish() in statements_of(arn)


def test_an_exempt_topic_is_left_alone() -> None:
    arn = new_topic(TOPIC, public_publish())
    boto3.client("sns").tag_resource(ResourceArn=arn, Tags=[{"Key": EXEMPTION_TAG, "Value": ""}])
    assert run(arn)["decision"] == "exempt"
    assert public_publish() in statements_of(arn)


def test_a_topic_deleted_between_the_event_and_the_fix_is_a_failure_and_not_recreated(monkeypatch: pytest.MonkeyPatch) -> None:
    arn = new_topic(TOPIC, public_publish())
    original_apply = sns_topic_public.apply

    def delete_then_apply(*args: Any) -> Plan:
        boto3.client("sns").delete_topic(TopicArn=arn)
        return original_apply(*args)

    monkeypatch.setattr(sns_topic_public, "apply", delete_then_apply)
    record = run(arn)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert arn not in [topic["TopicArn"] for topic in boto3.client("sns").list_topics()["Topics"]]


def test_manual_mode_plans_and_changes_nothing(deploy, requests) -> None:
    deploy(rules={KEY: rule_entry(mode="manual")})
    arn = new_topic(TOPIC, public_publish())
    record = run(arn)
    assert record["decision"] == "dry_run"
    assert public_publish() in statements_of(arn)
    assert requests.writes() == []


# --- undo ------------------------------------------------------------------------------------------


def test_undo_puts_back_exactly_the_policy_that_was_read() -> None:
    arn = new_topic(TOPIC, public_publish())
    original = boto3.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    record = run(arn)
    current = sns_topic_public.read_state(target())
    calls = sns_topic_public.undo_calls(target(), record["before"], record["change"], PARAMS, current)
    assert [call.to_json() for call in calls] == record["undo"]
    for call in calls:
        base.call(call)
    assert json.loads(boto3.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]) == json.loads(original)


BEFORE = {"topicArn": ARN, "policy": json.dumps({"Statement": [public_publish(), {"Sid": "own", "Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "SNS:Publish"}]})}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"topicArn": topic_arn("other")}, "names topic"),
        ({"topicArn": None}, "names topic"),
        ({"policy": ["not", "text"]}, "not a policy text"),
        ({"policy": json.dumps({"Statement": [public_publish()]})}, "nothing it could undo"),
        ({"policy": json.dumps({"Statement": []})}, "nothing it could undo"),
    ],
)
def test_a_forged_record_is_refused(edit: dict[str, Any], reason: str) -> None:
    with pytest.raises(UndoRefused, match=reason):
        sns_topic_public.undo_calls(target(), {**BEFORE, **edit}, {}, PARAMS, None)


def test_an_honest_record_undoes_by_one_set_topic_attributes_of_the_recorded_text() -> None:
    (call,) = sns_topic_public.undo_calls(target(TOPIC), BEFORE, {}, PARAMS, None)
    assert call.to_json() == {"service": "sns", "operation": "SetTopicAttributes", "params": {"TopicArn": ARN, "AttributeName": "Policy", "AttributeValue": BEFORE["policy"]}}


# --- scan agrees with the fixer ---------------------------------------------------------------------

DEFAULT = {"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": ARN, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}
statement = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]), "Principal": st.sampled_from(["*", {"AWS": "*"}, {"AWS": ACCOUNT}, {"Service": "s3.amazonaws.com"}]), "Action": st.just("SNS:Publish")},
    optional={"Condition": st.sampled_from([
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::logs"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
        {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
        {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}},
        {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}},
    ])},
)


@settings(max_examples=scale("public_policy_examples", 300), deadline=None)
@given(st.booleans(), st.lists(statement, max_size=5))
def test_the_fixer_plans_a_change_exactly_when_config_flags_the_topic(with_default: bool, statements: list[dict[str, Any]]) -> None:
    listed = ([DEFAULT] if with_default else []) + statements
    state = sns_topic_public.TopicState(ARN, json.dumps({"Version": "2008-10-17", "Statement": listed}))
    verdict = no_public_statement(state.to_json(), {})
    planned = sns_topic_public.plan(state, PARAMS)
    assert (planned is not None) == (verdict == "NON_COMPLIANT")
    kept = [s for s in listed if not public_policy.is_public(s)]
    if isinstance(planned, Plan):
        (call,) = planned.calls
        written = json.loads(call.params["AttributeValue"])
        assert written["Statement"] == kept and kept, "never an empty Statement list"
        assert no_public_statement({"policy": call.params["AttributeValue"]}, {}) == "COMPLIANT"
    elif isinstance(planned, NoAction):
        assert planned.decision == "failed" and not kept


@settings(max_examples=scale("public_policy_moto_examples", 15), deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(statement, min_size=1, max_size=4))
def test_through_moto_the_topic_ends_compliant_with_every_other_statement_kept(statements: list[dict[str, Any]]) -> None:
    sns = boto3.client("sns")
    for found in sns.list_topics()["Topics"]:
        sns.delete_topic(TopicArn=found["TopicArn"])
    arn = new_topic(TOPIC, *statements)
    before = statements_of(arn)
    record = run(arn)
    kept = [s for s in before if not public_policy.is_public(s)]
    assert record["decision"] == ("remediated" if len(kept) < len(before) else "already_compliant")
    assert statements_of(arn) == kept


# --- moto gap: moto accepts a policy without statements; SNS rejects it -----------------------------


def test_moto_accepts_a_policy_without_statements() -> None:
    arn = new_topic(TOPIC)
    boto3.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps({"Version": "2008-10-17", "Statement": []}))
    assert statements_of(arn) == []


def test_against_real_sns_behaviour_no_empty_policy_is_ever_sent() -> None:
    """Stubber in place of moto: SNS answers an empty Statement list with InvalidParameter; the fixer never sends one."""
    sns = clients.client("sns")
    only_public = json.dumps({"Version": "2008-10-17", "Statement": [public_publish()]})
    stub = Stubber(sns)
    stub.add_response("get_topic_attributes", {"Attributes": {"Policy": only_public, "TopicArn": ARN}}, {"TopicArn": ARN})
    # Queued for the call the fixer must not make: a SetTopicAttributes would get SNS's real answer.
    stub.add_client_error("set_topic_attributes", "InvalidParameter", "Invalid parameter: Policy Error: null", 400)
    with stub:
        record = run(ARN)
    assert record["decision"] == "failed"
    assert [call["operation"] for call in record["apiCalls"]] == ["GetTopicAttributes"]
