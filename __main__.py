"""Pulumi program: read and validate the stack config, then deploy each account's governance.

For every account: an explicit AWS provider (assuming the account's role, pinned to its id), the
account-level roles, and one bundle per region. Invalid config stops the run with one sentence per
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
from governance.lambda_code import HANDLER, bytecode_warning, package_files
from governance.plan import AccountPlan, account_region_key, plan_stack
from governance.settings import NAMESPACE, ConfigError, Settings, load_settings

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
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={"managed-by": "governance", "governance-stack": pulumi.get_stack()},
        ),
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


def deploy(settings: Settings) -> dict[str, Any]:
    """Instantiate the components for every account and region; return the stack outputs."""
    plans = plan_stack(settings)
    warning = bytecode_warning()
    if warning and any(region.needs_function for plan in plans for region in plan.regions):
        pulumi.log.warn(warning)
    code = pulumi.AssetArchive({path: pulumi.FileAsset(str(file)) for path, file in package_files().items()})
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
        account_dashboard(f"gov-{account.id}-dashboard", plan, provider)
    return outputs


def main() -> None:
    """Entry point the Pulumi CLI runs."""
    try:
        settings = load_settings(read_stack_config())
        outputs = deploy(settings)
    except ConfigError as error:
        # RunError prints the message without a stack trace.
        raise pulumi.RunError(str(error)) from None
    pulumi.export("accountRegions", outputs)


main()
