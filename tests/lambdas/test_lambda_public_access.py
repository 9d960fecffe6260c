"""lambda-public-access: RemovePermission for exactly the public statements; undo re-adds them with AddPermission.

Covers the resource-id forms, statements AddPermission could not re-create (the whole fix is then
``failed``), the RevisionId guard, unreadable tags, a function deleted before or during the fix, undo
from a record's before-state (re-adding exactly the removed permissions, and refusing forged records),
scan agreeing with the fixer over generated policies, and the real form of function-URL statements
(a condition, which moto 5.2.5 keeps as a statement key: see lambda_model.py) through a Stubber.
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
from lambda_scenarios import BUCKET_INVOKE, FUNCTION, PUBLIC_INVOKE, function_arn, new_function
from remediation import clients
from remediation.fixers import base, lambda_public_access, public_policy
from remediation.fixers.base import NoAction, Plan, Target
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.compliance import no_public_statement
from tests.safety.figures import scale

KEY = "lambda-public-access"
ARN = function_arn()
PARAMS = lambda_public_access.Params()
URL_INVOKE = {"StatementId": "PublicUrl", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"}
WILDCARD_SOURCE = {"StatementId": "AnyBucket", "Action": "lambda:InvokeFunction", "Principal": "*", "SourceArn": "arn:aws:s3:::*"}


def run(resource_id: str = FUNCTION) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::Lambda::Function", resource_id), FakeContext())


def statements_of(name: str = FUNCTION) -> list[dict[str, Any]]:
    try:
        return list(json.loads(boto3.client("lambda").get_policy(FunctionName=name)["Policy"])["Statement"])
    except boto3.client("lambda").exceptions.ResourceNotFoundException:
        return []


def target(resource_id: str = FUNCTION) -> Target:
    return Target("AWS::Lambda::Function", resource_id, ACCOUNT, REGION)


def test_function_names_and_unqualified_arns_of_the_account_are_accepted_and_others_refused() -> None:
    for raw in (FUNCTION, ARN, "f_1-x"):
        assert lambda_public_access.resource_id("AWS::Lambda::Function", raw, ACCOUNT) == raw
    for raw in (f"{ARN}:prod", "arn:aws:lambda:us-east-1:999999999999:function:f", "x" * 65, "has space"):
        assert lambda_public_access.resource_id("AWS::Lambda::Function", raw, ACCOUNT) is None
    assert lambda_public_access.resource_id("AWS::SNS::Topic", FUNCTION, ACCOUNT) is None


@pytest.mark.parametrize("form", ["name", "arn"])
def test_only_the_public_statements_are_removed(form: str, requests) -> None:
    new_function(FUNCTION, PUBLIC_INVOKE, BUCKET_INVOKE, URL_INVOKE, WILDCARD_SOURCE)
    kept = [s for s in statements_of() if s["Sid"] == "FromBucket"]
    requests.clear()
    record = run(FUNCTION if form == "name" else ARN)
    assert record["decision"] == "remediated", record["reason"]
    assert statements_of() == kept
    removes = [call for call in record["apiCalls"] if call["operation"] == "RemovePermission"]
    assert [call["params"]["StatementId"] for call in removes] == ["PublicInvoke", "PublicUrl", "AnyBucket"]
    assert "RevisionId" in removes[0]["params"] and all("RevisionId" not in call["params"] for call in removes[1:])
    assert requests.operations() == ["GetPolicy", "ListTags", "RemovePermission", "RemovePermission", "RemovePermission", "GetPolicy"]


def test_a_function_without_a_policy_is_compliant(requests) -> None:
    new_function(FUNCTION)
    requests.clear()
    assert run()["decision"] == "already_compliant"
    assert requests.writes() == []


def test_a_statement_add_permission_could_not_re_create_leaves_the_whole_policy_alone() -> None:
    state = lambda_public_access.FunctionState(FUNCTION, ARN, json.dumps({"Statement": [
        {"Sid": "Fine", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": ARN},
        {"Sid": "Tls", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": ARN, "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    ]}), "rev")
    result = lambda_public_access.plan(state, PARAMS)
    assert isinstance(result, NoAction) and result.decision == "failed"
    assert "'Tls'" in result.reason and "could not be undone" in result.reason


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ({"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": ARN}, "no Sid"),
        ({"Sid": "a", "Effect": "Allow", "Principal": "*", "Action": ["lambda:InvokeFunction", "lambda:GetFunction"], "Resource": ARN}, "list of actions"),
        ({"Sid": "a", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": f"{ARN}:prod"}, "not the unqualified function"),
        ({"Sid": "a", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "lambda:InvokeFunction", "Resource": ARN}, "principal"),
        ({"Sid": "a", "Effect": "Allow", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "lambda:InvokeFunction", "Resource": ARN}, "NotPrincipal"),
    ],
)
def test_each_statement_add_permission_cannot_write_is_named(statement: dict[str, Any], why: str) -> None:
    result = lambda_public_access.add_permission_params(statement, FUNCTION, ARN)
    assert isinstance(result, str) and why in result


def test_a_policy_changed_since_the_read_is_not_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    new_function(FUNCTION, PUBLIC_INVOKE)
    original_apply = lambda_public_access.apply

    def change_then_apply(*args: Any) -> Plan:
        boto3.client("lambda").add_permission(FunctionName=FUNCTION, **BUCKET_INVOKE)
        return original_apply(*args)

    monkeypatch.setattr(lambda_public_access, "apply", change_then_apply)
    record = run()
    assert record["decision"] == "failed" and "PreconditionFailedException" in record["reason"]
    assert [s["Sid"] for s in statements_of()] == ["PublicInvoke", "FromBucket"]


def test_unreadable_tags_fail_closed_and_write_nothing(requests) -> None:
    new_function(FUNCTION, PUBLIC_INVOKE)
    inject_error("lambda", "ListTags", "AccessDeniedException", 403)
    record = run()
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert [s["Sid"] for s in statements_of()] == ["PublicInvoke"]


def test_an_exempt_function_is_left_alone() -> None:
    new_function(FUNCTION, PUBLIC_INVOKE)
    boto3.client("lambda").tag_resource(Resource=ARN, Tags={EXEMPTION_TAG: ""})
    assert run()["decision"] == "exempt"
    assert [s["Sid"] for s in statements_of()] == ["PublicInvoke"]


def test_a_function_deleted_during_the_fix_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    new_function(FUNCTION, PUBLIC_INVOKE)
    original_apply = lambda_public_access.apply

    def delete_then_apply(*args: Any) -> Plan:
        boto3.client("lambda").delete_function(FunctionName=FUNCTION)
        return original_apply(*args)

    monkeypatch.setattr(lambda_public_access, "apply", delete_then_apply)
    record = run()
    assert (record["decision"], record["level"]) == ("failed", "error")


def test_a_function_deleted_before_the_event_has_nothing_public(requests) -> None:
    record = run("deleted-function")
    assert record["decision"] == "already_compliant"
    assert requests.writes() == []


def test_manual_mode_plans_and_changes_nothing(deploy, requests) -> None:
    deploy(rules={KEY: rule_entry(mode="manual")})
    new_function(FUNCTION, PUBLIC_INVOKE)
    assert run()["decision"] == "dry_run"
    assert requests.writes() == []


# --- undo ------------------------------------------------------------------------------------------


def test_undo_re_adds_exactly_the_removed_permissions() -> None:
    new_function(FUNCTION, BUCKET_INVOKE, PUBLIC_INVOKE, URL_INVOKE, WILDCARD_SOURCE)
    before = statements_of()
    record = run()
    current = lambda_public_access.read_state(target())
    calls = lambda_public_access.undo_calls(target(), record["before"], record["change"], PARAMS, current)
    assert [call.to_json() for call in calls] == record["undo"]
    assert {call.operation for call in calls} == {"AddPermission"}
    for call in calls:
        base.call(call)
    by_sid = {s["Sid"]: s for s in statements_of()}
    assert by_sid == {s["Sid"]: s for s in before}, "every removed statement is back as it was"


def honest_before(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"functionName": FUNCTION, "functionArn": ARN, "policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), "revisionId": "rev-1"}


PUBLIC = {"Sid": "PublicInvoke", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": ARN}


def test_an_honest_record_is_undone_by_add_permission_calls() -> None:
    url = {**PUBLIC, "Sid": "Url", "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
    calls = lambda_public_access.undo_calls(target(), honest_before(PUBLIC, url), {}, PARAMS, None)
    assert [call.to_json() for call in calls] == [
        {"service": "lambda", "operation": "AddPermission", "params": {"FunctionName": FUNCTION, "StatementId": "PublicInvoke", "Action": "lambda:InvokeFunction", "Principal": "*"}},
        {"service": "lambda", "operation": "AddPermission", "params": {"FunctionName": FUNCTION, "StatementId": "Url", "Action": "lambda:InvokeFunction", "Principal": "*", "FunctionUrlAuthType": "NONE"}},
    ]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"functionName": "other"}, "names function 'other'"),
        ({"functionArn": function_arn("other")}, "names function ARN"),
        ({"policy": {"Statement": [PUBLIC]}}, "not a policy text"),
        ({"revisionId": 7}, "revisionId is not a string"),
        ({"policy": json.dumps({"Statement": [{**PUBLIC, "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}}]})}, "nothing it could undo"),
        ({"policy": json.dumps({"Statement": [{**PUBLIC, "Resource": function_arn("other")}]})}, "nothing it could undo"),
        ({"policy": None}, "nothing it could undo"),
    ],
)
def test_a_forged_record_is_refused(edit: dict[str, Any], reason: str) -> None:
    with pytest.raises(UndoRefused, match=reason):
        lambda_public_access.undo_calls(target(), {**honest_before(PUBLIC), **edit}, {}, PARAMS, None)


# --- scan agrees with the fixer ---------------------------------------------------------------------

statement = st.fixed_dictionaries(
    {
        "Sid": st.sampled_from(["a", "b", "c", "d"]),
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Principal": st.sampled_from(["*", {"AWS": "*"}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"Service": "s3.amazonaws.com"}]),
        "Action": st.sampled_from(["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]),
        "Resource": st.just(ARN),
    },
    optional={"Condition": st.sampled_from([
        {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}},
        {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::*"}},
        {"StringEquals": {"AWS:SourceAccount": ACCOUNT}},
        {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}},
    ])},
)


@settings(max_examples=scale("public_policy_examples", 300), deadline=None)
@given(st.lists(statement, max_size=5, unique_by=lambda s: s["Sid"]))
def test_the_fixer_plans_a_change_exactly_when_config_flags_the_function(statements: list[dict[str, Any]]) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}) if statements else None
    state = lambda_public_access.FunctionState(FUNCTION, ARN, text, "rev")
    verdict = no_public_statement(state.to_json(), {})
    planned = lambda_public_access.plan(state, PARAMS)
    assert (planned is not None) == (verdict == "NON_COMPLIANT")
    public = [s for s in statements if public_policy.is_public(s)]
    if isinstance(planned, Plan):
        assert [call.params["StatementId"] for call in planned.calls] == [s["Sid"] for s in public], "never removes a statement that is not public"
        assert [call.params["StatementId"] for call in planned.undo] == [s["Sid"] for s in public], "undo re-adds each removed statement"


@settings(max_examples=scale("public_policy_moto_examples", 10), deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.sampled_from([PUBLIC_INVOKE, BUCKET_INVOKE, URL_INVOKE, WILDCARD_SOURCE, {**PUBLIC_INVOKE, "StatementId": "Org", "PrincipalOrgID": "o-abcdef1234"}]), min_size=1, max_size=4, unique_by=lambda p: p["StatementId"]))
def test_through_moto_the_function_ends_compliant_with_every_other_statement_kept(permissions: list[dict[str, Any]]) -> None:
    new_function(FUNCTION, *permissions)
    before = statements_of()
    record = run()
    kept = [s for s in before if not public_policy.is_public(s)]
    assert record["decision"] == ("remediated" if len(kept) < len(before) else "already_compliant"), record["reason"]
    assert statements_of() == kept


# --- the real form of a function-URL statement (moto keeps FunctionUrlAuthType as a statement key) --


def test_against_real_lambda_a_public_function_url_statement_is_removed_and_undone_exactly() -> None:
    """Stubber in place of moto: Lambda writes FunctionUrlAuthType as a StringEquals condition."""
    url_statement = {"Sid": "PublicUrl", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunctionUrl", "Resource": ARN,
                     "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
    bucket = {"Sid": "FromBucket", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": ARN,
              "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}, "StringEquals": {"AWS:SourceAccount": ACCOUNT}}}
    before = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": [bucket, url_statement]})
    after = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": [bucket]})
    stub = Stubber(clients.client("lambda"))
    stub.add_response("get_policy", {"Policy": before, "RevisionId": "rev-1"}, {"FunctionName": FUNCTION})
    stub.add_response("list_tags", {"Tags": {}}, {"Resource": ARN})
    stub.add_response("remove_permission", {}, {"FunctionName": FUNCTION, "StatementId": "PublicUrl", "RevisionId": "rev-1"})
    stub.add_response("get_policy", {"Policy": after, "RevisionId": "rev-2"}, {"FunctionName": FUNCTION})
    with stub:
        record = run()
    stub.assert_no_pending_responses()
    assert record["decision"] == "remediated"
    assert record["undo"] == [{"service": "lambda", "operation": "AddPermission", "params": {
        "FunctionName": FUNCTION, "StatementId": "PublicUrl", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"}}]
