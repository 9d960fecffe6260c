"""An organization in moto for the CLI's organization-mode tests, and stacks that govern it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

REGION = "us-east-1"
MEMBER_ROLE = "governance-member"


@dataclass
class Organization:
    """An organization in moto: a root holding the management account and 2 accounts, OU "workloads" (3 accounts)
    with OU "prod" nested in it (4 accounts), and OU "sandbox" (3 accounts): 12 accounts besides the management one."""

    client: Any
    management: str
    root: str
    workloads: str
    prod: str
    sandbox: str
    accounts: dict[str, list[str]]
    """Account ids by where they are: "root", "workloads", "prod", "sandbox"."""

    def add_account(self, name: str, parent: str) -> str:
        """Create an account and move it under ``parent``; returns its id."""
        created = self.client.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id: str = created["CreateAccountStatus"]["AccountId"]
        if parent != self.root:
            self.client.move_account(AccountId=account_id, SourceParentId=self.root, DestinationParentId=parent)
        return account_id


def create_organization() -> Organization:
    """The organization, created with the default (management) credentials.

    moto keeps organization data in the management account's backend only: from another account (a
    delegated administrator on AWS) ListAccountsForParent raises ParentNotFoundException. So the
    listing client runs with the credentials that created the organization.
    """
    client = boto3.client("organizations", region_name=REGION)
    management = client.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    root = client.list_roots()["Roots"][0]["Id"]
    workloads = client.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    prod = client.create_organizational_unit(ParentId=workloads, Name="prod")["OrganizationalUnit"]["Id"]
    sandbox = client.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    org = Organization(client, management, root, workloads, prod, sandbox, {})
    for place, parent, count in (("root", root, 2), ("workloads", workloads, 3), ("prod", prod, 4), ("sandbox", sandbox, 3)):
        org.accounts[place] = [org.add_account(f"{place}-{index}", parent) for index in range(count)]
    return org


BASE_RULES: dict[str, Any] = {
    "restricted-admin-ports": {"mode": "auto"},
    "s3-bucket-versioning": {"mode": "auto", "engine": "lambda"},
}
SANDBOX_RULES: dict[str, Any] = {"s3-bucket-versioning": {"mode": "off"}}
"""The override of the sandbox OU: its accounts get no versioning rule."""


def organization_stack(org: Organization, *, targets: list[str] | None = None, exclude: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """Raw stack config governing ``workloads`` (base profile) and ``sandbox`` (override) from the root's first account.

    The hub's credentials are the caller's (no ``adminRoleArn``): in moto only the management account reads the organization.
    """
    organization: dict[str, Any] = {
        "adminAccountId": org.accounts["root"][0],
        "targets": targets or [org.workloads, org.sandbox],
        "excludeAccounts": exclude or [],
        "overrides": [{"name": "sandbox", "targets": [org.sandbox], "rules": SANDBOX_RULES}],
        **extra,
    }
    return {"regions": ["us-east-1", "eu-west-1"], "rules": BASE_RULES, "organization": organization}


def write_stack(path: Path, raw: dict[str, Any]) -> Path:
    """Write ``raw`` as a Pulumi.<stack>.yaml file under the governance namespace."""
    path.write_text(yaml.safe_dump({"config": {f"governance:{key}": value for key, value in raw.items()}}))
    return path


def member_session(account_id: str, region: str) -> boto3.Session:
    """A session in a member account, through its member role (moto trusts any caller)."""
    role = f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE}"
    credentials = boto3.client("sts", region_name=region).assume_role(RoleArn=role, RoleSessionName="seed")["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=region,
    )
