"""``demo``, organization part: one stack in a hub account governs every account under some OUs.

Runs on the demo's emulator, after its first part:

1. Create an organization (moto Organizations): the management account, OUs (one nested), member
   accounts, a hub account, one excluded account; write an organization-mode stack file with
   targets, the exclusion and an override.
2. Run the Pulumi program under mocks for that file and take from what it registers the hub
   Lambda's config, the hub bus and its rule, and each profile's stack sets and instances; build it
   again with 2,000 accounts in the mocked organization to show the count does not change.
3. Deploy the member side as the stack sets would: for each registered stack set instance, one
   CloudFormation stack with the stack set's template in every account its deployment targets
   cover, listed with the CLI's ``targeted_accounts`` (moto runs no service-managed stack sets).
   Put real-shaped compliance events on member buses; the forwarding rules the templates create
   send them to the hub bus, where the hub rule's pattern routes them to a queue (moto cannot invoke
   Lambda), and each is handed to the hub handler with the hub Lambda's environment.
4. Create an account in a targeted OU after deployment: the listing finds it, and its event is
   fixed. A forged event of an account outside the targets, and an excluded account's, are not acted on.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import os
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
import yaml

from governance.cli.demo import FunctionContext, compliance_event, heading, say
from governance.cli.organization import targeted_accounts
from governance.lambda_code import lambda_module
from governance.mock_program import ProgramRun, Registered, run_program
from governance.settings import NAMESPACE
from governance.stack_file import file_values, load_stack_file

STACK = "org-demo"
REGIONS = ("us-east-1", "eu-west-1")
EVENT_REGION = REGIONS[0]
"""Where the demo's member resources live and its events are put: the hub Lambda of this region handles them."""
LARGE_ORGANIZATION = 2000
ACCESS_ROLE = "OrganizationAccountAccessRole"
"""The role Organizations creates in every account it creates, trusting the management account."""
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"

FUNCTION = "aws:lambda/function:Function"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
ROLE = "aws:iam/role:Role"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"


@dataclass(frozen=True)
class DemoOrganization:
    """The organization the demo creates: ids of its root, OUs (by name) and accounts (by name)."""

    id: str
    management: str
    root: str
    units: dict[str, str]
    """OU id by name."""
    accounts: dict[str, str]
    """Account id by name."""
    parents: dict[str, str]
    """The OU or root name each account or OU is in, by its name."""


@dataclass(frozen=True)
class StackSetDeployment:
    """One stack set instance as the program registers it: where it deploys which template."""

    stack_set: str
    template: dict[str, Any]
    parameters: dict[str, str]
    region: str
    units: tuple[str, ...]
    excluded: tuple[str, ...]

    @property
    def roles_only(self) -> bool:
        """Whether the template holds IAM roles only (the roles stack set, deployed before the rules)."""
        return all(resource["Type"] == "AWS::IAM::Role" for resource in self.template["Resources"].values())


@dataclass(frozen=True)
class HubDeployment:
    """What the program registers for the hub, read back from the mocks."""

    run: ProgramRun
    lambda_config: dict[str, Any]
    """GOVERNANCE_CONFIG of the hub Lambda in ``EVENT_REGION``."""
    function_name: str
    bus_name: str
    hub_rule_name: str
    hub_pattern: dict[str, Any]
    """The hub rule's pattern on ``bus_name``, in ``EVENT_REGION``."""
    lambda_role: Registered
    instances: tuple[StackSetDeployment, ...]

    @property
    def rule_name_prefix(self) -> str:
        """What the Config rules' names start with, as the hub Lambda's config says."""
        return str(self.lambda_config["ruleNamePrefix"])


@dataclass
class Outcome:
    """What the organization part showed; ``succeeded`` is true when every claim held."""

    checks: dict[str, bool] = field(default_factory=dict)

    def check(self, claim: str, held: bool) -> None:
        """Record whether ``claim`` held."""
        self.checks[claim] = held

    @property
    def succeeded(self) -> bool:
        """Every recorded claim held."""
        return bool(self.checks) and all(self.checks.values())


# --- the organization -------------------------------------------------------------------------------


class ManagementAccess:
    """Clients in the organization's accounts through ``OrganizationAccountAccessRole``, as the management account reaches them.

    The management account's credentials are read once, so the hub Lambda's environment (set while
    the handler runs) does not change who creates and inspects the member resources. Every client
    comes from one boto3 session, which reads each service's model once.
    """

    def __init__(self) -> None:
        credentials = boto3.Session().get_credentials()
        assert credentials is not None, "the emulator sets credentials"
        frozen = credentials.get_frozen_credentials()
        self.session = boto3.Session(frozen.access_key, frozen.secret_key, frozen.token, region_name=EVENT_REGION)
        self._sts = self.session.client("sts")
        self._credentials: dict[str, dict[str, str]] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}

    def client(self, account: str, service: str, region: str = EVENT_REGION) -> Any:
        """A client of ``service`` in ``account`` and ``region``."""
        key = (account, service, region)
        if key not in self._clients:
            if account not in self._credentials:
                self._credentials[account] = self.assume(f"arn:aws:iam::{account}:role/{ACCESS_ROLE}", "governance-demo")
            credentials = self._credentials[account]
            self._clients[key] = self.session.client(
                service,
                region_name=region,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        return self._clients[key]

    def assume(self, role_arn: str, session_name: str) -> dict[str, str]:
        """Credentials of ``role_arn``, as a service the role trusts would get them."""
        credentials = self._sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return {key: str(value) for key, value in credentials.items()}


def create_account(organizations: Any, root: str, name: str, unit: str) -> str:
    """A new account named ``name``, moved from the root into ``unit``; its id."""
    status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    account = str(status["AccountId"])
    organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=unit)
    return account


def create_organization(organizations: Any) -> DemoOrganization:
    """An organization: under its root Security (hub), Workloads (workloads, excluded) with Team (team) below it, Data (data), Sandbox (sandbox)."""
    described = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    layout = {"Security": "root", "Workloads": "root", "Team": "Workloads", "Data": "root", "Sandbox": "root"}
    units: dict[str, str] = {}
    for name, parent in layout.items():
        parent_id = root if parent == "root" else units[parent]
        units[name] = organizations.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]
    homes = {"hub": "Security", "workloads": "Workloads", "excluded": "Workloads", "team": "Team", "data": "Data", "sandbox": "Sandbox"}
    accounts = {name: create_account(organizations, root, name, units[unit]) for name, unit in homes.items()}
    return DemoOrganization(described["Id"], described["MasterAccountId"], root, units, accounts, {**layout, **homes})


def register_hub(organizations: Any, hub: str) -> str:
    """Trusted access and the hub as StackSets delegated administrator; what the emulator said, in one sentence."""
    organizations.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    try:
        organizations.register_delegated_administrator(AccountId=hub, ServicePrincipal=STACKSETS_PRINCIPAL)
    except organizations.exceptions.ClientError as error:
        code = error.response["Error"]["Code"]
        return f"moto refuses the hub as StackSets delegated administrator ({code}: it knows no {STACKSETS_PRINCIPAL}); on AWS the management account registers it once."
    return "the hub is registered as StackSets delegated administrator."


def stack_values(organization: DemoOrganization) -> dict[str, Any]:
    """The organization stack's ``governance:*`` values: Workloads (with Team below it) and Data, an exclusion, an override."""
    units, accounts = organization.units, organization.accounts
    return {
        f"{NAMESPACE}:regions": list(REGIONS),
        f"{NAMESPACE}:rules": {
            "restricted-admin-ports": {"mode": "auto", "params": {"ports": [22, 3389]}},
            "s3-bucket-public-access": {"mode": "auto", "engine": "lambda"},
            "kms-key-rotation": {"mode": "auto"},
            "s3-bucket-encryption": {"mode": "auto", "engine": "ssm"},
        },
        f"{NAMESPACE}:organization": {
            "adminAccountId": accounts["hub"],
            "adminRoleArn": f"arn:aws:iam::{accounts['hub']}:role/governance-deploy",
            "targets": [units["Workloads"], units["Data"]],
            "excludeAccounts": [accounts["excluded"]],
            # The data team's security groups are theirs to fix: Config reports, nothing is changed.
            "overrides": [{"targets": [units["Data"]], "rules": {"restricted-admin-ports": {"mode": "detect"}}}],
        },
    }


def write_stack_file(organization: DemoOrganization, workdir: Path) -> Path:
    """``Pulumi.org-demo.yaml`` in ``workdir``: the ids exist only in this emulator, so the file is written, not checked in."""
    path = workdir / f"Pulumi.{STACK}.yaml"
    path.write_text(yaml.safe_dump({"config": stack_values(organization)}, sort_keys=False))
    return path


# --- what the program registers -----------------------------------------------------------------------


def _one(resources: list[Registered], what: str) -> Registered:
    if len(resources) != 1:
        raise RuntimeError(f"the program registered {len(resources)} {what}, expected one")
    return resources[0]


def _in_region(run: ProgramRun, type_token: str, region: str) -> list[Registered]:
    return [resource for resource in run.of_type(type_token) if resource.inputs.get("region") == region]


def _trusts_lambda(role: Registered) -> bool:
    """Whether the role's trust policy names the Lambda service (the hub Lambda's execution role)."""
    trust = json.loads(role.inputs["assumeRolePolicy"])
    return any(statement.get("Principal", {}).get("Service") == "lambda.amazonaws.com" for statement in trust["Statement"])


def hub_deployment(config: dict[str, Any], accounts: tuple[str, ...]) -> HubDeployment:
    """Run the program under mocks (the organization holding ``accounts``) and read the hub's side from it."""
    run = run_program(config, STACK, organization_accounts=accounts)
    function = _one(_in_region(run, FUNCTION, EVENT_REGION), f"hub Lambdas in {EVENT_REGION}")
    bus = _one(_in_region(run, EVENT_BUS, EVENT_REGION), f"hub buses in {EVENT_REGION}")
    rule = _one([rule for rule in _in_region(run, EVENT_RULE, EVENT_REGION) if rule.inputs.get("eventBusName") == bus.inputs["name"]], "hub rules")
    templates = {stack_set.inputs["name"]: stack_set for stack_set in run.of_type(STACK_SET)}
    instances = []
    for instance in run.of_type(STACK_SET_INSTANCE):
        stack_set = templates[instance.inputs["stackSetName"]]
        targets = instance.inputs["deploymentTargets"]
        instances.append(StackSetDeployment(
            stack_set=stack_set.inputs["name"],
            template=json.loads(stack_set.inputs["templateBody"]),
            parameters={str(key): str(value) for key, value in (stack_set.inputs.get("parameters") or {}).items()},
            region=instance.inputs["stackSetInstanceRegion"],
            units=tuple(targets["organizationalUnitIds"]),
            excluded=tuple(targets.get("accounts") or ()) if targets.get("accountFilterType") == "DIFFERENCE" else (),
        ))
    # Roles first: the rules stack set's resources name them (its instances wait for the roles' in the program too).
    instances.sort(key=lambda deployment: not deployment.roles_only)
    return HubDeployment(
        run=run,
        lambda_config=json.loads(function.inputs["environment"]["variables"]["GOVERNANCE_CONFIG"]),
        function_name=function.inputs["name"],
        bus_name=bus.inputs["name"],
        hub_rule_name=rule.inputs["name"],
        hub_pattern=json.loads(rule.inputs["eventPattern"]),
        lambda_role=_one([role for role in run.of_type(ROLE) if _trusts_lambda(role)], "hub Lambda roles"),
        instances=tuple(instances),
    )


def show_hub(out: TextIO, hub: HubDeployment, large: ProgramRun, organization: DemoOrganization, names: Callable[[str], str]) -> bool:
    """Print what the hub deploys; true when the count is the same for a 2,000-account organization."""
    small_count, large_count = len(hub.run.resources), len(large.resources)
    say(out, f"  {small_count} resources registered with {len(organization.accounts) + 1} accounts in the organization; "
             f"{large_count} with {LARGE_ORGANIZATION:,}: the program never lists accounts")
    say(out, "  invokes: " + ", ".join(sorted({f"{invoked.token.rsplit(':', 1)[-1]}({json.dumps(invoked.args)})" for invoked in hub.run.invokes})))
    section = hub.lambda_config["organization"]
    say(out, f"  Hub Lambda {hub.function_name} in {EVENT_REGION}: memberRoleName {section['memberRoleName']}, "
             f"targets {', '.join(names(target) for target in section['targets'])}, excludeAccounts {', '.join(section['excludeAccounts'])}")
    fixes = ", ".join(f"{key} ({rule['mode']})" for key, rule in sorted(hub.lambda_config["rules"].items()))
    say(out, f"    rules the hub Lambda fixes: {fixes}")
    say(out, f"  Hub bus {hub.bus_name}; the hub rule on it routes {len(_rule_names(hub.hub_pattern))} rule name(s) to the Lambda")
    for stack_set in sorted({instance.stack_set for instance in hub.instances}):
        deployments = [instance for instance in hub.instances if instance.stack_set == stack_set]
        template = deployments[0].template
        kinds = sorted({resource["Type"].removeprefix("AWS::") for resource in template["Resources"].values()})
        units = sorted({names(unit) for deployment in deployments for unit in deployment.units})
        regions = sorted({deployment.region for deployment in deployments})
        say(out, f"  Stack set {stack_set}: {len(template['Resources'])} resources ({', '.join(kinds)}); instances for {', '.join(units)} in {', '.join(regions)}")
    return small_count == large_count


def _rule_names(pattern: dict[str, Any]) -> set[str]:
    """Config rule names a (possibly ``$or``) pattern routes."""
    names: set[str] = set()
    for branch in pattern.get("$or", [pattern]):
        names.update(branch.get("detail", {}).get("configRuleName", []))
    return names


# --- the member side ------------------------------------------------------------------------------


@contextmanager
def quiet_cloudformation() -> Iterator[None]:
    """Silence the warnings moto's CloudFormation gives for the resource types it skips: the demo says it once.

    They are the ``AWS::Config::*`` resources, the forwarding dead-letter queue's policy and the placeholder
    of excluded accounts' stacks.
    """
    moto_logger = logging.getLogger("moto")
    level = moto_logger.level
    moto_logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse AWS::Config::")
        warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
        warnings.filterwarnings("ignore", message="Tried to parse AWS::SQS::QueuePolicy")
        try:
            yield
        finally:
            moto_logger.setLevel(level)


def deploy_member_stacks(
    access: ManagementAccess, hub: HubDeployment, organizations: Any, only: frozenset[str] | None = None
) -> dict[str, list[tuple[str, str]]]:
    """Create each instance's stack in every account its targets cover (``only`` these, when given).

    Returns the (stack set, region) pairs deployed, by account. The accounts come from the CLI's
    listing of the instance's OUs, less its DIFFERENCE accounts, as StackSets resolves them.
    """
    deployed: dict[str, list[tuple[str, str]]] = {}
    with quiet_cloudformation():
        for instance in hub.instances:
            listed = targeted_accounts(organizations, instance.units, instance.excluded)
            for account in listed.ids:
                if only is not None and account not in only:
                    continue
                cloudformation = access.client(account, "cloudformation", instance.region)
                # Named as StackSets names a stack instance's stack, StackSet-<stack set>-<uuid> (UNVERIFIED: the form
                # seen in member accounts, not re-read in AWS's documentation for this project; nothing depends on it).
                cloudformation.create_stack(
                    StackName=f"StackSet-{instance.stack_set}-{uuid.uuid4()}",
                    TemplateBody=json.dumps(instance.template),
                    Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in instance.parameters.items()],
                    Capabilities=["CAPABILITY_NAMED_IAM"],
                )
                deployed.setdefault(account, []).append((instance.stack_set, instance.region))
    return deployed


def _deployed_line(pairs: list[tuple[str, str]]) -> str:
    regions: dict[str, list[str]] = {}
    for stack_set, region in pairs:
        regions.setdefault(stack_set, []).append(region)
    return "; ".join(f"{stack_set} in {', '.join(where)}" for stack_set, where in regions.items())


def _document(value: Any) -> dict[str, Any]:
    """A policy document as IAM returned it, decoded by botocore, or as text.

    moto's CloudFormation stores a role's inline policies as Python's rendering of the template's
    mapping (single quotes), which botocore leaves as text; AWS returns URL-encoded JSON.
    """
    if not isinstance(value, str):
        return dict(value)
    text = urllib.parse.unquote(value)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = ast.literal_eval(text)
    return dict(parsed)


def member_role_summary(access: ManagementAccess, account: str, role_name: str) -> str:
    """The member role as created in ``account``: whom it trusts and how many actions it allows."""
    iam = access.client(account, "iam")
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return f"no role {role_name}"
    trusted = "; ".join(_trusted(statement) for statement in _document(role["AssumeRolePolicyDocument"])["Statement"])
    actions = {
        action
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        for statement in _document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])["Statement"]
        for action in _listed(statement.get("Action"))
    }
    return f"trusts {trusted}; allows {len(actions)} actions"


def _listed(value: Any) -> list[Any]:
    """A policy element that is one value or a list of them, as a list."""
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def _trusted(statement: dict[str, Any]) -> str:
    """Who a trust policy statement lets assume the role, and under which principal ARNs."""
    principal = statement.get("Principal")
    who = ", ".join(map(str, _listed(principal.get("AWS") or principal.get("Service")))) if isinstance(principal, dict) else str(principal)
    arns = _listed(statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn"))
    return f"{who} when aws:PrincipalArn is {', '.join(map(str, arns))}" if arns else who


def forwarding_summary(access: ManagementAccess, account: str) -> str:
    """The forwarding rules on ``account``'s default bus in ``EVENT_REGION`` and their targets."""
    events = access.client(account, "events")
    lines = []
    for rule in events.list_rules(EventBusName="default")["Rules"]:
        for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
            lines.append(f"{rule['Name']} ({len(_rule_names(json.loads(rule['EventPattern'])))} rule names) -> {target['Arn']} as {target.get('RoleArn', 'no role')}")
    return "; ".join(lines) or "no rule"


# --- the hub -----------------------------------------------------------------------------------------


@dataclass
class HubInbox:
    """The hub bus in ``EVENT_REGION`` with the hub rule, delivering to a queue where the Lambda would be."""

    sqs: Any
    """The hub account's SQS client."""
    queue_url: str


def create_hub_inbox(access: ManagementAccess, hub_account: str, organization_id: str, hub: HubDeployment) -> HubInbox:
    """The hub's bus, its organization policy and its rule (the registered pattern) with a queue as target."""
    from components.organization import bus_policy  # the program's own policy document

    events, sqs = access.client(hub_account, "events"), access.client(hub_account, "sqs")
    bus_arn = events.create_event_bus(Name=hub.bus_name)["EventBusArn"]
    events.put_permission(EventBusName=hub.bus_name, Policy=json.dumps(bus_policy(bus_arn, organization_id)))
    queue_url = sqs.create_queue(QueueName="demo-hub-lambda-deliveries")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=hub.hub_rule_name, EventBusName=hub.bus_name, EventPattern=json.dumps(hub.hub_pattern))
    events.put_targets(Rule=hub.hub_rule_name, EventBusName=hub.bus_name, Targets=[{"Id": "remediation", "Arn": queue_arn}])
    return HubInbox(sqs, queue_url)


def forward(access: ManagementAccess, inbox: HubInbox, member: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put ``events`` on ``member``'s default bus; return those its forwarding rule sent to the hub rule's queue."""
    bus = access.client(member, "events")
    for event in events:
        bus.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]), "Resources": event["resources"]}])
    sqs = inbox.sqs
    delivered = []
    while messages := sqs.receive_message(QueueUrl=inbox.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for message in messages:
            event = json.loads(message["Body"])
            # EventBridge keeps the sending account in a forwarded event; moto drops it: the member that sent it.
            event["account"] = member
            delivered.append(event)
            sqs.delete_message(QueueUrl=inbox.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return delivered


@dataclass
class HubLambda:
    """The hub handler run as Lambda runs it: the function's environment and context (its log lines go unshown)."""

    hub: HubDeployment
    hub_account: str
    credentials: dict[str, str]
    """The hub Lambda role's credentials, which Lambda puts in the function's environment."""
    organizations_reader: Any
    """The Organizations client the hub's membership checks use."""

    def environment(self) -> dict[str, str]:
        """What the function's environment holds that the handler reads."""
        return {
            "GOVERNANCE_CONFIG": json.dumps(self.hub.lambda_config),
            "AWS_ACCESS_KEY_ID": self.credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": self.credentials["SessionToken"],
            "AWS_REGION": EVENT_REGION,
            "AWS_DEFAULT_REGION": EVENT_REGION,
            "AWS_LAMBDA_FUNCTION_NAME": self.hub.function_name,
        }

    @contextmanager
    def running(self) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
        """Inside the block: the function's environment, and a callable handing one event to the handler."""
        clients, hub_module, config_module = lambda_module("clients"), lambda_module("hub"), lambda_module("config")
        handler, membership = lambda_module("handler"), lambda_module("membership")
        overrides = self.environment()
        saved = {key: os.environ.get(key) for key in overrides}
        os.environ.update(overrides)
        clients.forget_clients()
        hub_module.forget_hubs()
        setting = config_module.parse_config(overrides["GOVERNANCE_CONFIG"]).organization
        access = hub_module.hub_for(setting, self.hub_account, "aws")
        # moto answers Organizations reads for the management account only (AWS also for a delegated administrator).
        access.membership = membership.OrganizationMembership(setting.targets, setting.exclude_accounts, organizations_client=self.organizations_reader)
        context = FunctionContext(self.hub_account, EVENT_REGION, self.hub.function_name)

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            with redirect_stdout(io.StringIO()):  # the audit lines the function logs: the demo prints the records
                record: dict[str, Any] = handler.lambda_handler(event, context)
            return record

        try:
            yield invoke
        finally:
            clients.forget_clients()
            hub_module.forget_hubs()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def hub_lambda(access: ManagementAccess, hub: HubDeployment, hub_account: str) -> HubLambda:
    """The hub Lambda's role created in the hub from its registration, and the handler runner with its credentials."""
    iam = access.client(hub_account, "iam")
    role = hub.lambda_role.inputs
    arn = iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=role["assumeRolePolicy"], Description=role.get("description", ""))["Role"]["Arn"]
    credentials = access.assume(arn, hub.function_name)
    reader = access.session.client("organizations")
    lambda_module("calls").attach_recorder(reader)  # its ListParents show in the records' apiCalls, as on AWS
    return HubLambda(hub, hub_account, credentials, reader)


# --- member resources --------------------------------------------------------------------------------


def open_security_group(access: ManagementAccess, account: str, name: str) -> tuple[str, Callable[[], str]]:
    """A security group open to the world on 22 in ``account``, and how to show its ingress."""
    ec2 = access.client(account, "ec2")
    group = str(ec2.create_security_group(GroupName=name, Description="SSH open to the world")["GroupId"])
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ])

    def show() -> str:
        permissions = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
        rules = sorted(f"tcp:{p.get('FromPort')} from {','.join(r['CidrIp'] for r in p.get('IpRanges', []))}" for p in permissions)
        return "; ".join(rules) or "no ingress"

    return group, show


def key_without_rotation(access: ManagementAccess, account: str) -> tuple[str, Callable[[], str]]:
    """A KMS key without rotation in ``account``, and how to show its rotation."""
    kms = access.client(account, "kms")
    key = str(kms.create_key(Description="governance demo key without rotation")["KeyMetadata"]["KeyId"])
    return key, lambda: "rotation " + ("on" if kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] else "off")


@dataclass(frozen=True)
class MemberFinding:
    """A misconfigured resource in a member account and the compliance event Config would send for it."""

    label: str
    account: str
    rule_key: str
    resource_type: str
    resource_id: str
    show: Callable[[], str]

    def event(self, rule_name_prefix: str) -> dict[str, Any]:
        """The "Config Rules Compliance Change" event of the member's rule (named with ``rule_name_prefix``) for this resource."""
        rule_name = f"{rule_name_prefix}{self.rule_key}"
        return compliance_event(self.account, EVENT_REGION, rule_name, self.resource_type, self.resource_id, "NON_COMPLIANT")


def _record_line(record: dict[str, Any]) -> str:
    return (f"{record['decision']:10} {record.get('ruleKey') or '-':24} {record.get('resourceId') or '-'}  "
            f"account={record.get('account')} hubAccount={record.get('hubAccount')}: {record['reason']}")


def _calls(record: dict[str, Any]) -> str:
    return ", ".join(call["operation"] for call in record["apiCalls"]) or "none"


# --- the part ------------------------------------------------------------------------------------------


@dataclass
class Scene:
    """What the steps of the part share: the management account's access, the organization, the hub's deployment."""

    out: TextIO
    access: ManagementAccess
    organizations: Any
    """The management account's Organizations client."""
    organization: DemoOrganization
    outcome: Outcome = field(default_factory=Outcome)

    def name(self, resource_id: str) -> str:
        """The demo's name of an OU or account id (the id itself when it has none)."""
        names = {**{unit_id: name for name, unit_id in self.organization.units.items()}, **{a: n for n, a in self.organization.accounts.items()}}
        return names.get(resource_id, resource_id)

    def targeted(self, hub: HubDeployment) -> Any:
        """The CLI's listing of the accounts the hub Lambda's targets cover, less its excluded accounts."""
        section = hub.lambda_config["organization"]
        return targeted_accounts(self.organizations, section["targets"], section["excludeAccounts"])


def show_organization(scene: Scene, workdir: Path) -> Path:
    """Print the organization and register the hub; write and print the stack file; its path."""
    out, organization = scene.out, scene.organization
    heading(out, "Organization mode: one stack in a hub account governs every account under some OUs")
    say(out, f"Organization {organization.id} (moto Organizations), management account {organization.management}, root {organization.root}:")
    for unit, unit_id in organization.units.items():
        members = ", ".join(f"{name} {account}" for name, account in organization.accounts.items() if organization.parents[name] == unit)
        nested = "  " if organization.parents[unit] != "root" else ""
        say(out, f"    {nested + unit:12} {unit_id:18} {members}")
    say(out, "  " + register_hub(scene.organizations, organization.accounts["hub"]))
    stack_file = write_stack_file(organization, workdir)
    load_stack_file(stack_file)  # validated as the program and the CLI validate it
    say(out, f"Stack file {stack_file} (targets Workloads, with Team nested in it, and Data; one account excluded; an override for Data):")
    for line in stack_file.read_text().splitlines():
        say(out, f"  | {line}")
    return stack_file


def show_program(scene: Scene, stack_file: Path) -> HubDeployment:
    """Run the program under mocks for the stack file, with this organization and with 2,000 accounts; print what the hub deploys."""
    heading(scene.out, "What the hub deploys (Pulumi program under mocks)")
    config = {f"{NAMESPACE}:{key}": value for key, value in file_values(stack_file).items()}
    members = tuple(account for name, account in scene.organization.accounts.items() if name != "hub")
    hub = hub_deployment(config, members)
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):  # its warnings repeat the first run's
        large = run_program(config, STACK, organization_accounts=tuple(f"{100000000000 + index}" for index in range(LARGE_ORGANIZATION)))
    same = show_hub(scene.out, hub, large, scene.organization, scene.name)
    scene.outcome.check("the resource count does not depend on the number of accounts", same)
    return hub


def show_member_side(scene: Scene, hub: HubDeployment) -> None:
    """Deploy every stack set instance's stacks and print what each account got."""
    out, accounts = scene.out, scene.organization.accounts
    heading(out, "Member side: each stack set instance's stack in every account its targets cover")
    say(out, "  moto runs no service-managed StackSets deployments (no delegated administrator, no auto-deployment): "
             "each stack is created here in the member account with its stack set's template.")
    say(out, "  moto's CloudFormation skips AWS::Config::* resources: no Config rule runs, so the events below are put by hand as AWS Config sends them.")
    deployed = deploy_member_stacks(scene.access, hub, scene.organizations)
    excluded = set(hub.lambda_config["organization"]["excludeAccounts"])
    for name, account in accounts.items():
        got = _deployed_line(deployed[account]) if account in deployed else "no stack (not under a target)"
        if account in excluded:
            got += " (excluded: the templates' condition leaves each stack a placeholder and nothing else)"
        say(out, f"  {name:10} {account}: {got}")
    role_name = hub.lambda_config["organization"]["memberRoleName"]
    roles = {name: member_role_summary(scene.access, accounts[name], role_name) for name in ("workloads", "data", "excluded")}
    for name, summary in roles.items():
        say(out, f"  member role {role_name} in {name}: {summary}")
    for name in ("workloads", "data", "excluded"):
        say(out, f"  forwarding in {name} ({EVENT_REGION}): {forwarding_summary(scene.access, accounts[name])}")
    scene.outcome.check(
        "the excluded account's stacks create no role and forward nothing",
        roles["excluded"].startswith("no role") and not roles["workloads"].startswith("no role")
        and forwarding_summary(scene.access, accounts["excluded"]) == "no rule",
    )


def show_member_events(scene: Scene, hub: HubDeployment, inbox: HubInbox, invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Findings in three members, their events through the member buses to the hub, the hub's records, before and after."""
    out, access, accounts = scene.out, scene.access, scene.organization.accounts
    findings = [
        MemberFinding("workloads", accounts["workloads"], "restricted-admin-ports", "AWS::EC2::SecurityGroup", *open_security_group(access, accounts["workloads"], "bastion")),
        MemberFinding("team", accounts["team"], "kms-key-rotation", "AWS::KMS::Key", *key_without_rotation(access, accounts["team"])),
        MemberFinding("data", accounts["data"], "restricted-admin-ports", "AWS::EC2::SecurityGroup", *open_security_group(access, accounts["data"], "bastion")),
    ]
    heading(out, "Before")
    for finding in findings:
        say(out, f"  {finding.label:10} {finding.account} {finding.rule_key:24} {finding.resource_id:38} {finding.show()}")

    delivered = {finding.label: forward(access, inbox, finding.account, [finding.event(hub.rule_name_prefix)]) for finding in findings}
    heading(out, f"EventBridge: {len(findings)} events put on member buses, {sum(map(len, delivered.values()))} forwarded to the hub bus {hub.bus_name} and matched the hub rule")
    say(out, "  moto's cross-account forwarding drops the event's account, which EventBridge keeps as the sender's: set to the member whose bus sent it.")
    say(out, "  The hub rule's target is a queue here (moto cannot invoke Lambda); each event is handed to the handler with the hub Lambda's environment and role.")
    say(out, "  moto answers Organizations reads for the management account only (AWS also for a delegated administrator): the hub's ListParents use its credentials here.")
    if not delivered["data"]:
        say(out, "  data: its event is not forwarded (restricted-admin-ports is detect only for Data: its forwarding rule does not name the rule)")
    records = [invoke(event) for label in ("workloads", "team") for event in delivered[label]]
    heading(out, "Audit records of the hub Lambda (account = the member, hubAccount = the hub)")
    for record in records:
        _say_record(out, record)
    heading(out, "After")
    for finding in findings:
        say(out, f"  {finding.label:10} {finding.account} {finding.rule_key:24} {finding.resource_id:38} {finding.show()}")
    after = {finding.label: finding.show() for finding in findings}
    scene.outcome.check("fixed in the member accounts", "tcp:22" not in after["workloads"] and after["team"] == "rotation on")
    scene.outcome.check("the records name the member and the hub", [(r["decision"], r["account"], r["hubAccount"]) for r in records] == [
        ("remediated", accounts["workloads"], accounts["hub"]), ("remediated", accounts["team"], accounts["hub"])])
    scene.outcome.check("the override's account does not forward the rule", not delivered["data"] and "tcp:22" in after["data"])


def _say_record(out: TextIO, record: dict[str, Any], prefix: str = "") -> None:
    say(out, f"  {prefix}{_record_line(record)}")
    say(out, f"  {'':10} calls: {_calls(record)}")


def show_newcomer(scene: Scene, hub: HubDeployment, inbox: HubInbox, invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """An account created in Team after deployment: listed, given its stacks (auto-deployment), and its event fixed."""
    out, units = scene.out, scene.organization.units
    heading(out, "A new account in a targeted OU, after deployment")
    before = scene.targeted(hub)
    newcomer = create_account(scene.organizations, scene.organization.root, "newcomer", units["Team"])
    after = scene.targeted(hub)
    enrolled = newcomer in after.ids and newcomer not in before.ids
    target = next((account.target for account in after.accounts if account.id == newcomer), "")
    say(out, f"  created newcomer {newcomer} in Team ({units['Team']}), under Workloads")
    say(out, f"  targeted_accounts (the CLI's listing): {len(before.ids)} governed accounts before, {len(after.ids)} now, "
             f"newcomer {'enrolled' if enrolled else 'NOT listed'} (under target {scene.name(target) or '-'}); {after.requests.total} Organizations requests")
    for skipped in after.skipped:
        say(out, f"    skipped {skipped.account.id}: {skipped.reason}")
    stacks = deploy_member_stacks(scene.access, hub, scene.organizations, only=frozenset({newcomer}))
    say(out, f"  auto-deployment, which moto lacks, done here from the same instances: {_deployed_line(stacks.get(newcomer, [])) or 'nothing'}")
    group, show = open_security_group(scene.access, newcomer, "bastion")
    finding = MemberFinding("newcomer", newcomer, "restricted-admin-ports", "AWS::EC2::SecurityGroup", group, show)
    say(out, f"  before: {group} {show()}")
    records = [invoke(event) for event in forward(scene.access, inbox, newcomer, [finding.event(hub.rule_name_prefix)])]
    for record in records:
        _say_record(out, record)
    say(out, f"  after:  {group} {show()}")
    scene.outcome.check("the new account is enrolled", enrolled and [r["decision"] for r in records] == ["remediated"] and "tcp:22" not in show())


def show_refusals(scene: Scene, hub: HubDeployment, invoke: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """A forged event of an account outside the targets, and an excluded account's event, handed straight to the handler."""
    out, access, accounts = scene.out, scene.access, scene.organization.accounts
    heading(out, "Events the hub must not act on (handed straight to the hub handler)")
    results = {}
    for name, what in (("sandbox", "a forged event naming sandbox (Sandbox OU, not a target)"), ("excluded", "an event of the excluded account (it forwards nothing)")):
        group, show = open_security_group(access, accounts[name], "bastion")
        record = invoke(MemberFinding(name, accounts[name], "restricted-admin-ports", "AWS::EC2::SecurityGroup", group, show).event(hub.rule_name_prefix))
        say(out, f"  {what}:")
        _say_record(out, record)
        say(out, f"  {'':10} the group: {show()}")
        results[name] = (record, show())
    refused, refused_group = results["sandbox"]
    ignored, ignored_group = results["excluded"]
    scene.outcome.check("the forged event is refused", refused["decision"] == "ignored" and "not under any targeted OU" in refused["reason"] and "tcp:22" in refused_group)
    scene.outcome.check("the excluded account's event is ignored", ignored["decision"] == "ignored" and not ignored["apiCalls"] and "tcp:22" in ignored_group)


@contextmanager
def _without_default_images() -> Iterator[None]:
    """No default machine images in new account-regions: moto loads them into each one's EC2, and the part needs none."""
    saved = os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
        else:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = saved


def run_organization_demo(out: TextIO, workdir: Path) -> bool:
    """Run the organization part on the running emulator; true when every claim it shows held."""
    with _without_default_images():
        access = ManagementAccess()
        organizations = access.session.client("organizations")
        scene = Scene(out, access, organizations, create_organization(organizations))
        stack_file = show_organization(scene, workdir)
        hub = show_program(scene, stack_file)
        show_member_side(scene, hub)
        hub_account = scene.organization.accounts["hub"]
        inbox = create_hub_inbox(access, hub_account, scene.organization.id, hub)
        with hub_lambda(access, hub, hub_account).running() as invoke:
            show_member_events(scene, hub, inbox, invoke)
            show_newcomer(scene, hub, inbox, invoke)
            show_refusals(scene, hub, invoke)
    failed = [claim for claim, held in scene.outcome.checks.items() if not held]
    if failed:
        say(out, "  NOT as expected: " + "; ".join(failed))
    return scene.outcome.succeeded
