"""sqs-queue-public: removes exactly the public statements of a queue policy, and nothing else.

Covers the resource-id forms (URL, legacy URL, ARN, name), unreadable tags, a queue deleted between
the event and the fix, a policy whose every statement is public (the policy is removed), undo from a
record's before-state (and the refusal of forged records), scan agreeing with the fixer over generated
policies, and moto's SetQueueAttributes gap modelled with a Stubber of the real behaviour.
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
from lambda_scenarios import QUEUE, new_queue, public_send, queue_arn, queue_policy, topic_send
from remediation import clients
from remediation.fixers import base, public_policy, sqs_queue_public
from remediation.fixers.base import NoAction, Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.compliance import no_public_statement
from tests.safety.figures import scale

KEY = "sqs-queue-public"
URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{QUEUE}"
PARAMS = sqs_queue_public.Params()


def run(resource_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::SQS::Queue", resource_id), FakeContext())


def policy_of(url: str) -> str | None:
    return boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")


def target(resource_id: str = URL) -> Target:
    return Target("AWS::SQS::Queue", resource_id, ACCOUNT, REGION)


# --- resource ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [URL, f"https://{REGION}.queue.amazonaws.com/{ACCOUNT}/{QUEUE}", queue_arn(), QUEUE, "orders.fifo", f"https://sqs.cn-north-1.amazonaws.com.cn/{ACCOUNT}/q"],
)
def test_a_queue_url_arn_or_name_of_the_account_is_accepted_as_given(raw: str) -> None:
    assert sqs_queue_public.resource_id("AWS::SQS::Queue", raw, ACCOUNT) == raw


@pytest.mark.parametrize(
    "raw",
    [f"https://sqs.{REGION}.amazonaws.com/999999999999/{QUEUE}", "arn:aws:sqs:us-east-1:999999999999:q", "has space", "x" * 81, "q.fifo.fifo", "http://sqs.us-east-1.amazonaws.com/123456789012/q"],
)
def test_ids_of_other_accounts_or_malformed_ids_are_refused(raw: str) -> None:
    assert sqs_queue_public.resource_id("AWS::SQS::Queue", raw, ACCOUNT) is None
    assert sqs_queue_public.resource_id("AWS::SNS::Topic", QUEUE, ACCOUNT) is None


@pytest.mark.parametrize("form", ["url", "arn", "name"])
def test_every_id_form_resolves_to_the_same_queue_and_is_fixed(form: str) -> None:
    url = new_queue(QUEUE, topic_send(), public_send())
    resource_id = {"url": url, "arn": queue_arn(), "name": QUEUE}[form]
    record = run(resource_id)
    assert record["decision"] == "remediated", record["reason"]
    assert json.loads(policy_of(url) or "{}")["Statement"] == [topic_send()]
    assert record["before"]["queueUrl"] == url


# --- the fix ---------------------------------------------------------------------------------------


def test_only_the_public_statements_go_and_the_others_stay_in_order(requests) -> None:
    kept = [topic_send("A"), {"Sid": "B", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": queue_arn(), "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "C", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sqs:SendMessage", "Resource": queue_arn()}]
    url = new_queue(QUEUE, public_send("P1"), kept[0], kept[1], public_send("P2"), kept[2])
    requests.clear()
    record = run(url)
    assert record["decision"] == "remediated"
    policy = json.loads(policy_of(url) or "{}")
    assert policy["Statement"] == kept
    assert {key: value for key, value in policy.items() if key != "Statement"} == {"Version": "2012-10-17", "Id": "queue-policy"}
    assert [s["Sid"] for s in record["change"]["detail"]["removedStatements"]] == ["P1", "P2"]
    (write,) = [call for call in record["apiCalls"] if call["operation"] == "SetQueueAttributes"]
    assert list(write["params"]["Attributes"]) == ["Policy"], "only the policy attribute is ever sent"


def test_a_policy_of_public_statements_only_is_removed() -> None:
    url = new_queue(QUEUE, public_send("P1"), public_send("P2"))
    record = run(url)
    assert record["decision"] == "remediated"
    assert record["change"]["calls"][0]["params"] == {"QueueUrl": url, "Attributes": {"Policy": ""}}
    assert policy_of(url) is None


def test_a_queue_without_a_policy_is_compliant(requests) -> None:
    url = new_queue(QUEUE)
    requests.clear()
    assert run(url)["decision"] == "already_compliant"
    assert requests.writes() == []


def test_unreadable_tags_fail_closed_and_write_nothing(requests) -> None:
    url = new_queue(QUEUE, public_send())
    inject_error("sqs", "ListQueueTags", "AccessDenied", 403)
    record = run(url)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert json.loads(policy_of(url) or "{}")["Statement"] == [public_send()]


def test_an_exempt_queue_is_left_alone() -> None:
    url = new_queue(QUEUE, public_send())
    boto3.client("sqs").tag_queue(QueueUrl=url, Tags={EXEMPTION_TAG: ""})
    assert run(url)["decision"] == "exempt"
    assert json.loads(policy_of(url) or "{}")["Statement"] == [public_send()]


def test_a_queue_deleted_between_the_event_and_the_fix_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    url = new_queue(QUEUE, public_send())
    original_apply = sqs_queue_public.apply

    def delete_then_apply(*args: Any) -> Plan:
        boto3.client("sqs").delete_queue(QueueUrl=url)
        return original_apply(*args)

    monkeypatch.setattr(sqs_queue_public, "apply", delete_then_apply)
    record = run(url)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert URL not in boto3.client("sqs").list_queues().get("QueueUrls", [])


def test_a_queue_gone_before_the_event_is_a_failure(requests) -> None:
    record = run(URL)
    assert record["decision"] == "failed"
    assert requests.writes() == []


def test_manual_mode_plans_and_changes_nothing(deploy, requests) -> None:
    deploy(rules={KEY: rule_entry(mode="manual")})
    url = new_queue(QUEUE, public_send())
    record = run(url)
    assert record["decision"] == "dry_run"
    assert json.loads(policy_of(url) or "{}")["Statement"] == [public_send()]
    assert requests.writes() == []


# --- undo ------------------------------------------------------------------------------------------


def test_undo_puts_back_exactly_the_policy_that_was_read() -> None:
    url = new_queue(QUEUE, topic_send(), public_send())
    original = policy_of(url)
    record = run(url)
    current = sqs_queue_public.read_state(target(url))
    calls = sqs_queue_public.undo_calls(target(url), record["before"], record["change"], PARAMS, current)
    assert [call.to_json() for call in calls] == record["undo"]
    for call in calls:
        base.call(call)
    assert policy_of(url) == original


def test_undo_of_a_removed_policy_puts_it_back() -> None:
    url = new_queue(QUEUE, public_send())
    original = policy_of(url)
    record = run(url)
    assert policy_of(url) is None
    for call in sqs_queue_public.undo_calls(target(url), record["before"], record["change"], PARAMS, None):
        base.call(call)
    assert policy_of(url) == original


BEFORE = {"queueUrl": URL, "queueArn": queue_arn(), "policy": queue_policy(public_send())}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"queueUrl": URL.replace(QUEUE, "other")}, "names queue"),
        ({"queueArn": queue_arn("other")}, "names queue"),
        ({"queueUrl": URL.replace(ACCOUNT, "999999999999")}, "names queue"),
        ({"queueUrl": None}, "does not name a queue URL and ARN"),
        ({"policy": {"Statement": []}}, "not a policy text"),
        ({"policy": queue_policy(topic_send())}, "nothing it could undo"),
        ({"policy": None}, "nothing it could undo"),
    ],
)
def test_a_forged_record_is_refused(edit: dict[str, Any], reason: str) -> None:
    with pytest.raises(UndoRefused, match=reason):
        sqs_queue_public.undo_calls(target(), {**BEFORE, **edit}, {}, PARAMS, None)


def test_a_record_of_another_queue_is_refused_by_name_and_arn_too() -> None:
    for resource_id in ("other", queue_arn("other")):
        with pytest.raises(UndoRefused, match="names queue"):
            sqs_queue_public.undo_calls(target(resource_id), BEFORE, {}, PARAMS, None)
    assert sqs_queue_public.undo_calls(target(QUEUE), BEFORE, {}, PARAMS, None)[0].params["QueueUrl"] == URL


def test_a_before_state_that_is_not_a_policy_is_a_failed_plan_not_a_change() -> None:
    result = sqs_queue_public.plan(sqs_queue_public.QueueState(URL, queue_arn(), "not json"), PARAMS)
    assert isinstance(result, NoAction) and result.decision == "failed"
    assert no_public_statement({"policy": "not json"}, {}) == "NON_COMPLIANT"


# --- scan agrees with the fixer ---------------------------------------------------------------------

statement = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]), "Principal": st.sampled_from(["*", {"AWS": "*"}, {"AWS": ACCOUNT}, {"Service": "sns.amazonaws.com"}]), "Action": st.just("sqs:SendMessage")},
    optional={"Condition": st.sampled_from([
        {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:t"}},
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
        {"Bool": {"aws:SecureTransport": "true"}},
    ])},
)


@settings(max_examples=scale("public_policy_examples", 300), deadline=None)
@given(st.one_of(st.none(), st.lists(statement, max_size=5)))
def test_the_fixer_plans_a_change_exactly_when_config_flags_the_queue(statements: list[dict[str, Any]] | None) -> None:
    text = None if statements is None else queue_policy(*statements)
    state = sqs_queue_public.QueueState(URL, queue_arn(), text)
    verdict = no_public_statement(state.to_json(), {})
    planned = sqs_queue_public.plan(state, PARAMS)
    assert (planned is not None) == (verdict == "NON_COMPLIANT")
    if isinstance(planned, Plan):
        (call,) = planned.calls
        written = call.params["Attributes"]["Policy"]
        assert written == "" or no_public_statement({"policy": written}, {}) == "COMPLIANT", "one write makes the queue compliant"
        kept = [s for s in statements or [] if not public_policy.is_public(s)]
        assert (written == "") == (kept == [])
        assert written == "" or json.loads(written)["Statement"] == kept


@settings(max_examples=scale("public_policy_moto_examples", 15), deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(statement, min_size=1, max_size=4))
def test_through_moto_the_queue_ends_compliant_with_every_other_statement_kept(statements: list[dict[str, Any]]) -> None:
    sqs = boto3.client("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    url = new_queue(QUEUE, *statements)
    record = run(url)
    kept = [s for s in statements if not public_policy.is_public(s)]
    assert record["decision"] == ("remediated" if len(kept) < len(statements) else "already_compliant")
    after = policy_of(url)
    assert (json.loads(after)["Statement"] if after else []) == kept


# --- moto gap: SetQueueAttributes without Policy wipes the policy in moto, not on AWS ---------------


def test_moto_wipes_the_policy_on_any_set_queue_attributes_without_it() -> None:
    # Why the fixer's write carries Policy only, and why its tests read the policy back: in moto a write
    # of any other attribute alone removes the policy (moto/sqs/models.py, Queue._set_attributes).
    url = new_queue(QUEUE, public_send())
    boto3.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    assert policy_of(url) is None


def test_against_real_sqs_behaviour_only_the_policy_changes() -> None:
    """Stubber in place of moto: real SQS keeps every attribute a SetQueueAttributes does not name."""
    sqs = clients.client("sqs")
    before = queue_policy(topic_send(), public_send())
    after = queue_policy(topic_send())
    stub = Stubber(sqs)
    stub.add_response("get_queue_attributes", {"Attributes": {"Policy": before, "QueueArn": queue_arn()}}, {"QueueUrl": URL, "AttributeNames": ["Policy", "QueueArn"]})
    stub.add_response("list_queue_tags", {"Tags": {"team": "orders"}}, {"QueueUrl": URL})
    stub.add_response("set_queue_attributes", {}, {"QueueUrl": URL, "Attributes": {"Policy": json.dumps(json.loads(after))}})
    stub.add_response("get_queue_attributes", {"Attributes": {"Policy": after, "QueueArn": queue_arn()}}, {"QueueUrl": URL, "AttributeNames": ["Policy", "QueueArn"]})
    with stub:
        record = run(URL)
    stub.assert_no_pending_responses()
    assert record["decision"] == "remediated" and record["after"]["policy"] == after
