"""No fixer plans a write that stops, deletes, removes, deregisters or disables anything.

Fixers name their operations as data (``ApiCall(..., "StopLogging")``), so the check runs every
fixer's ``plan`` over many states (every scenario, the extra paths, and generated ones) and
inspects the operations of the calls it would make. Such operations may appear only in ``undo``,
and only those documented as undo-only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import boto3
from conftest import ACCOUNT, DEFAULT_PARAMS, REGION, FakeContext, compliance_event, rule_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_scenarios import SCENARIOS, trail
from remediation.fixers import cloudtrail_log_validation, cloudtrail_multi_region, load_fixer, restricted_admin_ports
from remediation.fixers.base import ApiCall, Plan, PlanResult, Target
from remediation.fixers.cloudtrail_selectors import EventSelectors
from remediation.handler import lambda_handler

from tests.safety.reach import permissions_of
from tests.safety.test_security_group_properties import admin_ports, group_entries

FORBIDDEN_PREFIXES = ("Delete", "Stop", "Remove", "Deregister", "Disable")
UNDO_ONLY = frozenset({
    "StopLogging", "DeleteTrail", "DeleteFlowLogs", "DeleteBucketEncryption", "DeletePublicAccessBlock",
    "DisableEbsEncryptionByDefault", "DisableKeyRotation", "DeleteAccountPasswordPolicy", "DeleteDetector",
})
"""Destructive operations a fixer may name in ``undo`` (to take back what it created or turned on)."""
ACCESS_REMOVALS = frozenset({"RemovePermission"})
"""Operations named like removals that only take access away, as RevokeSecurityGroupIngress does (lambda-public-access)."""


def _operations(calls: Iterable[ApiCall | dict[str, Any]]) -> list[str]:
    return [call.operation if isinstance(call, ApiCall) else str(call["operation"]) for call in calls]


def check_writes(result: PlanResult, seen: Counter[str]) -> None:
    """Assert the plan writes nothing destructive, in its calls or in any alternative it may apply."""
    if not isinstance(result, Plan):
        return
    writes = _operations(result.calls)
    for candidate in result.detail.get("candidates", ()):
        writes += _operations(candidate["calls"])
    for operation in writes:
        assert not operation.startswith(FORBIDDEN_PREFIXES) or operation in ACCESS_REMOVALS, f"a plan writes {operation}"
    for operation in _operations(result.undo):
        assert not operation.startswith(FORBIDDEN_PREFIXES) or operation in UNDO_ONLY, f"undo uses {operation}, which is not documented as undo-only"
    seen.update(writes)


def _target(resource_type: str, resource_id: str) -> Target:
    return Target(resource_type, resource_id, ACCOUNT, REGION)


def _plan_from_aws(key: str, resource_type: str, resource_id: str) -> PlanResult:
    fixer = load_fixer(key)
    return fixer.plan(fixer.read_state(_target(resource_type, resource_id)), fixer.parse_params(DEFAULT_PARAMS[key]))


def test_no_plan_of_any_scenario_writes_anything_destructive(requests) -> None:
    seen: Counter[str] = Counter()
    non_compliant: dict[str, str] = {}
    for scenario in SCENARIOS:
        non_compliant[scenario.key] = scenario.make_non_compliant()
        check_writes(_plan_from_aws(scenario.key, scenario.resource_type, non_compliant[scenario.key]), seen)
    # And what the handler actually sends, for every non-compliant scenario (planning changed nothing).
    for scenario in SCENARIOS:
        requests.clear()
        lambda_handler(compliance_event(rule_name(scenario.key), scenario.resource_type, non_compliant[scenario.key]), FakeContext())
        sent = requests.writes()
        assert not [operation for operation in sent if operation.startswith(FORBIDDEN_PREFIXES) and operation not in ACCESS_REMOVALS], (scenario.key, sent)
        seen.update(sent)
    assert {"UpdateTrail", "RevokeSecurityGroupIngress", "CreateFlowLogs", "PutPublicAccessBlock"} <= set(seen), seen


def test_no_plan_for_any_trail_layout_writes_anything_destructive() -> None:
    seen: Counter[str] = Counter()
    cloudtrail = boto3.client("cloudtrail")
    layouts = [
        lambda: trail("idle", multi_region=True, logging=False),
        lambda: trail("single", logging=False),
        lambda: cloudtrail.put_event_selectors(
            TrailName=trail("data", multi_region=True), EventSelectors=[{"IncludeManagementEvents": False, "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]
        ),
    ]
    for make in layouts:
        for found in cloudtrail.describe_trails()["trailList"]:
            cloudtrail.delete_trail(Name=found["Name"])
        make()
        check_writes(_plan_from_aws("cloudtrail-multi-region", "AWS::::Account", ACCOUNT), seen)
    for found in cloudtrail.describe_trails()["trailList"]:
        cloudtrail.delete_trail(Name=found["Name"])
    check_writes(_plan_from_aws("cloudtrail-multi-region", "AWS::::Account", ACCOUNT), seen)
    assert {"CreateTrail", "StartLogging", "PutEventSelectors", "UpdateTrail"} <= set(seen), seen


# --- generated states ---------------------------------------------------------------------------

SELECTOR_CHOICES = st.sampled_from([
    None,
    EventSelectors(),
    EventSelectors(basic=({"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True},)),
    EventSelectors(basic=({"IncludeManagementEvents": False, "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]},) * 5),
    EventSelectors(basic=({"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"]},)),
    EventSelectors(advanced=({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]},)),
    EventSelectors(advanced=({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["false"]}]},)),
])
trail_info = st.builds(
    lambda index, account, region, multi, global_events, logging, selectors: cloudtrail_multi_region.TrailInfo(
        f"trail-{index}", f"arn:aws:cloudtrail:{region}:{account}:trail/trail-{index}", multi, global_events, logging, selectors
    ),
    st.integers(min_value=0, max_value=99),
    st.sampled_from([ACCOUNT, "999999999999"]),
    st.sampled_from([REGION, "eu-west-1"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    SELECTOR_CHOICES,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(trail_info, max_size=4, unique_by=lambda info: info.arn), st.sampled_from([None, "trail-bucket"]))
def test_no_generated_account_trail_state_gets_a_destructive_plan(trails: list[cloudtrail_multi_region.TrailInfo], bucket: str | None) -> None:
    state = cloudtrail_multi_region.AccountTrailsState(tuple(trails), _target("AWS::::Account", ACCOUNT))
    check_writes(cloudtrail_multi_region.plan(state, cloudtrail_multi_region.Params(bucket, "governance")), Counter())


@settings(max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([ACCOUNT, "999999999999"]), st.sampled_from([REGION, "eu-west-1"]), st.booleans())
def test_no_generated_trail_gets_a_destructive_log_validation_plan(account: str, region: str, validation: bool) -> None:
    arn = f"arn:aws:cloudtrail:{region}:{account}:trail/main"
    state = cloudtrail_log_validation.TrailState({"Name": "main", "TrailARN": arn, "LogFileValidationEnabled": validation}, _target("AWS::CloudTrail::Trail", arn))
    check_writes(cloudtrail_log_validation.plan(state, cloudtrail_log_validation.Params()), Counter())


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(group_entries, admin_ports)
def test_no_generated_security_group_gets_a_destructive_plan(entries: list[Any], ports: set[int]) -> None:
    group = {"GroupId": "sg-12345678", "VpcId": "vpc-12345678", "IpPermissions": permissions_of(entries), "Tags": []}
    result = restricted_admin_ports.plan(restricted_admin_ports.group_state(group), restricted_admin_ports.Params(frozenset(ports)))
    check_writes(result, Counter())
