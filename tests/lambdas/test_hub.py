"""Organization hub: a member account's forwarded compliance event is fixed in that account through
the member role, once Organizations places the account under a target; excluded accounts, accounts
outside the targets and refused roles end in a record that says why, with nothing changed.

Events are built by hand with the member's ``account``, as EventBridge forwards them (research
§3.1): moto's own cross-account forwarding rewrites ``account`` to the receiver's (§4). On moto the
organization's data is readable only as its management account (§4.1), so the hub here is the
management account; on AWS it is a delegated administrator.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from conftest import (
    ACCOUNT,
    DEFAULT_PARAMS,
    REGION,
    SECURITY_HUB_PORTS,
    FakeContext,
    RequestLog,
    automation_event,
    base_config,
    compliance_event,
    rule_entry,
    rule_name,
    security_hub_entry,
)
from moto.organizations import utils as moto_organizations_utils
from remediation import automation, config, handler, hub
from remediation.calls import attach_recorder
from remediation.config import ConfigError, OrganizationSetting, parse_config
from remediation.handler import HUB_IAM_ACTIONS, lambda_handler
from remediation.member_sessions import MemberSessions
from remediation.membership import OrganizationMembership

from governance.lambda_code import handler_iam_actions

MEMBER = "222222222222"
SIBLING_MEMBER = "333333333333"
EXCLUDED = "444444444444"
ROLE = "governance-member"
PORTS = "restricted-admin-ports"


class Organization:
    """root ─ governed ─ nested ─ (MEMBER, EXCLUDED);  root ─ sibling ─ (SIBLING_MEMBER)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        org = boto3.client("organizations")
        org.create_organization(FeatureSet="ALL")
        self.root = org.list_roots()["Roots"][0]["Id"]
        self.governed = org.create_organizational_unit(ParentId=self.root, Name="governed")["OrganizationalUnit"]["Id"]
        self.nested = org.create_organizational_unit(ParentId=self.governed, Name="nested")["OrganizationalUnit"]["Id"]
        self.sibling = org.create_organizational_unit(ParentId=self.root, Name="sibling")["OrganizationalUnit"]["Id"]
        for name, fixed_id, ou in (("member", MEMBER, self.nested), ("excluded", EXCLUDED, self.nested), ("sibling", SIBLING_MEMBER, self.sibling)):
            monkeypatch.setattr(moto_organizations_utils, "make_random_account_id", lambda fixed_id=fixed_id: fixed_id)
            account = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
            org.move_account(AccountId=account, SourceParentId=self.root, DestinationParentId=ou)


@pytest.fixture(autouse=True)
def fresh_hubs() -> Iterator[None]:
    hub.forget_hubs()
    yield
    hub.forget_hubs()


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Organization:
    return Organization(monkeypatch)


@pytest.fixture
def hub_deploy(deploy: Callable[..., dict[str, Any]], org: Organization) -> Callable[..., dict[str, Any]]:
    """Deploy as an organization hub targeting the ``governed`` OU, ``EXCLUDED`` excluded."""

    def apply(**section: Any) -> dict[str, Any]:
        organization = {"memberRoleName": ROLE, "targets": [org.governed], "excludeAccounts": [EXCLUDED], **section}
        return deploy(organization=organization)

    return apply


def member_session(account: str) -> boto3.Session:
    """The account's credentials as moto hands them out for an assumed role (it does not check trust)."""
    credentials = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="test")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def open_group_in(account: str) -> str:
    """A security group open to the world on port 22, in ``account``."""
    ec2 = member_session(account).client("ec2")
    group = str(ec2.create_security_group(GroupName="open-ssh", Description="open to the world")["GroupId"])
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return group


def world_open(account: str, group: str) -> bool:
    permissions = member_session(account).client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    return any(source.get("CidrIp") == "0.0.0.0/0" for permission in permissions for source in permission.get("IpRanges", []))


def ports_event(account: str, group: str) -> dict[str, Any]:
    return compliance_event(rule_name(PORTS), "AWS::EC2::SecurityGroup", group, account=account)


def operations(record: dict[str, Any]) -> list[str]:
    return [call["operation"] for call in record["apiCalls"]]


def the_hub() -> hub.Hub:
    config = parse_config(os.environ["GOVERNANCE_CONFIG"])
    assert config.organization is not None
    return hub.hub_for(config.organization, ACCOUNT, "aws")


def test_a_member_event_is_fixed_in_the_member_account(hub_deploy: Callable[..., Any], requests: RequestLog) -> None:
    hub_deploy()
    group = open_group_in(MEMBER)
    requests.clear()

    record = lambda_handler(ports_event(MEMBER, group), FakeContext())

    assert record["decision"] == "remediated", record["reason"]
    assert (record["account"], record["hubAccount"], record["region"]) == (MEMBER, ACCOUNT, REGION)
    assert not world_open(MEMBER, group)
    # Organizations twice (member → nested → governed), STS once, then the fix.
    assert operations(record)[:3] == ["ListParents", "ListParents", "AssumeRole"]
    assert "RevokeSecurityGroupIngress" in operations(record)
    with pytest.raises(ClientError, match=r"InvalidGroup\.NotFound"):
        boto3.client("ec2").describe_security_groups(GroupIds=[group])  # nothing of it in the hub account


def test_a_second_event_of_the_member_reuses_the_verdict_and_the_session(hub_deploy: Callable[..., Any]) -> None:
    hub_deploy()
    first, second = open_group_in(MEMBER), open_group_in_again(MEMBER)
    assert lambda_handler(ports_event(MEMBER, first), FakeContext())["decision"] == "remediated"

    record = lambda_handler(ports_event(MEMBER, second), FakeContext())

    assert record["decision"] == "remediated" and record["account"] == MEMBER
    assert "ListParents" not in operations(record) and "AssumeRole" not in operations(record)
    assert (the_hub().membership.requests_made(), the_hub().sessions.assume_role_calls()) == (2, 1)


def open_group_in_again(account: str) -> str:
    ec2 = member_session(account).client("ec2")
    group = str(ec2.create_security_group(GroupName="open-rdp", Description="open to the world")["GroupId"])
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return group


def test_the_audit_record_is_published_by_the_hub_naming_the_member(hub_deploy: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    hub_deploy()
    group = open_group_in(MEMBER)
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(handler, "publish_result", lambda record, source, resources: published.append(record.to_json()))

    lambda_handler(ports_event(MEMBER, group), FakeContext())

    assert [(entry["account"], entry["hubAccount"]) for entry in published] == [(MEMBER, ACCOUNT)]


def test_an_excluded_account_is_ignored_without_a_request(hub_deploy: Callable[..., Any], requests: RequestLog) -> None:
    hub_deploy()
    group = open_group_in(EXCLUDED)
    requests.clear()

    record = lambda_handler(ports_event(EXCLUDED, group), FakeContext())

    assert (record["decision"], record["level"], record["account"]) == ("ignored", "warning", EXCLUDED)
    assert f"Account {EXCLUDED} is excluded from governance" in record["reason"]
    assert record["apiCalls"] == [] and requests.operations() == []
    assert (the_hub().membership.requests_made(), the_hub().sessions.assume_role_calls()) == (0, 0)
    assert world_open(EXCLUDED, group)


def test_an_account_outside_the_targets_is_ignored_with_the_reason(hub_deploy: Callable[..., Any], org: Organization) -> None:
    hub_deploy()
    group = open_group_in(SIBLING_MEMBER)

    record = lambda_handler(ports_event(SIBLING_MEMBER, group), FakeContext())

    assert (record["decision"], record["level"], record["account"]) == ("ignored", "warning", SIBLING_MEMBER)
    assert f"Account {SIBLING_MEMBER} is not under any targeted OU (its path is {org.sibling} < {org.root})" in record["reason"]
    assert record["reason"].endswith(f"this hub does not act in account {SIBLING_MEMBER}, nothing was changed")
    assert operations(record) == ["ListParents", "ListParents"]
    assert the_hub().sessions.assume_role_calls() == 0 and world_open(SIBLING_MEMBER, group)


def test_an_account_not_in_the_organization_is_ignored(hub_deploy: Callable[..., Any]) -> None:
    hub_deploy()

    record = lambda_handler(ports_event("555555555555", "sg-0123456789abcdef0"), FakeContext())

    assert record["decision"] == "ignored" and "555555555555" in record["reason"]
    assert the_hub().sessions.assume_role_calls() == 0


def stubbed_sessions(response: dict[str, Any] | None, error: str | None = None) -> Stubber:
    sts = boto3.client("sts", region_name=REGION)
    attach_recorder(sts)  # as the hub's own STS client: its calls appear in the record
    stubber = Stubber(sts)
    if error is not None:
        stubber.add_client_error("assume_role", error, "not allowed", 403)
    else:
        stubber.add_response("assume_role", response)
    the_hub().sessions = MemberSessions(ROLE, "aws", ACCOUNT, frozenset({EXCLUDED}), sts_client=sts)
    return stubber


def test_a_refused_assume_role_fails_and_changes_nothing(hub_deploy: Callable[..., Any]) -> None:
    hub_deploy()
    group = open_group_in(MEMBER)
    stubber = stubbed_sessions(None, error="AccessDenied")

    with stubber:
        record = lambda_handler(ports_event(MEMBER, group), FakeContext())

    assert (record["decision"], record["level"], record["account"]) == ("failed", "error", MEMBER)
    assert record["reason"] == (
        f"STS refused to let the function assume arn:aws:iam::{MEMBER}:role/{ROLE} (AccessDenied), "
        f"so nothing is done in account {MEMBER}; nothing was changed"
    )
    assert operations(record) == ["ListParents", "ListParents", "AssumeRole"]
    assert world_open(MEMBER, group)


def test_credentials_of_another_account_fail_and_change_nothing(hub_deploy: Callable[..., Any]) -> None:
    hub_deploy()
    group = open_group_in(MEMBER)
    expires = datetime.now(UTC) + timedelta(hours=1)
    response = {
        "Credentials": {"AccessKeyId": "ASIAOTHER00000000001", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": expires},
        "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:x", "Arn": f"arn:aws:sts::{SIBLING_MEMBER}:assumed-role/{ROLE}/x"},
    }
    stubber = stubbed_sessions(response)

    with stubber:
        record = lambda_handler(ports_event(MEMBER, group), FakeContext())

    assert (record["decision"], record["account"]) == ("failed", MEMBER)
    assert f"not of account {MEMBER}, so they are not used" in record["reason"]
    assert "RevokeSecurityGroupIngress" not in operations(record) and world_open(MEMBER, group)


def test_throttled_organizations_raises_for_a_retry(hub_deploy: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    hub_deploy()
    organizations = boto3.client("organizations", region_name=REGION)
    stubber = Stubber(organizations)
    stubber.add_client_error("list_parents", "TooManyRequestsException", "slow down", 400)
    access = the_hub()
    access.membership = OrganizationMembership(access.setting.targets, access.setting.exclude_accounts, organizations_client=organizations)
    capsys.readouterr()

    with stubber, pytest.raises(ClientError, match="TooManyRequestsException"):
        lambda_handler(ports_event(MEMBER, "sg-0123456789abcdef0"), FakeContext())

    attempt = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (attempt["final"], attempt["account"], attempt["hubAccount"]) == (False, MEMBER, ACCOUNT)
    assert attempt["reason"].startswith("transient error (TooManyRequestsException")


def own_open_group() -> str:
    ec2 = boto3.client("ec2")
    group = str(ec2.create_security_group(GroupName="own-open", Description="open")["GroupId"])
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    return group


def test_the_hubs_own_event_is_fixed_through_its_member_role_when_a_target_holds_the_hub(
    hub_deploy: Callable[..., Any], org: Organization
) -> None:
    hub_deploy(targets=[org.root])
    group = own_open_group()

    record = lambda_handler(ports_event(ACCOUNT, group), FakeContext())

    assert record["decision"] == "remediated" and (record["account"], record["hubAccount"]) == (ACCOUNT, ACCOUNT)
    # The hub's role holds no fixer action: the member role the stack sets give the hub does the fix.
    assert operations(record)[:2] == ["ListParents", "AssumeRole"]
    assert not world_open(ACCOUNT, group)


def test_the_hubs_own_event_is_ignored_when_no_target_holds_the_hub(hub_deploy: Callable[..., Any]) -> None:
    hub_deploy()
    group = own_open_group()

    record = lambda_handler(ports_event(ACCOUNT, group), FakeContext())

    assert (record["decision"], record["level"], record["account"]) == ("ignored", "warning", ACCOUNT)
    assert "AssumeRole" not in operations(record)
    assert world_open(ACCOUNT, group)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda event: event.update(account=ACCOUNT), "is not this function's account"),
        (lambda event: event["detail"].update(awsAccountId=ACCOUNT), "is not this function's account"),
        (lambda event: event.update(region="eu-west-1"), "is not this function's region"),
        (lambda event: event["detail"].update(awsRegion="eu-west-1"), "is not this function's region"),
    ],
)
def test_a_member_event_must_agree_on_its_account_and_be_of_the_functions_region(
    hub_deploy: Callable[..., Any], requests: RequestLog, change: Callable[[dict[str, Any]], Any], reason: str
) -> None:
    hub_deploy()
    event = ports_event(MEMBER, "sg-0123456789abcdef0")
    change(event)
    requests.clear()

    record = lambda_handler(event, FakeContext())

    assert record["decision"] == "ignored" and record["level"] == "warning" and reason in record["reason"]
    assert requests.operations() == []


def test_without_an_organization_section_a_member_event_is_ignored_as_before(
    deploy: Callable[..., Any], org: Organization, requests: RequestLog
) -> None:
    deploy()
    requests.clear()

    record = lambda_handler(ports_event(MEMBER, "sg-0123456789abcdef0"), FakeContext())

    assert record["decision"] == "ignored" and f"is not this function's account {ACCOUNT}" in record["reason"]
    assert record["account"] == ACCOUNT and requests.operations() == []


def test_the_organization_section_is_parsed() -> None:
    raw = json.loads(os.environ["GOVERNANCE_CONFIG"])
    raw["organization"] = {"memberRoleName": ROLE, "targets": ["r-abcd", "ou-abcd-12345678", "r-abcd"], "excludeAccounts": [EXCLUDED]}

    parsed = parse_config(json.dumps(raw)).organization

    assert parsed == OrganizationSetting(ROLE, ("r-abcd", "ou-abcd-12345678"), (EXCLUDED,))
    raw["organization"].pop("excludeAccounts")
    assert parse_config(json.dumps(raw)).organization == OrganizationSetting(ROLE, ("r-abcd", "ou-abcd-12345678"), ())
    raw.pop("organization")
    assert parse_config(json.dumps(raw)).organization is None


VALID = {"memberRoleName": ROLE, "targets": ["r-abcd"], "excludeAccounts": []}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (["r-abcd"], "organization must be an object with memberRoleName, targets and excludeAccounts"),
        ({**VALID, "memberRoleName": ""}, "organization.memberRoleName must be an IAM role name (1-64 letters, digits or +=,.@_-)"),
        ({**VALID, "memberRoleName": "role/with/path"}, "organization.memberRoleName must be an IAM role name"),
        ({**VALID, "memberRoleName": "r" * 65}, "organization.memberRoleName must be an IAM role name"),
        ({k: v for k, v in VALID.items() if k != "memberRoleName"}, "organization.memberRoleName must be an IAM role name"),
        ({**VALID, "targets": []}, "organization.targets must be a non-empty list of OU ids (ou-...) or root ids (r-...)"),
        ({**VALID, "targets": "r-abcd"}, "organization.targets must be a non-empty list"),
        ({**VALID, "targets": ["123456789012"]}, "organization.targets must be a non-empty list"),
        ({**VALID, "targets": ["ou-abcd"]}, "organization.targets must be a non-empty list"),
        ({**VALID, "excludeAccounts": ["1234"]}, "organization.excludeAccounts must be a list of account ids (12 digits)"),
        ({**VALID, "excludeAccounts": "123456789012"}, "organization.excludeAccounts must be a list of account ids"),
    ],
)
def test_an_invalid_organization_section_is_named(section: Any, message: str, deploy: Callable[..., Any]) -> None:
    raw = json.dumps(deploy(organization=section))
    with pytest.raises(ConfigError) as refused:
        parse_config(raw)
    assert str(refused.value).startswith(message)

    record = lambda_handler(ports_event(ACCOUNT, "sg-0123456789abcdef0"), FakeContext())

    assert record["decision"] == "ignored" and record["reason"] == f"the deployment config is invalid: {refused.value}; nothing was changed"


def test_hub_actions_are_granted_only_to_a_hub() -> None:
    assert HUB_IAM_ACTIONS == hub.HUB_IAM_ACTIONS == ("organizations:ListParents", "sts:AssumeRole")
    plain = handler_iam_actions(audits_ssm=True, updates_securityhub=True)
    as_hub = handler_iam_actions(audits_ssm=True, updates_securityhub=True, organization_hub=True)
    assert set(as_hub) - set(plain) == set(HUB_IAM_ACTIONS)
    assert not set(plain) & set(HUB_IAM_ACTIONS)


# --- a member's SSM remediations ----------------------------------------------------------------

LOG_VALIDATION_RUNBOOK = "AWSConfigRemediation-EnableCloudTrailLogFileValidation"
EXECUTION_ID = "4105a4fc-f944-11e6-9d32-0a1b2c3d495e"


def member_automation_event(account: str, status: str = "Success") -> dict[str, Any]:
    """A member's execution event as its forwarding rule delivers it: the member's ``account`` kept."""
    event = automation_event(LOG_VALIDATION_RUNBOOK, status)
    event["account"] = account
    event["resources"] = [arn.replace(f":{ACCOUNT}:", f":{account}:") for arn in event["resources"]]
    return event


@pytest.fixture
def stubbed_executions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Answer GetAutomationExecution (moto has no automation executions); yields the accounts whose credentials asked."""
    accounts: list[str] = []
    stubbers: list[Stubber] = []
    real_client = automation.client

    def client(service: str, region: str | None = None) -> Any:
        ssm = real_client(service, region)
        frozen = ssm._request_signer._credentials.get_frozen_credentials()
        identity = boto3.client(
            "sts", aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key, aws_session_token=frozen.token
        ).get_caller_identity()
        accounts.append(identity["Account"])
        stubber = Stubber(ssm)
        execution = {"AutomationExecutionId": EXECUTION_ID, "DocumentName": LOG_VALIDATION_RUNBOOK, "AutomationExecutionStatus": "Success",
                     "Parameters": {"TrailName": ["member-trail"]}}
        stubber.add_response("get_automation_execution", {"AutomationExecution": execution}, {"AutomationExecutionId": EXECUTION_ID})
        stubber.activate()
        stubbers.append(stubber)
        return ssm

    monkeypatch.setattr(automation, "client", client)
    yield accounts
    for stubber in stubbers:
        stubber.deactivate()


def test_a_members_ssm_outcome_is_read_through_the_member_role_and_recorded_with_the_member(
    hub_deploy: Callable[..., Any], stubbed_executions: list[str]
) -> None:
    hub_deploy()
    record = lambda_handler(member_automation_event(MEMBER), FakeContext())
    assert (record["decision"], record["engine"], record["ruleKey"]) == ("remediated", "ssm", "cloudtrail-log-validation")
    assert (record["account"], record["hubAccount"], record["resourceId"]) == (MEMBER, ACCOUNT, "member-trail")
    assert stubbed_executions == [MEMBER], "the execution is read with the member role's credentials"
    assert operations(record) == ["ListParents", "ListParents", "AssumeRole", "GetAutomationExecution"]
    # Profiles may run the runbook in different modes, and the hub cannot tell which one ran it.
    assert record["mode"] is None


@pytest.mark.parametrize("account", [EXCLUDED, SIBLING_MEMBER])
def test_an_ssm_outcome_of_an_account_the_hub_does_not_govern_is_not_read(
    hub_deploy: Callable[..., Any], stubbed_executions: list[str], account: str
) -> None:
    hub_deploy()
    record = lambda_handler(member_automation_event(account), FakeContext())
    assert (record["decision"], record["level"], record["account"]) == ("ignored", "warning", account)
    assert "nothing was changed" in record["reason"]
    assert stubbed_executions == []
    assert "GetAutomationExecution" not in operations(record)


def test_without_an_organization_section_a_members_ssm_outcome_is_ignored(deploy: Callable[..., Any], stubbed_executions: list[str]) -> None:
    deploy()
    record = lambda_handler(member_automation_event(MEMBER), FakeContext())
    assert (record["decision"], record["level"]) == ("ignored", "warning")
    assert f"the event's account '{MEMBER}' is not this function's account" in record["reason"]
    assert stubbed_executions == []


# --- rule profiles --------------------------------------------------------------------------------


def test_an_account_takes_the_rules_of_its_targets_profile(hub_deploy: Callable[..., Any], org: Organization) -> None:
    # The config's rules fix ports automatically; the profile of the governed OU only records the planned change.
    hub_deploy(targets=[org.governed, org.sibling], profiles=[{"targets": [org.governed], "rules": {PORTS: rule_entry(DEFAULT_PARAMS[PORTS], "manual")}}])
    member_group, sibling_group = open_group_in(MEMBER), open_group_in(SIBLING_MEMBER)

    member = lambda_handler(ports_event(MEMBER, member_group), FakeContext())
    sibling = lambda_handler(ports_event(SIBLING_MEMBER, sibling_group), FakeContext())

    assert (member["decision"], member["mode"]) == ("dry_run", "manual")
    assert world_open(MEMBER, member_group)
    assert (sibling["decision"], sibling["mode"]) == ("remediated", "auto")
    assert not world_open(SIBLING_MEMBER, sibling_group)


def test_a_rule_the_profile_leaves_out_is_not_fixed_in_its_accounts(hub_deploy: Callable[..., Any], org: Organization) -> None:
    hub_deploy(profiles=[{"targets": [org.governed], "rules": {PORTS: None}}])
    group = open_group_in(MEMBER)

    record = lambda_handler(ports_event(MEMBER, group), FakeContext())

    assert (record["decision"], record["level"]) == ("ignored", "info")
    assert f"does not fix {PORTS} in accounts under {org.governed}" in record["reason"]
    assert world_open(MEMBER, group)
    assert not any(operation.startswith(("Revoke", "Authorize")) for operation in operations(record))


def test_an_event_of_a_rule_source_the_profile_does_not_take_is_not_fixed(hub_deploy: Callable[..., Any], org: Organization) -> None:
    # The governed OU takes the ports rule from Security Hub: an event of the program's own rule is not its to fix.
    _, *prefixes = SECURITY_HUB_PORTS
    hub_deploy(profiles=[{"targets": [org.governed], "rules": {PORTS: security_hub_entry(PORTS, *prefixes)}}])
    group = open_group_in(MEMBER)

    own = lambda_handler(ports_event(MEMBER, group), FakeContext())
    assert (own["decision"], own["level"]) == ("ignored", "info")
    assert "take restricted-admin-ports from Security Hub's rule" in own["reason"]
    assert world_open(MEMBER, group)

    from_security_hub = lambda_handler(
        compliance_event(f"{prefixes[0]}a1b2c3", "AWS::EC2::SecurityGroup", group, account=MEMBER), FakeContext()
    )
    assert from_security_hub["decision"] == "remediated", from_security_hub["reason"]
    assert not world_open(MEMBER, group)


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ("governed", "organization.profiles must be a list of {targets, rules} objects"),
        (["governed"], "organization.profiles[0] must be an object with targets and rules"),
        ([{"targets": ["ou-abcd-99999999"], "rules": {}}], "organization.profiles[0].targets must be a non-empty list of entries of organization.targets"),
        ([{"targets": ["r-abcd"], "rules": []}], "organization.profiles[0].rules must be an object keyed by name"),
        ([{"targets": ["r-abcd"], "rules": {"open-ports": None}}], "organization.profiles[0].rules.open-ports is not a rule key"),
        ([{"targets": ["r-abcd"], "rules": {PORTS: {"mode": "fix"}}}], f"organization.profiles[0].rules.{PORTS}.mode must be auto or manual"),
        ([{"targets": ["r-abcd"], "rules": {}}, {"targets": ["r-abcd"], "rules": {}}], "organization.profiles must name each target in one profile at most"),
    ],
)
def test_an_invalid_profile_is_named(profiles: Any, message: str) -> None:
    raw = base_config(organization={**VALID, "profiles": profiles})
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(json.dumps(raw))


def test_a_protected_rule_is_manual_in_a_profile_too() -> None:
    raw = base_config(protectedRules=[PORTS], organization={**VALID, "profiles": [{"targets": ["r-abcd"], "rules": {PORTS: rule_entry(DEFAULT_PARAMS[PORTS])}}]})
    organization = parse_config(json.dumps(raw)).organization
    assert organization is not None
    profile = organization.profile_for("r-abcd")
    assert profile is not None
    setting = profile.rules[PORTS].setting
    assert setting is not None and (setting.mode, setting.auto_refused) == ("manual", True)


# --- values of each member account ---------------------------------------------------------------

FLOWS = "vpc-flow-logs"


def test_a_members_flow_logs_are_delivered_through_its_own_role(deploy: Callable[..., Any], org: Organization) -> None:
    params = {**DEFAULT_PARAMS[FLOWS], "deliverLogsRoleArn": "arn:aws:iam::<AWS.AccountId>:role/governance-flow-logs"}
    rules = {**base_config()["rules"], FLOWS: rule_entry(params)}
    deploy(rules=rules, organization={"memberRoleName": ROLE, "targets": [org.governed], "excludeAccounts": [EXCLUDED]})
    ec2 = member_session(MEMBER).client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

    record = lambda_handler(compliance_event(rule_name(FLOWS), "AWS::EC2::VPC", vpc, account=MEMBER), FakeContext())

    assert record["decision"] == "remediated", record["reason"]
    (flow_log,) = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    assert flow_log["DeliverLogsPermissionArn"] == f"arn:aws:iam::{MEMBER}:role/governance-flow-logs"


def test_the_member_account_placeholder_is_the_one_the_templates_use() -> None:
    from governance.member_template import ACCOUNT_ID

    assert config.MEMBER_ACCOUNT == ACCOUNT_ID
