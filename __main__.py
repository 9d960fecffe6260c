"""Pulumi program: read and validate the stack config, then deploy each account's governance.

For every account: an explicit AWS provider (assuming the account's role, pinned to its id), the
account-level roles, and one bundle per region. With ``governance:organization``: the hub in the
delegated-administrator account (``components/organization.py``). Invalid config stops the run with one sentence per
problem before any resource is registered.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

from components.account_region import AccountRegion, AccountRegionArgs
from components.account_roles import AccountRoles, AccountRolesArgs
from components.dashboard import account_dashboard
from components.organization import Organization, OrganizationArgs
from governance.lambda_code import HANDLER, bytecode_warning, package_files
from governance.organization_plan import OrganizationPlan, plan_organization
from governance.plan import AccountPlan, account_region_key, plan_stack
from governance.settings import NAMESPACE, ConfigError, OrganizationSettings, Settings, load_settings

STRING_KEYS = ("exemptionTag", "ruleNamePrefix")
"""Keys whose values stay strings even when they look like JSON."""


def read_stack_config() -> dict[str, Any]:
    """The stack's ``governance:*`` values, with JSON objects, lists, numbers and booleans decoded."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values: dict[str, Any] = {}
    for full_key in raw:
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        value = pulumi.Config(NAMESPACE).get(key)
        if value is None:
            continue
        if key in STRING_KEYS:
            values[key] = value
            continue
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    return values


def default_tags() -> aws.ProviderDefaultTagsArgs:
    """Tags every resource of the stack carries."""
    return aws.ProviderDefaultTagsArgs(tags={"managed-by": "governance", "governance-stack": pulumi.get_stack()})


def hub_provider(organization: OrganizationSettings) -> aws.Provider:
    """Organization mode's provider: the delegated-administrator account, in the first governed region.

    That region manages the stack sets; the hub's regional resources take ``region=``.
    """
    assume_roles = None
    if organization.admin_role_arn:
        assume_roles = [aws.ProviderAssumeRoleArgs(role_arn=organization.admin_role_arn, session_name="governance-pulumi")]
    return aws.Provider(
        f"aws-hub-{organization.admin_account_id}",
        region=organization.regions[0],
        assume_roles=assume_roles,
        allowed_account_ids=[organization.admin_account_id],
        default_tags=default_tags(),
    )


def account_provider(plan: AccountPlan) -> aws.Provider:
    """The account's explicit provider: assumes its role (if any) and refuses any other account."""
    account = plan.account
    assume_roles = None
    if account.role_arn:
        # The external id guards the role like a password: keep it encrypted in state and masked in previews,
        # whether or not the stack file marks it secret.
        external_id = pulumi.Output.secret(account.external_id) if account.external_id else None
        assume_roles = [
            aws.ProviderAssumeRoleArgs(role_arn=account.role_arn, session_name="governance-pulumi", external_id=external_id)
        ]
    return aws.Provider(
        f"aws-{account.id}",
        region=account.home_region,
        assume_roles=assume_roles,
        allowed_account_ids=[account.id],
        default_tags=default_tags(),
    )


def warn_about_runbook_caveats(plan: AccountPlan) -> None:
    """Say in the preview when a rule uses a runbook whose limits the catalog records."""
    for rule in plan.account.rules:
        runbook = rule.entry.ssm
        if rule.uses_ssm and runbook and runbook.caveat:
            pulumi.log.warn(
                f"governance:rules.{rule.key} uses the ssm engine in account {plan.account.id}: {runbook.caveat}. "
                "The lambda engine does not have this limit."
            )


def deploy_organization(plan: OrganizationPlan, settings: Settings, code: pulumi.Archive) -> dict[str, Any]:
    """Organization mode's hub, through the admin account's provider; return its stack output."""
    hub = Organization(
        f"gov-org-{plan.organization.admin_account_id}",
        OrganizationArgs(plan=plan, settings=settings, code=code, handler=HANDLER),
        opts=pulumi.ResourceOptions(provider=hub_provider(plan.organization)),
    )
    return {"adminAccountId": plan.organization.admin_account_id, "lambdaArns": hub.function_arns, "stackSets": hub.stack_set_names}


def plan_both(settings: Settings) -> tuple[tuple[AccountPlan, ...], OrganizationPlan | None]:
    """Direct mode's and organization mode's plans; raises ``ConfigError`` with the problems of both."""
    problems: list[str] = []
    plans: tuple[AccountPlan, ...] = ()
    organization = None
    try:
        plans = plan_stack(settings)
    except ConfigError as error:
        problems.extend(error.problems)
    if settings.organization is not None:
        try:
            organization = plan_organization(settings)
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return plans, organization


def deploy(settings: Settings) -> dict[str, Any]:
    """Instantiate the components for every account and region; return the stack outputs by name.

    Both modes are planned, and every problem of either reported, before anything is registered.
    """
    plans, organization = plan_both(settings)
    warning = bytecode_warning()
    needs_code = any(region.needs_function for plan in [*plans, *([organization.hub] if organization else [])] for region in plan.regions)
    if warning and needs_code:
        pulumi.log.warn(warning)
    code = pulumi.AssetArchive({path: pulumi.FileAsset(str(file)) for path, file in package_files().items()})
    exports: dict[str, Any] = {}
    if organization is not None:
        exports["organization"] = deploy_organization(organization, settings, code)
    outputs: dict[str, Any] = {}
    for plan in plans:
        warn_about_runbook_caveats(plan)
        account = plan.account
        provider = account_provider(plan)
        roles = AccountRoles(f"gov-{account.id}", AccountRolesArgs(plan=plan), opts=pulumi.ResourceOptions(provider=provider))
        for region_plan in plan.regions:
            bundle = AccountRegion(
                f"gov-{account.id}-{region_plan.region}",
                AccountRegionArgs(plan=region_plan, settings=settings, roles=roles, code=code, handler=HANDLER),
                opts=pulumi.ResourceOptions(provider=provider),
            )
            outputs[account_region_key(account, region_plan.region)] = {
                "accountName": account.name,
                "configRuleNames": bundle.rule_names,
                "lambdaArn": bundle.function_arn,
                "ssmRoleArn": roles.ssm_role_arn,
                "lambdaRoleArn": roles.lambda_role_arn,
            }
        account_dashboard(f"gov-{account.id}-dashboard", plan, pulumi.ResourceOptions(provider=provider))
    exports["accountRegions"] = outputs
    return exports


def main() -> None:
    """Entry point the Pulumi CLI runs."""
    try:
        settings = load_settings(read_stack_config())
        exports = deploy(settings)
    except ConfigError as error:
        # RunError prints the message without a stack trace.
        raise pulumi.RunError(str(error)) from None
    for name, value in exports.items():
        pulumi.export(name, value)


main()
