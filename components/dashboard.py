"""The account's CloudWatch dashboard: one per account, drawing every region that runs the Lambda."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from governance.operations import dashboard_body
from governance.plan import AccountPlan


def account_dashboard(name: str, plan: AccountPlan, opts: pulumi.ResourceOptions) -> aws.cloudwatch.Dashboard | None:
    """The dashboard of ``plan``'s account, or None when no region of it runs the Lambda (nothing to draw).

    Dashboards are global to an account; the request goes to the account's first region. Metrics
    stay in the account that wrote them, so each account has its own dashboard rather than one per stack.
    """
    if not any(region.needs_function for region in plan.regions):
        return None
    return aws.cloudwatch.Dashboard(
        name,
        dashboard_name=plan.names.dashboard,
        dashboard_body=json.dumps(dashboard_body(plan), sort_keys=True),
        region=plan.account.home_region,
        opts=opts,
    )
