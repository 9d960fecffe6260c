"""Organization mode's hub: the remediation Lambda per region behind the members' bus, and the member stack sets.

Everything is created in the delegated-administrator (hub) account through one explicit provider,
in the first governed region; regional resources take ``region=``. Stack sets are managed in that
region too (a ``StackSetInstance`` has no region of its own: its provider's region is the stack set's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.dashboard import account_dashboard
from components.operations import Operations, OperationsArgs
from components.remediation_function import RemediationFunction, RemediationFunctionArgs
from governance.lambda_code import handler_iam_actions
from governance.organization_plan import OrganizationPlan, ProfileStackSets
from governance.plan import RegionPlan
from governance.settings import Settings

PERMISSION_MODEL = "SERVICE_MANAGED"
CALL_AS = "DELEGATED_ADMIN"
"""Every stack set call from the hub passes this: the stack sets live in the management account."""
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
"""The iam template names its roles; the rules template has none, and CloudFormation takes the capability all the same."""
FAILURE_TOLERANCE_PERCENTAGE = 10
"""Accounts of a region that may fail (no Config recorder, a conflicting role) before the operation stops there.

A 2,000-account rollout stops after 200 failures instead of at the first, and a broken template still
stops early; the percentage scales with the organization, where a count would not.
"""
MAX_CONCURRENT_PERCENTAGE = 10
"""Accounts of a region deployed at once. With ``STRICT_FAILURE_TOLERANCE`` (the only mode stack set updates
take in pulumi_aws 7.51) concurrency is at most the tolerance plus one, so it equals the tolerance: 200 of
2,000 accounts, where CloudFormation's cap of 100 concurrent instances per stack set applies."""
INSTANCE_CONCURRENCY_MODE = "SOFT_FAILURE_TOLERANCE"
"""Stack instance creation keeps its concurrency when some accounts fail, instead of dropping towards one."""
INSTANCE_MAX_CONCURRENT_PERCENTAGE = 25
"""Instance creation (the first rollout to every account of an OU): 500 of 2,000 accounts, capped at 100 by CloudFormation."""
REGION_CONCURRENCY = "PARALLEL"


@dataclass(frozen=True)
class OrganizationArgs:
    """Inputs of ``Organization``."""

    plan: OrganizationPlan
    settings: Settings
    code: pulumi.Archive
    """The remediation Lambda's package."""
    handler: str
    """Entry point inside ``code``."""


def stack_set_preferences() -> aws.cloudformation.StackSetOperationPreferencesArgs:
    """How a template update rolls out to every instance of a stack set."""
    return aws.cloudformation.StackSetOperationPreferencesArgs(
        failure_tolerance_percentage=FAILURE_TOLERANCE_PERCENTAGE,
        max_concurrent_percentage=MAX_CONCURRENT_PERCENTAGE,
        region_concurrency_type=REGION_CONCURRENCY,
    )


def instance_preferences() -> aws.cloudformation.StackSetInstanceOperationPreferencesArgs:
    """How an OU's stack instances are first created."""
    return aws.cloudformation.StackSetInstanceOperationPreferencesArgs(
        concurrency_mode=INSTANCE_CONCURRENCY_MODE,
        failure_tolerance_percentage=FAILURE_TOLERANCE_PERCENTAGE,
        max_concurrent_percentage=INSTANCE_MAX_CONCURRENT_PERCENTAGE,
        region_concurrency_type=REGION_CONCURRENCY,
    )


def bus_policy(bus_arn: str, organization_id: str) -> policies.Document:
    """The hub bus's resource policy: any principal of the organization may put events on it."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OrganizationMembersForward",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
        }],
    }


class Organization(pulumi.ComponentResource):
    """The hub of organization mode.

    Per governed region: the bus ``<prefix>member-events`` that members forward to, open to the
    organization (``aws:PrincipalOrgID``), and direct mode's remediation Lambda, log group, dead-letter
    queue and invoke config, fed by a rule on that bus, with direct mode's alarms, notification rule
    and topic. Once: the dashboard of the hub's function. Once: the Lambda's role, allowed to assume the
    member role in any account. Per rule profile: an IAM stack set with one instance per target OU in
    the first region, and a rules stack set with one instance per target OU and region, after it.
    """

    function_arns: dict[str, pulumi.Output[str]]
    """The hub Lambda's ARN by region."""
    stack_set_names: list[str]
    """Every stack set the hub manages."""

    def __init__(self, name: str, args: OrganizationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("governance:index:Organization", name, None, opts)
        plan = args.plan
        hub = plan.hub
        self.function_arns = {}
        # The hub Lambda's role and the organization's id exist exactly when some region runs the Lambda.
        if hub.needs_lambda_role:
            role_arn = self._role(name, plan)
            organization_id = self._organization_id()
            for region in hub.regions:
                if region.needs_function:
                    self.function_arns[region.region] = self._region(f"{name}-{region.region}", region, role_arn, organization_id, args)
            account_dashboard(f"{name}-dashboard", hub, pulumi.ResourceOptions(parent=self))

        self.stack_set_names = []
        for profile in plan.profiles:
            self._stack_sets(f"{name}-{profile.profile.name}", plan, profile)
        self.register_outputs({"functionArns": self.function_arns, "stackSets": self.stack_set_names})

    def _organization_id(self) -> pulumi.Output[str]:
        """The organization's id (``o-...``), through the hub's provider."""
        return aws.organizations.get_organization_output(
            # Only DescribeOrganization: the program never lists the organization's accounts. The data source then
            # documents arn among the fields it returns, not id, so the id is read from the ARN's last segment
            # (arn:<partition>:organizations::<management account>:organization/o-...).
            return_organization_only=True,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).arn.apply(lambda arn: arn.rsplit("/", 1)[-1])

    def _role(self, name: str, plan: OrganizationPlan) -> pulumi.Output[str]:
        hub, organization = plan.hub, plan.organization
        actions = handler_iam_actions(
            audits_ssm=any(region.ssm_rules for region in hub.regions),
            updates_securityhub=hub.securityhub_updates,
            organization_hub=True,
        )
        document = policies.hub_lambda_role_policy(hub.account, hub.names, actions, organization.member_role_name)
        role = aws.iam.Role(
            f"{name}-remediation-lambda",
            name=hub.names.lambda_role,
            description="Execution role of the organization hub's remediation Lambda.",
            assume_role_policy=json.dumps(policies.lambda_trust_policy(hub.account)),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        attached = aws.iam.RolePolicy(
            f"{name}-remediation-lambda-policy",
            role=role.id,
            policy=json.dumps(document),
            opts=pulumi.ResourceOptions(parent=role),
        )
        return pulumi.Output.all(role.arn, attached.id).apply(lambda values: str(values[0]))

    def _region(
        self, name: str, region: RegionPlan, role_arn: pulumi.Output[str], organization_id: pulumi.Output[str], args: OrganizationArgs
    ) -> pulumi.Output[str]:
        names = region.names
        # Members forward to the bus of their own region, and the Lambda takes events of its own region only:
        # UNVERIFIED that a forwarded event keeps the member's region (expected, as it keeps the member's account).
        bus = aws.cloudwatch.EventBus(
            f"{name}-member-events",
            name=names.hub_event_bus,
            description="Compliance and automation events forwarded by the organization's member accounts.",
            region=region.region,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        aws.cloudwatch.EventBusPolicy(
            f"{name}-member-events-policy",
            event_bus_name=bus.name,
            policy=pulumi.Output.all(bus.arn, organization_id).apply(lambda values: json.dumps(bus_policy(str(values[0]), str(values[1])))),
            region=region.region,
            opts=pulumi.ResourceOptions(parent=self),
        )
        function = RemediationFunction(
            f"{name}-remediation",
            RemediationFunctionArgs(
                plan=region,
                role_arn=role_arn,
                code=args.code,
                handler=args.handler,
                log_retention_days=args.settings.log_retention_days,
                delivery=args.settings.delivery,
                event_bus_name=bus.name,
            ),
            parent=self,
        )
        # Direct mode's alarms and notifications, on the hub's function: its failures are every member's.
        Operations(
            f"{name}-operations",
            OperationsArgs(
                plan=region, settings=args.settings.operations, delivery=args.settings.delivery, dead_letter_queue_arn=function.dead_letter_queue_arn
            ),
            parent=self,
        )
        return function.function_arn

    def _stack_sets(self, name: str, plan: OrganizationPlan, stack_sets: ProfileStackSets) -> None:
        organization, templates = plan.organization, stack_sets.templates
        first = plan.stack_set_region
        iam_instances: list[pulumi.Resource] = []
        iam_arns: list[pulumi.Input[str]] = []
        if templates.iam is not None:
            iam = self._stack_set(f"{name}-iam", stack_sets.iam_name, templates.iam, "roles", stack_sets, first)
            iam_instances.append(iam)
            iam_arns.append(iam.arn)
            for target in stack_sets.profile.targets:
                iam_instances.append(self._instance(f"{name}-iam-{target}", iam, target, first, []))
        if templates.rules is not None:
            # An account that joins a target later gets both stack sets by auto-deployment, which depends_on
            # does not order: the rules stack set's auto-deployment waits for the roles' (AutoDeployment.DependsOn),
            # so a forwarding rule or remediation is never created before the role it names.
            rules = self._stack_set(
                f"{name}-rules", stack_sets.rules_name, templates.rules, "Config rules", stack_sets, first, iam_instances, iam_arns
            )
            for target in stack_sets.profile.targets:
                for region in organization.regions:
                    self._instance(f"{name}-rules-{target}-{region}", rules, target, region, iam_instances)

    def _stack_set(
        self,
        name: str,
        stack_set_name: str,
        template: str,
        what: str,
        stack_sets: ProfileStackSets,
        region: str,
        after: list[pulumi.Resource] | None = None,
        auto_deployed_after: list[pulumi.Input[str]] | None = None,
    ) -> aws.cloudformation.StackSet:
        self.stack_set_names.append(stack_set_name)
        return aws.cloudformation.StackSet(
            name,
            name=stack_set_name,
            description=f"governance: member {what} of rule profile {stack_sets.profile.name}.",
            permission_model=PERMISSION_MODEL,
            # ForceNew in the provider (UNVERIFIED for the schema pulumi_aws 7.51 bundles; read in the upstream source):
            # a change would replace the stack set and delete every stack. Constants only.
            # The roles stack set's ARN changes only when that stack set is replaced, which replaces every stack anyway.
            auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(
                enabled=True, retain_stacks_on_account_removal=False, depends_on_stack_sets=auto_deployed_after or None
            ),
            call_as=CALL_AS,
            capabilities=CAPABILITIES,
            template_body=template,
            operation_preferences=stack_set_preferences(),
            region=region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after or []),
        )

    def _instance(
        self,
        name: str,
        stack_set: aws.cloudformation.StackSet,
        target: str,
        region: str,
        after: list[pulumi.Resource],
    ) -> aws.cloudformation.StackSetInstance:
        # No account filter: excluded accounts are left out by the templates (``member_template.with_exclusions``),
        # since deployment_targets is ForceNew and a new exclusion list would replace the instance, deleting every
        # stack of the OU. Targets change only when an OU is added or removed.
        targets = aws.cloudformation.StackSetInstanceDeploymentTargetsArgs(organizational_unit_ids=[target])
        return aws.cloudformation.StackSetInstance(
            name,
            stack_set_name=stack_set.name,
            stack_set_instance_region=region,
            deployment_targets=targets,
            call_as=CALL_AS,
            operation_preferences=instance_preferences(),
            # Replacing an instance deletes the OU's stacks before creating them again, so that two instances never
            # claim the same accounts (UNVERIFIED: the overlap hazard of create-before-delete, research §2.2).
            opts=pulumi.ResourceOptions(parent=self, depends_on=after, delete_before_replace=True),
        )
