"""Every request the CLI's discovery, exemption query and doctor checks send is declared in ``governance.cli.permissions``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from moto import mock_aws

from governance.catalog import CATALOG
from governance.cli import inventory, permissions
from governance.cli.doctor import run_doctor
from governance.cli.sessions import AccountSessions
from governance.lambda_code import fixer_iam_actions
from governance.settings import Account, load_settings

ACCOUNT = "123456789012"
REGION = "us-east-1"
IAM_PREFIX = {"tagging": "tag"}
RENAMED = {("s3", "ListBuckets"): "s3:ListAllMyBuckets"}


def iam_action(service: str, operation: str) -> str:
    """The IAM action a request needs: the service's prefix and the operation, but for the few AWS names otherwise."""
    return RENAMED.get((service, operation), f"{IAM_PREFIX.get(service, service)}:{operation}")


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[boto3.Session, list[str]]]:
    """A session on the emulator, and the IAM action of every request any client sends (sessions made from it too)."""
    with mock_aws():
        sent: list[str] = []
        original = BaseClient._make_api_call

        def record(client: BaseClient, operation: str, params: Any) -> Any:
            model = client.meta.service_model.operation_model(operation)
            sent.append(iam_action(client.meta.service_model.signing_name, model.name))
            return original(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", record)
        yield boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION), sent


def account() -> Account:
    return Account(id=ACCOUNT, name="a", role_arn=None, external_id=None, partition="aws", regions=(REGION,), rules=())


@pytest.mark.parametrize("key", list(CATALOG))
def test_each_rules_discovery_sends_only_declared_reads(key: str, session: tuple[boto3.Session, list[str]]) -> None:
    boto_session, sent = session
    ec2 = boto_session.client("ec2")
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    sent.clear()
    inventory.discover(key, boto_session, account(), REGION)
    declared = {*permissions.DISCOVERY_ACTIONS[key], *fixer_iam_actions(key)}
    assert set(sent) <= declared, sorted(set(sent) - declared)
    assert set(permissions.DISCOVERY_ACTIONS[key]) <= set(sent), "every declared discovery read is used"


def test_the_exemption_query_is_declared(session: tuple[boto3.Session, list[str]]) -> None:
    boto_session, sent = session
    inventory.exempt_arns(boto_session, "governance:exempt", set(CATALOG))
    assert set(sent) == set(permissions.EXEMPTION_READS)


def test_every_catalog_rule_has_a_discovery_declaration() -> None:
    assert set(permissions.DISCOVERY_ACTIONS) == set(CATALOG) == set(inventory.DISCOVERY)


def test_operator_reads_join_the_rules_discovery_with_the_exemption_and_doctor_reads() -> None:
    reads = permissions.operator_reads({"vpc-flow-logs", "s3-ssl-only"})
    assert set(reads) == {"ec2:DescribeFlowLogs", "ec2:DescribeVpcs", "s3:ListAllMyBuckets", *permissions.EXEMPTION_READS, *permissions.DOCTOR_READS}


def test_doctor_sends_only_declared_reads_besides_its_bucket_check(session: tuple[boto3.Session, list[str]]) -> None:
    boto_session, sent = session
    settings = load_settings({"regions": [REGION], "accounts": [{"id": ACCOUNT}], "rules": {"restricted-admin-ports": {}}, "securityHubUpdates": True})
    run_doctor(settings, AccountSessions(base=boto_session))
    reads = set(sent) - {"sts:GetCallerIdentity"}  # who the caller is: allowed to every principal
    assert reads <= set(permissions.DOCTOR_READS), sorted(reads - set(permissions.DOCTOR_READS))
    assert set(permissions.DOCTOR_READS) <= reads, "every declared doctor read is used"
