"""ec2-imdsv2: HttpTokens=required and nothing else, never a stop or restart; IMDSv1 calls (MetadataNoToken)
shown in plans and, in auto, stopping the fix; undo puts back the recorded HttpTokens; scan and the fixer agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, DEFAULT_PARAMS, REGION, FakeContext, compliance_event, rule_entry, rule_name
from faults import inject_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_scenarios import instance
from remediation import clients
from remediation.fixers import ec2_imdsv2 as fixer
from remediation.fixers.base import ApiCall, Plan, Target, call
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.settings import ConfigError, load_settings

KEY = "ec2-imdsv2"
RESOURCE_TYPE = "AWS::EC2::Instance"
PARAMS = fixer.Params(14)
INSTANCE = "i-0123456789abcdef0"


def run(instance_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), RESOURCE_TYPE, instance_id), FakeContext())


def target(instance_id: str) -> Target:
    return Target(RESOURCE_TYPE, instance_id, ACCOUNT, REGION)


def described(instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return found


def imdsv1_calls(instance_id: str, count: float, days_ago: float) -> None:
    """What EC2 publishes when software on the instance calls IMDSv1 (moto lets a test put it)."""
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[{
            "MetricName": "MetadataNoToken",
            "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
            "Value": count,
            "Timestamp": datetime.now(UTC) - timedelta(days=days_ago),
        }],
    )


# --- the fix ------------------------------------------------------------------------------------


def test_only_http_tokens_is_sent_and_the_instance_keeps_running(requests) -> None:
    instance_id = instance()
    record = run(instance_id)
    assert record["decision"] == "remediated", record["reason"]
    writes = [c for c in record["apiCalls"] if c["operation"] == "ModifyInstanceMetadataOptions"]
    assert [c["params"] for c in writes] == [{"InstanceId": instance_id, "HttpTokens": "required"}]
    assert requests.writes() == ["ModifyInstanceMetadataOptions"], "never a stop, start or reboot"
    assert described(instance_id)["State"]["Name"] == "running"
    assert record["change"]["detail"]["metadataNoToken"]["calls"] == 0


def test_imdsv1_calls_in_the_window_are_shown_in_the_dry_run(deploy, requests) -> None:
    deploy(rules={KEY: rule_entry(DEFAULT_PARAMS[KEY], mode="manual")})
    instance_id = instance()
    imdsv1_calls(instance_id, 7, days_ago=2)
    record = run(instance_id)
    assert record["decision"] == "dry_run"
    assert record["change"]["detail"]["metadataNoToken"]["calls"] == 7
    assert "7 IMDSv1 call(s) in the last 14 day(s)" in record["change"]["summary"]
    assert requests.writes() == []


def test_auto_mode_refuses_an_instance_with_imdsv1_calls(requests) -> None:
    instance_id = instance()
    imdsv1_calls(instance_id, 3, days_ago=1)
    record = run(instance_id)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "IMDSv1 call(s)" in record["reason"] and "params.metadataNoTokenDays" in record["reason"]
    assert requests.writes() == []
    assert described(instance_id)["MetadataOptions"]["HttpTokens"] == "optional"


def test_calls_older_than_the_window_do_not_stop_the_fix() -> None:
    instance_id = instance()
    imdsv1_calls(instance_id, 3, days_ago=30)
    record = run(instance_id)
    assert record["decision"] == "remediated", record["reason"]
    assert record["before"]["metadataNoToken"]["calls"], "the older calls are in the before-state"


def test_a_window_of_zero_days_gates_nothing(deploy) -> None:
    deploy(rules={KEY: rule_entry({"metadataNoTokenDays": 0})})
    instance_id = instance()
    imdsv1_calls(instance_id, 3, days_ago=1)
    record = run(instance_id)
    assert record["decision"] == "remediated", record["reason"]
    assert record["change"]["detail"]["metadataNoToken"]["calls"] is None


def test_a_denied_describe_is_a_failure_without_a_write(requests) -> None:
    # The tags come with DescribeInstances: when it cannot be read, neither can the exemption.
    instance_id = instance()
    inject_error("ec2", "DescribeInstances", "UnauthorizedOperation", 403)
    record = run(instance_id)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert requests.writes() == []


# --- the instance gone --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["terminated", "unknown"])
def test_an_instance_gone_before_the_event_needs_nothing(how: str, requests) -> None:
    instance_id = instance() if how == "terminated" else INSTANCE
    if how == "terminated":
        boto3.client("ec2").terminate_instances(InstanceIds=[instance_id])
    record = run(instance_id)
    assert record["decision"] == "already_compliant"
    assert record["before"]["exists"] is False
    assert requests.writes() == []


def test_an_instance_terminated_before_the_write_is_a_failure(monkeypatch) -> None:
    instance_id = instance()
    original = fixer.apply

    def terminate_first(t: Target, change: Plan, params: fixer.Params) -> Plan:
        boto3.client("ec2").terminate_instances(InstanceIds=[instance_id])
        inject_error("ec2", "ModifyInstanceMetadataOptions", "IncorrectInstanceState", 400)  # AWS's answer: UNVERIFIED
        return original(t, change, params)

    monkeypatch.setattr(fixer, "apply", terminate_first)
    record = run(instance_id)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "IncorrectInstanceState" in record["reason"]


# --- undo ---------------------------------------------------------------------------------------


def test_undo_puts_back_the_recorded_http_tokens() -> None:
    instance_id = instance()
    record = run(instance_id)
    calls = fixer.undo_calls(target(instance_id), record["before"], record["change"], PARAMS, None)
    assert [c.to_json() for c in calls] == record["undo"]
    assert calls == (ApiCall("ec2", "ModifyInstanceMetadataOptions", {"InstanceId": instance_id, "HttpTokens": "optional"}),)
    for api_call in calls:
        call(api_call)
    assert described(instance_id)["MetadataOptions"]["HttpTokens"] == record["before"]["metadataOptions"]["HttpTokens"]


BEFORE = {"instanceId": INSTANCE, "exists": True, "state": "running", "metadataOptions": {"HttpTokens": "optional", "HttpEndpoint": "enabled"}, "metadataNoToken": None}


@pytest.mark.parametrize(
    ("before", "refusal"),
    [
        ({**BEFORE, "instanceId": "i-0fedcba9876543210"}, "names instance"),
        ({**BEFORE, "metadataOptions": {"HttpTokens": "required"}}, "would not have changed"),
        ({**BEFORE, "metadataOptions": {"HttpTokens": "anything"}}, "neither optional nor required"),
        ({**BEFORE, "metadataOptions": "optional"}, "not a JSON object"),
        ({**BEFORE, "exists": False}, "did not exist"),
    ],
)
def test_undo_refuses_a_forged_record(before: dict[str, Any], refusal: str) -> None:
    with pytest.raises(UndoRefused) as refused:
        fixer.undo_calls(target(INSTANCE), before, {}, PARAMS, None)
    assert refusal in str(refused.value)


# --- scan agrees with the fixer; the "never" column as properties -------------------------------

options = st.fixed_dictionaries(
    {},
    optional={
        "HttpTokens": st.sampled_from(["optional", "required"]),
        "HttpEndpoint": st.sampled_from(["enabled", "disabled"]),
        "HttpPutResponseHopLimit": st.integers(1, 64),
        "HttpProtocolIpv6": st.sampled_from(["enabled", "disabled"]),
        "InstanceMetadataTags": st.sampled_from(["enabled", "disabled"]),
        "State": st.sampled_from(["pending", "applied"]),
    },
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
datapoints = st.lists(st.tuples(st.integers(0, 454), st.sampled_from([0.0, 1.0, 250.0])), max_size=20, unique_by=lambda point: point[0])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    metadata=options,
    state_name=st.sampled_from(["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]),
    points=datapoints,
    days=st.integers(0, 455),
)
def test_the_fixer_plans_a_change_exactly_when_config_flags_the_instance_and_only_ever_sets_http_tokens(
    metadata: dict[str, Any], state_name: str, points: list[tuple[int, float]], days: int
) -> None:
    state = fixer.instance_state({"InstanceId": INSTANCE, "State": {"Name": state_name}, "MetadataOptions": metadata, "Tags": []})
    evidence = fixer.evidence_from([{"Timestamp": NOW - timedelta(days=age, hours=1), "Sum": count} for age, count in points], NOW)
    state = fixer.with_evidence(state, evidence)
    params = fixer.Params(days)
    planned = fixer.plan(state, params)
    verdict = config_verdict(KEY, state.to_json(), {"metadataNoTokenDays": days})
    assert (planned is not None) == (verdict == "NON_COMPLIANT"), (verdict, planned)
    if state_name in ("shutting-down", "terminated"):
        assert verdict == "NOT_APPLICABLE"
    if planned is None:
        return
    assert isinstance(planned, Plan)
    # Never: another operation, another instance, another option; never a stop, start or reboot.
    assert planned.calls == (ApiCall("ec2", "ModifyInstanceMetadataOptions", {"InstanceId": INSTANCE, "HttpTokens": "required"}),)
    assert planned.undo == (ApiCall("ec2", "ModifyInstanceMetadataOptions", {"InstanceId": INSTANCE, "HttpTokens": "optional"}),)
    shown = planned.detail["metadataNoToken"]["calls"]
    assert shown == (sum(count for age, count in points if age < days) if days else None)
    assert fixer.undo_calls(target(INSTANCE), state.to_json(), planned.to_json(), params, None) == planned.undo


def test_scan_reads_the_same_state_as_the_fixer() -> None:
    from governance.cli.inventory import discover
    from governance.settings import Account

    required, optional, gone = instance("required"), instance(), instance()
    boto3.client("ec2").terminate_instances(InstanceIds=[gone])
    found = discover(KEY, boto3.Session(region_name=REGION), Account(ACCOUNT, "home", None, None, "aws", (REGION,), ()), REGION)
    by_id = {item.target.resource_id: item for item in found}
    assert set(by_id) == {required, optional}, "terminated instances are not listed"
    state = by_id[required].state
    assert state is not None and state.to_json() == fixer.read_state(target(required)).to_json()
    assert by_id[optional].state is None, "the fixer reads the metric of an instance it would change"
    assert by_id[required].arn == f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{required}"


# --- moto gaps, modelled ------------------------------------------------------------------------


def test_moto_resets_the_options_a_request_omits() -> None:
    # AWS keeps every option a ModifyInstanceMetadataOptions request omits; moto resets them (hop limit 1,
    # endpoint unset). So moto cannot show that the fix keeps them: the request itself is pinned instead
    # (test_only_http_tokens_is_sent_and_the_instance_keeps_running and the Stubber test below).
    instance_id = instance(HttpPutResponseHopLimit=3)
    boto3.client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required")
    after = described(instance_id)["MetadataOptions"]
    assert after["HttpPutResponseHopLimit"] == 1 and "HttpEndpoint" not in after


def test_moto_accepts_a_change_to_a_terminated_instance() -> None:
    # Why the fault suite injects IncorrectInstanceState for "deleted before write" (AWS's answer is UNVERIFIED).
    instance_id = instance()
    boto3.client("ec2").terminate_instances(InstanceIds=[instance_id])
    boto3.client("ec2").modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required")


def test_against_aws_shaped_answers_the_fix_sends_http_tokens_alone_and_verifies() -> None:
    """Stubbed (botocore Stubber): AWS's answer keeps the hop limit and endpoint and may report State pending."""
    ec2, cloudwatch = clients.client("ec2"), clients.client("cloudwatch")
    optional = {"State": "applied", "HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "enabled"}
    required = {**optional, "HttpTokens": "required", "State": "pending"}

    def reservation(metadata: dict[str, Any]) -> dict[str, Any]:
        return {"Reservations": [{"Instances": [{"InstanceId": INSTANCE, "State": {"Name": "running"}, "MetadataOptions": metadata, "Tags": [{"Key": "team", "Value": "a"}]}]}]}

    with Stubber(ec2) as ec2_stub, Stubber(cloudwatch) as cw_stub:
        ec2_stub.add_response("describe_instances", reservation(optional), {"InstanceIds": [INSTANCE]})
        cw_stub.add_response("get_metric_statistics", {"Datapoints": [{"Timestamp": NOW, "Sum": 0.0}]})
        ec2_stub.add_response(
            "modify_instance_metadata_options",
            {"InstanceId": INSTANCE, "InstanceMetadataOptions": required},
            {"InstanceId": INSTANCE, "HttpTokens": "required"},
        )
        ec2_stub.add_response("describe_instances", reservation(required), {"InstanceIds": [INSTANCE]})
        state = fixer.read_state(target(INSTANCE))
        planned = fixer.plan(state, PARAMS)
        assert isinstance(planned, Plan)
        fixer.apply(target(INSTANCE), planned, PARAMS)
        after = fixer.read_state(target(INSTANCE))
        ec2_stub.assert_no_pending_responses()
        cw_stub.assert_no_pending_responses()
    assert fixer.plan(after, PARAMS) is None, "a pending change that already reads required verifies"
    assert {key: value for key, value in after.metadata_options.items() if key not in ("HttpTokens", "State")} == {
        key: value for key, value in optional.items() if key not in ("HttpTokens", "State")
    }


# --- settings -----------------------------------------------------------------------------------


def _stack(rules: dict[str, Any]) -> dict[str, Any]:
    return {"regions": [REGION], "accounts": [{"id": ACCOUNT}], "rules": rules}


def test_a_listed_rule_defaults_to_manual() -> None:
    (rule,) = load_settings(_stack({KEY: {}})).accounts[0].rules
    assert (rule.mode, rule.engine, rule.params["metadataNoTokenDays"]) == ("manual", "lambda", 14)
    runbook = CATALOG[KEY].ssm
    assert runbook is not None and runbook.caveat is not None and "MetadataNoToken" in runbook.caveat


def test_a_bad_window_names_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_stack({KEY: {"mode": "auto", "params": {"metadataNoTokenDays": 456}}}))
    assert len(raised.value.problems) == 1 and raised.value.problems[0].startswith(f"governance:rules.{KEY}.params.metadataNoTokenDays must be a whole number")
    with pytest.raises(ValueError, match=r"params\.metadataNoTokenDays must be a whole number"):
        fixer.parse_params({"metadataNoTokenDays": True})
