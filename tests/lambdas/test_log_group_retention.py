"""log-group-retention: raises a too-short retention to minRetentionDays, never lowers one, never touches a never-expire group.

Covers what the generic matrix does not: prefixes, never-expire groups, account-level retention
policies, tags that cannot be read, a group deleted before or during the fix, undo (exact, and
refused for forged records), the agreement of ``scan``'s Config verdict with the fixer over many
states, and the moto 5.2.5 gaps this fixer depends on, modelled with botocore's Stubber:

- moto stores any ``retentionInDays`` (AWS accepts only its list of values): the fixer's own
  params check and the property below show it never sends another value;
- moto's ListTagsForResource answers an unknown ARN with no tags (AWS answers
  ResourceNotFoundException): stubbed, the exemption fails closed;
- moto has no account-level retention policies (DescribeLogGroups' ``retentionPolicyName``): stubbed.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_entry, rule_name
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_scenarios import log_group
from remediation import clients
from remediation.fixers import log_group_retention
from remediation.fixers.base import NoAction, Plan, TagsUnreadable, Target, call
from remediation.fixers.inverse import UndoRefused
from remediation.fixers.log_group_retention import RETENTION_DAYS, RULE_RETENTION_DAYS, LogGroupState, Params
from remediation.handler import lambda_handler

from governance.compliance import config_verdict

KEY = "log-group-retention"
TYPE = "AWS::Logs::LogGroup"
TARGET = Target(TYPE, "/app/api", ACCOUNT, REGION)
DEFAULT = Params(365, ())


def run(name: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), TYPE, name), FakeContext())


def retention(name: str) -> int | None:
    (group,) = [g for g in boto3.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    days = group.get("retentionInDays")
    return int(days) if days is not None else None


def state(days: int | None, name: str = "/app/api", policy: str | None = None) -> LogGroupState:
    group: dict[str, Any] = {"logGroupName": name}
    if days is not None:
        group["retentionInDays"] = days
    if policy:
        group["retentionPolicyName"] = policy
    return LogGroupState(name, group, Target(TYPE, name, ACCOUNT, REGION))


# --- through the handler, on moto ----------------------------------------------------------------


def test_a_never_expire_group_is_compliant_and_keeps_no_retention(requests) -> None:
    name = log_group(None)
    record = run(name)
    assert record["decision"] == "already_compliant"
    assert requests.writes() == []
    assert retention(name) is None


def test_a_longer_retention_is_never_shortened(requests) -> None:
    name = log_group(3653)
    assert run(name)["decision"] == "already_compliant"
    assert requests.writes() == [] and retention(name) == 3653


def test_only_groups_under_the_configured_prefixes_are_changed(requests, deploy) -> None:
    deploy(rules={KEY: rule_entry({"minRetentionDays": 731, "logGroupNames": ["/prod/"]})})
    outside = log_group(7, "/dev/api")
    inside = log_group(400, "/prod/api")
    assert run(outside)["decision"] == "already_compliant"
    assert retention(outside) == 7
    record = run(inside)
    assert record["decision"] == "remediated", record["reason"]
    assert retention(inside) == 731
    assert record["undo"] == [{"service": "logs", "operation": "PutRetentionPolicy", "params": {"logGroupName": "/prod/api", "retentionInDays": 400}}]


def test_unreadable_tags_are_a_failure_without_a_write(requests) -> None:
    from faults import inject_error

    name = log_group(30)
    inject_error("logs", "ListTagsForResource", "AccessDeniedException", 400)
    record = run(name)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == [] and retention(name) == 30


def test_a_group_deleted_before_the_event_is_handled_is_a_failure_without_a_write(requests) -> None:
    record = run("/app/gone")
    assert record["decision"] == "failed"
    assert "does not exist" in record["reason"]
    assert requests.writes() == []
    assert boto3.client("logs").describe_log_groups(logGroupNamePrefix="/app/gone")["logGroups"] == [], "nothing was created"


def test_a_group_deleted_between_the_read_and_the_write_is_a_failure_and_stays_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    name = log_group(30)
    original = log_group_retention.apply

    def delete_then_apply(target: Target, change: Plan, params: Params) -> Plan:
        boto3.client("logs").delete_log_group(logGroupName=name)
        return original(target, change, params)

    monkeypatch.setattr(log_group_retention, "apply", delete_then_apply)
    record = run(name)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "ResourceNotFoundException" in record["reason"]
    assert boto3.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []


def test_a_group_found_on_a_later_page_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # DescribeLogGroups sorts by name, so the exact name comes first; a response that pages before it is still followed.
    logs = clients.client("logs")
    stubber = Stubber(logs)
    stubber.add_response("describe_log_groups", {"logGroups": [], "nextToken": "t"}, {"logGroupNamePrefix": "/app/api"})
    stubber.add_response("describe_log_groups", {"logGroups": [{"logGroupName": "/app/api", "retentionInDays": 14}]}, {"logGroupNamePrefix": "/app/api", "nextToken": "t"})
    with stubber:
        read = log_group_retention.read_state(TARGET)
    assert read.retention_days == 14
    stubber.assert_no_pending_responses()


# --- undo ----------------------------------------------------------------------------------------


def test_undo_puts_back_exactly_the_retention_that_was_read() -> None:
    name = log_group(30)
    record = run(name)
    assert record["decision"] == "remediated" and retention(name) == 365
    target = Target(TYPE, name, ACCOUNT, REGION)
    calls = log_group_retention.undo_calls(target, record["before"], record["change"], DEFAULT, log_group_retention.read_state(target))
    assert [(c.operation, dict(c.params)) for c in calls] == [("PutRetentionPolicy", {"logGroupName": name, "retentionInDays": 30})]
    for undo in calls:
        call(undo)
    assert log_group_retention.read_state(target).to_json() == record["before"]


FORGED = {
    "another group": ({"logGroupName": "/other", "exists": True, "retentionInDays": 30}, "names log group '/other'"),
    "a retention AWS refuses": ({"logGroupName": "/app/api", "exists": True, "retentionInDays": 31}, "not a value PutRetentionPolicy accepts"),
    "a boolean retention": ({"logGroupName": "/app/api", "exists": True, "retentionInDays": True}, "not a value PutRetentionPolicy accepts"),
    "a never-expire group": ({"logGroupName": "/app/api", "exists": True, "retentionInDays": None}, "not a value PutRetentionPolicy accepts"),
    "a group that did not exist": ({"logGroupName": "/app/api", "exists": False, "retentionInDays": 30}, "does not say the log group existed"),
    "an account-level policy": ({"logGroupName": "/app/api", "exists": True, "retentionInDays": 30, "retentionPolicyName": "p"}, "account-level policy"),
    "a retention the fix would not change": ({"logGroupName": "/app/api", "exists": True, "retentionInDays": 400}, "nothing it could undo"),
}


@pytest.mark.parametrize(("before", "refusal"), FORGED.values(), ids=list(FORGED))
def test_undo_refuses_a_forged_record(before: dict[str, Any], refusal: str) -> None:
    with pytest.raises(UndoRefused, match=refusal):
        log_group_retention.undo_calls(TARGET, before, {}, DEFAULT, None)


# --- the "never" column, and scan agreeing with the fixer, over many states ----------------------

retentions = st.one_of(st.none(), st.sampled_from(RETENTION_DAYS))
names = st.sampled_from(["/app/api", "/prod/db", "/aws/lambda/f", "audit"])
prefix_lists = st.lists(st.sampled_from(["/app/", "/prod/", "/aws/", "aud", "/none/"]), max_size=3, unique=True)


@settings(max_examples=500, deadline=None)
@given(retentions, st.sampled_from(RULE_RETENTION_DAYS), names, prefix_lists, st.sampled_from([None, "org-default"]))
def test_a_plan_only_ever_raises_a_retention_to_the_minimum(days: int | None, minimum: int, name: str, prefixes: list[str], policy: str | None) -> None:
    params = Params(minimum, tuple(prefixes))
    result = log_group_retention.plan(state(days, name, policy), params)
    if days is None:
        assert result is None, "a never-expire group is never given a retention"
    if isinstance(result, Plan):
        (write,) = result.calls
        assert write.operation == "PutRetentionPolicy"
        assert days is not None and write.params == {"logGroupName": name, "retentionInDays": minimum} and minimum > days
        assert minimum in RULE_RETENTION_DAYS, "only values AWS accepts are sent (moto would store any)"
        (undo,) = result.undo
        assert undo.params == {"logGroupName": name, "retentionInDays": days}


@settings(max_examples=500, deadline=None)
@given(retentions, st.sampled_from(RULE_RETENTION_DAYS), names, prefix_lists, st.sampled_from([None, "org-default"]))
def test_scan_verdict_and_fixer_agree(days: int | None, minimum: int, name: str, prefixes: list[str], policy: str | None) -> None:
    read = state(days, name, policy)
    verdict = config_verdict(KEY, read.to_json(), {"minRetentionDays": minimum, "logGroupNames": prefixes})
    result = log_group_retention.plan(read, Params(minimum, tuple(prefixes)))
    # The fixer plans something (a change, or a failure it reports) exactly when Config flags the group.
    assert (result is not None) == (verdict == "NON_COMPLIANT"), (verdict, result)
    assert isinstance(result, NoAction) == (verdict == "NON_COMPLIANT" and policy is not None)


def test_a_deleted_group_is_not_applicable_to_scan_and_a_failure_to_the_fixer() -> None:
    gone = LogGroupState("/app/api", None, TARGET)
    assert config_verdict(KEY, gone.to_json(), {"minRetentionDays": 365, "logGroupNames": []}) == "NOT_APPLICABLE"
    result = log_group_retention.plan(gone, DEFAULT)
    assert isinstance(result, NoAction) and result.decision == "failed"


# --- params and ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [{"minRetentionDays": 31}, {"minRetentionDays": "365"}, {"minRetentionDays": True}, {"minRetentionDays": 1096}])
def test_a_retention_outside_the_rules_list_is_refused_naming_the_param(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"params\.minRetentionDays must be one of 1, 3, 5"):
        log_group_retention.parse_params(raw)


def test_prefixes_must_be_log_group_names() -> None:
    with pytest.raises(ValueError, match=r"params\.logGroupNames"):
        log_group_retention.parse_params({"minRetentionDays": 365, "logGroupNames": ["a,b"]})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/app/api", "/app/api"),
        (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/api:*", "/app/api"),
        (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/api", "/app/api"),
        (f"arn:aws:logs:{REGION}:999999999999:log-group:/app/api", None),
        ("/app/a b", None),
    ],
)
def test_resource_ids(raw: str, expected: str | None) -> None:
    assert log_group_retention.resource_id(TYPE, raw, ACCOUNT) == expected


# --- moto gaps, modelled ---------------------------------------------------------------------------


def test_tags_of_a_group_aws_does_not_find_fail_closed() -> None:
    # AWS answers ListTagsForResource for an unknown ARN with ResourceNotFoundException; moto answers {}.
    logs = clients.client("logs")
    stubber = Stubber(logs)
    stubber.add_client_error("list_tags_for_resource", "ResourceNotFoundException", "The specified log group does not exist.", 400)
    with stubber, pytest.raises(TagsUnreadable, match="ResourceNotFoundException"):
        log_group_retention.is_exempt(TARGET, state(30), Plan("raise", (), ()), "governance:exempt")
    stubber.assert_no_pending_responses()


def test_a_retention_set_by_an_account_level_policy_is_reported_not_overwritten(requests) -> None:
    # moto 5.2.5 has no account-level retention policies; AWS reports them in retentionPolicyName.
    logs = clients.client("logs")
    stubber = Stubber(logs)
    group = {"logGroupName": "/app/api", "retentionInDays": 7, "retentionPolicyName": "org-default", "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/api:*"}
    stubber.add_response("describe_log_groups", {"logGroups": [group]}, {"logGroupNamePrefix": "/app/api"})
    with stubber:
        record = run("/app/api")
    stubber.assert_no_pending_responses()
    assert record["decision"] == "failed"
    assert "account-level retention policy org-default" in record["reason"]
    assert record["before"]["retentionPolicyName"] == "org-default"
    assert [c["operation"] for c in record["apiCalls"]] == ["DescribeLogGroups"]


# --- scan's discovery --------------------------------------------------------------------------------


def test_scan_discovers_every_group_with_its_retention_and_leaves_tags_to_the_fixer(requests) -> None:
    from governance.cli.inventory import discover
    from governance.settings import Account

    log_group(30, "/app/short")
    log_group(None, "/app/forever")
    account = Account(ACCOUNT, "home", None, None, "aws", (REGION,), ())
    found = discover(KEY, boto3.Session(region_name=REGION), account, REGION)
    states = {item.target.resource_id: item.state.to_json() for item in found if item.state is not None}
    assert len(states) == len(found) == 2
    assert states == {
        "/app/forever": {"logGroupName": "/app/forever", "exists": True, "retentionInDays": None},
        "/app/short": {"logGroupName": "/app/short", "exists": True, "retentionInDays": 30},
    }
    assert all(item.arn is None for item in found), "the fixer reads each group's tags itself (fails closed)"
    verdicts = {name: config_verdict(KEY, state, {"minRetentionDays": 365, "logGroupNames": []}) for name, state in states.items()}
    assert verdicts == {"/app/forever": "COMPLIANT", "/app/short": "NON_COMPLIANT"}
