"""default-security-group-closed: only a VPC's default group is closed, every rule of it by id, never while
interfaces use it (unless asked); undo re-authorizes exactly what was revoked; scan and the fixer agree."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, DEFAULT_PARAMS, REGION, FakeContext, compliance_event, rule_entry, rule_name
from faults import inject_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_scenarios import default_group, new_group, new_vpc, self_referencing
from remediation import clients
from remediation.fixers import default_security_group_closed as fixer
from remediation.fixers.base import ApiCall, NoAction, Plan, Target, call
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.settings import ConfigError, load_settings

KEY = "default-security-group-closed"
RESOURCE_TYPE = "AWS::EC2::SecurityGroup"
PARAMS = fixer.Params(even_when_in_use=False)


def run(group: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), RESOURCE_TYPE, group), FakeContext())


def target(group: str) -> Target:
    return Target(RESOURCE_TYPE, group, ACCOUNT, REGION)


def permissions(group: str) -> tuple[list[Any], list[Any]]:
    found = boto3.client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    return found["IpPermissions"], found["IpPermissionsEgress"]


def _normalised(entries: list[dict[str, Any]]) -> list[Any]:
    """Permissions as a sorted list of (protocol, ports, one source with its description)."""
    flat = []
    for permission in entries:
        for key in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"):
            for source in permission.get(key, []):
                flat.append((permission["IpProtocol"], permission.get("FromPort"), permission.get("ToPort"), key, sorted(source.items())))
    return sorted(flat, key=repr)


def busy_group(vpc: str | None = None) -> tuple[str, str]:
    """A default group with AWS's two initial rules and one network interface using it; returns (group, interface)."""
    vpc = vpc or new_vpc()
    group = default_group(vpc)
    self_referencing(group)
    ec2 = boto3.client("ec2")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    interface = ec2.create_network_interface(SubnetId=subnet, Groups=[group], Description="legacy app")["NetworkInterface"]["NetworkInterfaceId"]
    return group, interface


def varied_group() -> str:
    """A default group with a rule of every source kind, descriptions and ICMP type/code."""
    ec2 = boto3.client("ec2")
    group = default_group()
    prefix_list = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=2, AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    self_referencing(group)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "intranet"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "dns"}]},
    ])
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1024, "ToPort": 65535, "PrefixListIds": [{"PrefixListId": prefix_list, "Description": "office"}]},
    ])
    return group


# --- the fix ------------------------------------------------------------------------------------


def test_a_default_group_loses_every_rule_by_id_and_nothing_else_changes() -> None:
    group = varied_group()
    other = new_group()
    before_other = permissions(other)
    record = run(group)
    assert record["decision"] == "remediated", record["reason"]
    assert permissions(group) == ([], [])
    assert permissions(other) == before_other
    writes = [c for c in record["apiCalls"] if c["operation"].startswith("Revoke")]
    assert [c["operation"] for c in writes] == ["RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"]
    assert all(set(c["params"]) == {"GroupId", "SecurityGroupRuleIds"} and c["params"]["GroupId"] == group for c in writes)
    revoked_ids = {rule_id for c in writes for rule_id in c["params"]["SecurityGroupRuleIds"]}
    assert revoked_ids == {rule["ruleId"] for rule in record["before"]["rules"]}
    assert len(revoked_ids) == 6


def test_a_group_that_is_not_a_default_group_is_never_touched(requests) -> None:
    group = new_group()
    boto3.client("ec2").authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    record = run(group)
    assert record["decision"] == "exempt"
    assert "not a default security group" in record["reason"] and "does not apply" in record["reason"]
    assert requests.writes() == []
    assert requests.operations() == ["DescribeSecurityGroups"], "a non-default group costs one read"
    assert config_verdict(KEY, record["before"], DEFAULT_PARAMS[KEY]) == "NOT_APPLICABLE"


def test_interfaces_in_use_are_listed_in_the_dry_run(deploy, requests) -> None:
    deploy(rules={KEY: rule_entry(DEFAULT_PARAMS[KEY], mode="manual")})
    group, interface = busy_group()
    record = run(group)
    assert record["decision"] == "dry_run"
    detail = record["change"]["detail"]
    assert detail["networkInterfaceCount"] == 1
    assert detail["networkInterfaces"][0]["networkInterfaceId"] == interface
    assert detail["networkInterfaces"][0]["description"] == "legacy app"
    assert "1 network interface(s) still use it" in record["change"]["summary"]
    assert requests.writes() == []


def test_auto_mode_refuses_a_group_in_use(requests) -> None:
    group, _ = busy_group()
    before = permissions(group)
    record = run(group)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "still use default security group" in record["reason"] and "params.evenWhenInUse" in record["reason"]
    assert requests.writes() == []
    assert permissions(group) == before


def test_even_when_in_use_closes_a_group_in_use(deploy) -> None:
    deploy(rules={KEY: rule_entry({"evenWhenInUse": True})})
    group, _ = busy_group()
    record = run(group)
    assert record["decision"] == "remediated", record["reason"]
    assert record["change"]["detail"]["networkInterfaceCount"] == 1
    assert permissions(group) == ([], [])


def test_a_group_whose_describe_is_denied_is_a_failure_without_a_write(requests) -> None:
    # The tags come with DescribeSecurityGroups: when it cannot be read, neither can the exemption.
    group = varied_group()
    inject_error("ec2", "DescribeSecurityGroups", "UnauthorizedOperation", 403)
    record = run(group)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert requests.writes() == []
    assert len(permissions(group)[0]) == 4


# --- the group gone -----------------------------------------------------------------------------


def test_a_group_deleted_with_its_vpc_before_the_event_is_handled_needs_nothing(requests) -> None:
    vpc = new_vpc()
    group = default_group(vpc)
    boto3.client("ec2").delete_vpc(VpcId=vpc)
    record = run(group)
    assert record["decision"] == "already_compliant"
    assert record["before"]["exists"] is False
    assert requests.writes() == []


def test_a_group_deleted_between_the_two_revokes_ends_with_what_was_revoked() -> None:
    vpc = new_vpc()
    group = default_group(vpc)
    self_referencing(group)

    def delete_the_vpc(**_: Any) -> None:
        boto3.client("ec2").delete_vpc(VpcId=vpc)

    clients.client("ec2").meta.events.register_first("before-send.ec2.RevokeSecurityGroupEgress", delete_the_vpc)
    record = run(group)
    revoke_egress = next(c for c in record["apiCalls"] if c["operation"] == "RevokeSecurityGroupEgress")
    assert revoke_egress["outcome"] == "InvalidGroup.NotFound"
    # Verification reads the group as gone: the change stands as made, and only what was revoked is recorded.
    assert record["decision"] == "remediated", record["reason"]
    assert record["after"]["exists"] is False
    assert [c["operation"] for c in record["change"]["calls"]] == ["RevokeSecurityGroupIngress"]
    assert [rule["egress"] for rule in record["change"]["detail"]["revoked"]] == [False]
    assert [c["operation"] for c in record["undo"]] == ["AuthorizeSecurityGroupIngress"]


def test_a_rule_revoked_meanwhile_makes_the_fixer_read_again(monkeypatch) -> None:
    group = varied_group()
    ec2 = boto3.client("ec2")
    original_apply = fixer.apply

    def someone_revokes_first(t: Target, change: Plan, params: fixer.Params) -> Plan:
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
        first = next(rule for rule in rules if not rule["IsEgress"])
        ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=[first["SecurityGroupRuleId"]])
        return original_apply(t, change, params)

    monkeypatch.setattr(fixer, "apply", someone_revokes_first)
    record = run(group)
    assert record["decision"] == "remediated", record["reason"]
    assert permissions(group) == ([], [])
    assert len(record["change"]["detail"]["revoked"]) == 5, "only the rules this change revoked are recorded (and undone)"


# --- undo ---------------------------------------------------------------------------------------


def test_undo_restores_every_rule_exactly() -> None:
    group = varied_group()
    before = permissions(group)
    record = run(group)
    assert record["decision"] == "remediated"
    calls = fixer.undo_calls(target(group), record["before"], record["change"], PARAMS, None)
    assert [c.to_json() for c in calls] == record["undo"]
    assert {c.operation for c in calls} <= set(fixer.UNDO_OPERATIONS)
    for api_call in calls:
        call(api_call)
    after = permissions(group)
    # moto drops a group-reference's description in DescribeSecurityGroupRules; the self-reference here has none.
    assert _normalised(after[0]) == _normalised(before[0])
    assert _normalised(after[1]) == _normalised(before[1])


RULE = {"ruleId": "sgr-0123456789abcdef0", "egress": False, "protocol": "-1", "fromPort": -1, "toPort": -1, "sourceKind": "referencedGroup", "source": "sg-0123456789abcdef0"}
WORLD = {"ruleId": "sgr-0fffffffffffffff0", "egress": True, "protocol": "-1", "fromPort": -1, "toPort": -1, "sourceKind": "cidrIpv4", "source": "0.0.0.0/0"}
GROUP = "sg-0123456789abcdef0"
BEFORE = {"groupId": GROUP, "exists": True, "groupName": "default", "vpcId": "vpc-01234567", "rules": [RULE, WORLD], "networkInterfaceCount": 0, "networkInterfaces": []}


def test_undo_of_an_honest_record_authorizes_both_directions() -> None:
    calls = fixer.undo_calls(target(GROUP), BEFORE, {"detail": {"revoked": [RULE, WORLD]}}, PARAMS, None)
    assert calls == (
        ApiCall("ec2", "AuthorizeSecurityGroupIngress", {"GroupId": GROUP, "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": GROUP}]}]}),
        ApiCall("ec2", "AuthorizeSecurityGroupEgress", {"GroupId": GROUP, "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
    )


@pytest.mark.parametrize(
    ("before", "change", "refusal"),
    [
        ({**BEFORE, "groupId": "sg-0fedcba9876543210"}, {}, "names security group"),
        ({**BEFORE, "groupName": "web"}, {}, "would not have changed"),
        ({**BEFORE, "rules": []}, {}, "would not have changed"),
        ({**BEFORE, "exists": False}, {}, "did not exist"),
        (BEFORE, {"detail": {"revoked": [{**WORLD, "source": "10.0.0.0/8"}]}}, "not a rule of the before-state"),
        (BEFORE, {"detail": {"revoked": [{**RULE, "egress": True}]}}, "not a rule of the before-state"),
        (BEFORE, {"detail": {"revoked": [RULE, RULE]}}, "one rule twice"),
        (BEFORE, {"detail": {"revoked": [{**RULE, "fromPort": "22"}]}}, "are not security group rules"),
        (BEFORE, {"detail": {"revoked": [{**RULE, "sourceKind": "anything"}]}}, "are not security group rules"),
        ({**BEFORE, "rules": "all"}, {}, "not a list"),
    ],
)
def test_undo_refuses_a_forged_record(before: dict[str, Any], change: dict[str, Any], refusal: str) -> None:
    with pytest.raises(UndoRefused) as refused:
        fixer.undo_calls(target(GROUP), before, change, PARAMS, None)
    assert refusal in str(refused.value)


# --- scan agrees with the fixer; the "never" column as properties -------------------------------

SOURCES = {
    "cidrIpv4": ["0.0.0.0/0", "10.0.0.0/8"],
    "cidrIpv6": ["::/0", "2001:db8::/32"],
    "prefixListId": ["pl-0123456789abcdef0"],
    "referencedGroup": [GROUP, "sg-0fedcba9876543210"],
}
api_rule = st.builds(
    lambda egress, proto, kind_source, description: {
        "GroupId": GROUP,
        "IsEgress": egress,
        "IpProtocol": proto[0],
        "FromPort": proto[1],
        "ToPort": proto[2],
        **(
            {"ReferencedGroupInfo": {"GroupId": kind_source[1], "UserId": ACCOUNT}}
            if kind_source[0] == "referencedGroup"
            else {{"cidrIpv4": "CidrIpv4", "cidrIpv6": "CidrIpv6", "prefixListId": "PrefixListId"}[kind_source[0]]: kind_source[1]}
        ),
        **({"Description": description} if description else {}),
    },
    st.booleans(),
    st.sampled_from([("-1", -1, -1), ("tcp", 22, 22), ("tcp", 0, 65535), ("udp", 53, 53), ("icmp", 8, -1), ("50", -1, -1)]),
    st.sampled_from([(kind, source) for kind, sources in SOURCES.items() for source in sources]),
    st.one_of(st.none(), st.sampled_from(["self", "office"])),
)
group_rules = st.lists(api_rule, max_size=8).map(lambda rules: [{**rule, "SecurityGroupRuleId": f"sgr-{index:017x}"} for index, rule in enumerate(rules)])
interface = st.builds(lambda index: {"NetworkInterfaceId": f"eni-{index:017x}", "InterfaceType": "interface"}, st.integers(0, 10**6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["default", "web", "Default", "default-2"]),
    exists=st.booleans(),
    rules=group_rules,
    interfaces=st.lists(interface, max_size=30),
    even_when_in_use=st.booleans(),
)
def test_the_fixer_plans_a_change_exactly_when_config_flags_the_group_and_only_ever_revokes_its_rules(
    name: str, exists: bool, rules: list[dict[str, Any]], interfaces: list[dict[str, Any]], even_when_in_use: bool
) -> None:
    state = fixer.group_state({"GroupId": GROUP, "GroupName": name, "VpcId": "vpc-01234567", "Tags": []})
    state = fixer.with_rules(state, rules, interfaces) if rules else state
    if not exists:
        state = fixer.GroupState(GROUP, False, None, None, {}, ())
    params = fixer.Params(even_when_in_use)
    planned = fixer.plan(state, params)
    verdict = config_verdict(KEY, state.to_json(), {"evenWhenInUse": even_when_in_use})
    kinds: dict[str, tuple[type, ...]] = {"NON_COMPLIANT": (Plan,), "COMPLIANT": (type(None),), "NOT_APPLICABLE": (NoAction, type(None))}
    expected = kinds[verdict]
    assert isinstance(planned, expected), (verdict, planned)
    if name != "default" and exists:
        assert isinstance(planned, NoAction) and planned.decision == "exempt", "a non-default group is never changed"
    if not isinstance(planned, Plan):
        return
    # Never: a call that is not a revoke of this group's own rule ids; never a rule left behind.
    assert {c.operation for c in planned.calls} <= {"RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"}
    assert all(c.params["GroupId"] == GROUP and set(c.params) == {"GroupId", "SecurityGroupRuleIds"} for c in planned.calls)
    revoked = [(c.operation == "RevokeSecurityGroupEgress", rule_id) for c in planned.calls for rule_id in c.params["SecurityGroupRuleIds"]]
    assert sorted(revoked) == sorted((rule["IsEgress"], rule["SecurityGroupRuleId"]) for rule in rules)
    # Undo authorizes exactly the revoked rules, each with its own source, ports and description.
    undone = [(c.operation == "AuthorizeSecurityGroupEgress", p) for c in planned.undo for p in c.params["IpPermissions"]]
    assert sorted(map(repr, undone)) == sorted(repr((r.egress, r.permission())) for r in state.rules)
    assert planned.detail["networkInterfaceCount"] == len(interfaces)
    assert len(planned.detail["networkInterfaces"]) == min(len(interfaces), fixer.LISTED_INTERFACES)
    # Undo from the record's before-state gives the same calls as the plan.
    assert fixer.undo_calls(target(GROUP), state.to_json(), planned.to_json(), params, None) == planned.undo


def test_scan_reads_the_same_state_as_the_fixer() -> None:
    from governance.cli.inventory import discover
    from governance.settings import Account

    open_group, _ = busy_group()
    closed = default_group()
    boto3.client("ec2").revoke_security_group_egress(
        GroupId=closed,
        SecurityGroupRuleIds=[r["SecurityGroupRuleId"] for r in boto3.client("ec2").describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [closed]}])["SecurityGroupRules"]],
    )
    new_group()  # not a default group: not discovered
    found = discover(KEY, boto3.Session(region_name=REGION), Account(ACCOUNT, "home", None, None, "aws", (REGION,), ()), REGION)
    by_id = {item.target.resource_id: item for item in found}
    default_ids = {g["GroupId"] for g in boto3.client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]}
    assert set(by_id) == default_ids
    states = {group_id: by_id[group_id].state for group_id in (open_group, closed)}
    for group_id, state in states.items():
        assert state is not None and state.to_json() == fixer.read_state(target(group_id)).to_json()
    assert config_verdict(KEY, fixer.read_state(target(open_group)).to_json(), {}) == "NON_COMPLIANT"
    assert config_verdict(KEY, fixer.read_state(target(closed)).to_json(), {}) == "COMPLIANT"


# --- moto gaps, modelled ------------------------------------------------------------------------


def test_moto_gives_a_default_group_no_self_referencing_rule() -> None:
    # AWS creates every default group with an all-traffic ingress rule from the group itself; moto does not,
    # so the scenarios add it (lambda_scenarios.self_referencing). If moto starts doing it, drop the helper.
    ingress, egress = permissions(default_group())
    assert ingress == []
    assert [p["IpRanges"] for p in egress] == [[{"CidrIp": "0.0.0.0/0"}]]


def test_aws_default_group_as_aws_reports_it_is_closed_in_both_directions() -> None:
    """Stubbed (botocore Stubber) with AWS's documented shapes: the self-referencing ingress rule moto lacks,
    an IPv6 egress rule, and an interface attached to an instance."""
    ec2 = clients.client("ec2")
    group = {
        "GroupId": GROUP, "GroupName": "default", "VpcId": "vpc-01234567", "OwnerId": ACCOUNT, "Description": "default VPC security group",
        "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": GROUP, "UserId": ACCOUNT}], "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": []}],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}], "UserIdGroupPairs": [], "PrefixListIds": []}],
        "Tags": [{"Key": "Name", "Value": "main"}],
    }
    rules = [
        {"SecurityGroupRuleId": "sgr-0000000000000000a", "GroupId": GROUP, "GroupOwnerId": ACCOUNT, "IsEgress": False, "IpProtocol": "-1", "FromPort": -1, "ToPort": -1,
         "ReferencedGroupInfo": {"GroupId": GROUP, "UserId": ACCOUNT}},
        {"SecurityGroupRuleId": "sgr-0000000000000000b", "GroupId": GROUP, "GroupOwnerId": ACCOUNT, "IsEgress": True, "IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0"},
        {"SecurityGroupRuleId": "sgr-0000000000000000c", "GroupId": GROUP, "GroupOwnerId": ACCOUNT, "IsEgress": True, "IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "CidrIpv6": "::/0"},
    ]
    attached = {"NetworkInterfaceId": "eni-0123456789abcdef0", "InterfaceType": "interface", "Attachment": {"InstanceId": "i-0123456789abcdef0"}, "Groups": [{"GroupId": GROUP, "GroupName": "default"}]}
    group_filter = [{"Name": "group-id", "Values": [GROUP]}]
    with Stubber(ec2) as stub:
        stub.add_response("describe_security_groups", {"SecurityGroups": [group]}, {"GroupIds": [GROUP]})
        stub.add_response("describe_security_group_rules", {"SecurityGroupRules": rules}, {"Filters": group_filter, "MaxResults": 1000})
        stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [attached]}, {"Filters": group_filter, "MaxResults": 1000})
        state = fixer.read_state(target(GROUP))
        stub.assert_no_pending_responses()
    planned = fixer.plan(state, PARAMS)
    assert isinstance(planned, Plan)
    assert [c.to_json() for c in planned.calls] == [
        {"service": "ec2", "operation": "RevokeSecurityGroupIngress", "params": {"GroupId": GROUP, "SecurityGroupRuleIds": ["sgr-0000000000000000a"]}},
        {"service": "ec2", "operation": "RevokeSecurityGroupEgress", "params": {"GroupId": GROUP, "SecurityGroupRuleIds": ["sgr-0000000000000000b", "sgr-0000000000000000c"]}},
    ]
    assert planned.detail["networkInterfaces"] == [{"networkInterfaceId": "eni-0123456789abcdef0", "interfaceType": "interface", "instanceId": "i-0123456789abcdef0"}]
    assert planned.undo[0].params["IpPermissions"] == [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": GROUP, "UserId": ACCOUNT}]}]


# --- settings -----------------------------------------------------------------------------------


def _stack(rules: dict[str, Any]) -> dict[str, Any]:
    return {"regions": [REGION], "accounts": [{"id": ACCOUNT}], "rules": rules}


def test_a_listed_rule_defaults_to_detect_and_an_unlisted_one_is_off() -> None:
    (rule,) = load_settings(_stack({KEY: {}})).accounts[0].rules
    assert (rule.mode, rule.engine, rule.params["evenWhenInUse"]) == ("detect", "lambda", False)
    assert load_settings(_stack({})).accounts[0].rules == ()
    runbook = CATALOG[KEY].ssm
    assert runbook is not None and runbook.caveat is not None and "ignores" in runbook.caveat


def test_a_bad_even_when_in_use_names_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_stack({KEY: {"mode": "auto", "params": {"evenWhenInUse": "yes"}}}))
    assert raised.value.problems == [f"governance:rules.{KEY}.params.evenWhenInUse must be true or false, got 'yes'."]
    with pytest.raises(ValueError, match=r"params\.evenWhenInUse must be true or false"):
        fixer.parse_params({"evenWhenInUse": 1})
