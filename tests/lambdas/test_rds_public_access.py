"""rds-public-access: Config's resource id mapped to the instance, PubliclyAccessible off and nothing else,
Multi-AZ DB cluster instances left to their cluster; undo turns it back on for the same instance only."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import (
    ACCOUNT,
    DEFAULT_PARAMS,
    EXEMPTION_TAG,
    REGION,
    FakeContext,
    compliance_event,
    rule_name,
)
from faults import inject_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_scenarios import db_instance, described_db
from remediation import clients
from remediation.engine import remediate_target
from remediation.fixers import rds_public_access as fixer
from remediation.fixers.base import ApiCall, NoAction, Plan, Target, call
from remediation.fixers.inverse import UndoRefused
from remediation.handler import lambda_handler

from governance.catalog import CATALOG
from governance.compliance import config_verdict
from governance.settings import load_settings

KEY = "rds-public-access"
RESOURCE_TYPE = "AWS::RDS::DBInstance"
PARAMS = fixer.Params()
RESOURCE = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-db"


def run(resource_id: str) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), RESOURCE_TYPE, resource_id), FakeContext())


def target(resource_id: str) -> Target:
    return Target(RESOURCE_TYPE, resource_id, ACCOUNT, REGION)


# --- the fix ------------------------------------------------------------------------------------


def test_the_resource_id_is_mapped_to_the_instance_and_only_public_access_changes(requests) -> None:
    other = db_instance(name="other-db")
    resource_id = db_instance()
    before = described_db(resource_id)
    record = run(resource_id)
    assert record["decision"] == "remediated", record["reason"]
    writes = [c for c in record["apiCalls"] if c["operation"] == "ModifyDBInstance"]
    assert [c["params"] for c in writes] == [{"DBInstanceIdentifier": "orders-db", "PubliclyAccessible": False, "ApplyImmediately": True}]
    assert record["apiCalls"][0]["params"] == {"Filters": [{"Name": "dbi-resource-id", "Values": [resource_id]}]}
    after = described_db(resource_id)
    assert after["PubliclyAccessible"] is False
    unchanged = ("DBInstanceClass", "AllocatedStorage", "Engine", "MultiAZ", "DBInstanceStatus", "Endpoint")
    assert {key: after.get(key) for key in unchanged} == {key: before.get(key) for key in unchanged}
    assert described_db(other)["PubliclyAccessible"] is True
    assert requests.writes() == ["ModifyDBInstance"]


def test_unreadable_tags_are_a_failure_without_a_write(requests) -> None:
    resource_id = db_instance()
    inject_error("rds", "ListTagsForResource", "AccessDenied", 403)
    record = run(resource_id)
    assert record["decision"] == "failed" and "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert described_db(resource_id)["PubliclyAccessible"] is True


def test_an_instance_of_a_multi_az_db_cluster_is_left_to_its_cluster() -> None:
    state = fixer.instance_state({
        "DbiResourceId": RESOURCE, "DBInstanceIdentifier": "orders-db-1", "DBInstanceArn": ARN, "PubliclyAccessible": True,
        "DBInstanceStatus": "available", "Engine": "postgres", "DBClusterIdentifier": "orders",
    })
    planned = fixer.plan(state, PARAMS)
    assert isinstance(planned, NoAction) and planned.decision == "failed"
    assert "Multi-AZ DB cluster orders" in planned.reason
    aurora = fixer.DbInstanceState(RESOURCE, True, "orders-db-1", ARN, True, "available", "aurora-postgresql", "orders")
    assert isinstance(fixer.plan(aurora, PARAMS), Plan), "an Aurora instance has its own PubliclyAccessible"


# --- the instance gone --------------------------------------------------------------------------


def test_an_instance_deleted_before_the_event_needs_nothing(requests) -> None:
    resource_id = db_instance()
    boto3.client("rds").delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True)
    record = run(resource_id)
    assert record["decision"] == "already_compliant"
    assert record["before"]["exists"] is False
    assert requests.writes() == []


def test_an_instance_deleted_before_the_write_is_a_failure(monkeypatch) -> None:
    resource_id = db_instance()
    original = fixer.apply

    def delete_first(t: Target, change: Plan, params: fixer.Params) -> Plan:
        boto3.client("rds").delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True)
        return original(t, change, params)

    monkeypatch.setattr(fixer, "apply", delete_first)
    record = run(resource_id)
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "DBInstanceNotFound" in record["reason"]


# --- undo ---------------------------------------------------------------------------------------


def test_undo_makes_the_same_instance_public_again() -> None:
    resource_id = db_instance()
    record = run(resource_id)
    current = fixer.read_state(target(resource_id))
    calls = fixer.undo_calls(target(resource_id), record["before"], record["change"], PARAMS, current)
    assert [c.to_json() for c in calls] == record["undo"]
    assert calls == (ApiCall("rds", "ModifyDBInstance", {"DBInstanceIdentifier": "orders-db", "PubliclyAccessible": True, "ApplyImmediately": True}),)
    for api_call in calls:
        call(api_call)
    assert described_db(resource_id)["PubliclyAccessible"] is True


BEFORE = {"dbiResourceId": RESOURCE, "exists": True, "dbInstanceIdentifier": "orders-db", "dbInstanceArn": ARN, "publiclyAccessible": True,
          "status": "available", "engine": "postgres", "dbClusterIdentifier": None}
NOW = fixer.DbInstanceState(RESOURCE, True, "orders-db", ARN, False, "available", "postgres")


@pytest.mark.parametrize(
    ("before", "current", "refusal"),
    [
        ({**BEFORE, "dbiResourceId": "db-ZZZZZZZZZZZZZZZZZZZZZZZZZZ"}, NOW, "names DB instance resource id"),
        ({**BEFORE, "dbInstanceIdentifier": "payroll-db"}, NOW, "is not named 'payroll-db' now"),
        ({**BEFORE, "dbInstanceIdentifier": None}, NOW, "names no DB instance identifier"),
        ({**BEFORE, "publiclyAccessible": False}, NOW, "would not have changed"),
        ({**BEFORE, "publiclyAccessible": "yes"}, NOW, "not true or false"),
        ({**BEFORE, "dbClusterIdentifier": "orders"}, NOW, "nothing it could undo"),
        (BEFORE, fixer.DbInstanceState(RESOURCE, False), "is not named 'orders-db' now"),
    ],
)
def test_undo_refuses_a_forged_record(before: dict[str, Any], current: Any, refusal: str) -> None:
    with pytest.raises(UndoRefused) as refused:
        fixer.undo_calls(target(RESOURCE), before, {}, PARAMS, current)
    assert refusal in str(refused.value)


# --- scan agrees with the fixer; the "never" column as properties -------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    public=st.sampled_from([True, False, None]),
    status=st.sampled_from(["available", "modifying", "stopped", "backing-up", "deleting", "storage-full"]),
    engine=st.sampled_from(["postgres", "mysql", "aurora-postgresql", "aurora-mysql", "sqlserver-se", "oracle-ee"]),
    cluster=st.sampled_from([None, "", "orders"]),
)
def test_the_fixer_plans_a_change_exactly_when_config_flags_the_instance(public: bool | None, status: str, engine: str, cluster: str | None) -> None:
    entry: dict[str, Any] = {"DbiResourceId": RESOURCE, "DBInstanceIdentifier": "orders-db", "DBInstanceArn": ARN, "DBInstanceStatus": status, "Engine": engine}
    if public is not None:
        entry["PubliclyAccessible"] = public
    if cluster is not None:
        entry["DBClusterIdentifier"] = cluster
    state = fixer.instance_state(entry)
    planned = fixer.plan(state, PARAMS)
    verdict = config_verdict(KEY, state.to_json(), {})
    assert (planned is not None) == (verdict == "NON_COMPLIANT"), (verdict, planned)
    if not isinstance(planned, Plan):
        return
    # Never: another operation, another instance, any other setting; never deferred to the maintenance window.
    assert planned.calls == (ApiCall("rds", "ModifyDBInstance", {"DBInstanceIdentifier": "orders-db", "PubliclyAccessible": False, "ApplyImmediately": True}),)
    assert planned.undo == (ApiCall("rds", "ModifyDBInstance", {"DBInstanceIdentifier": "orders-db", "PubliclyAccessible": True, "ApplyImmediately": True}),)
    assert fixer.undo_calls(target(RESOURCE), state.to_json(), planned.to_json(), PARAMS, None) == planned.undo


def test_scan_reads_the_same_state_as_the_fixer() -> None:
    from governance.cli.inventory import discover
    from governance.settings import Account

    public, private = db_instance(), db_instance(public=False, name="private-db")
    found = discover(KEY, boto3.Session(region_name=REGION), Account(ACCOUNT, "home", None, None, "aws", (REGION,), ()), REGION)
    by_id = {item.target.resource_id: item for item in found}
    assert set(by_id) == {public, private}
    for resource_id in (public, private):
        state = by_id[resource_id].state
        assert state is not None and state.to_json() == fixer.read_state(target(resource_id)).to_json()
    assert by_id[public].arn == described_db(public)["DBInstanceArn"]
    assert config_verdict(KEY, fixer.read_state(target(public)).to_json(), {}) == "NON_COMPLIANT"


def test_a_config_resource_id_that_is_not_a_dbi_resource_id_is_not_accepted() -> None:
    assert fixer.resource_id(RESOURCE_TYPE, RESOURCE, ACCOUNT) == RESOURCE
    for raw in ("orders-db", "db-lowercase", ARN, ""):
        assert fixer.resource_id(RESOURCE_TYPE, raw, ACCOUNT) is None


# --- moto gaps, modelled ------------------------------------------------------------------------


def test_moto_gives_every_instance_the_same_dbi_resource_id() -> None:
    # Why lambda_scenarios.db_instance sets a distinct DbiResourceId in moto's backend: with moto's own, the
    # dbi-resource-id filter would find every instance, and a fix could name the wrong one.
    rds = boto3.client("rds")
    ids = {
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
                               MasterUsername="admin_user", MasterUserPassword="correct-horse-battery")["DBInstance"]["DbiResourceId"]
        for name in ("first-db", "second-db")
    }
    assert ids == {"db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U"}


def test_moto_supports_the_dbi_resource_id_filter_and_applies_the_change_at_once() -> None:
    resource_id = db_instance()
    rds = boto3.client("rds")
    assert rds.describe_db_instances(Filters=[{"Name": "dbi-resource-id", "Values": ["db-NOSUCHINSTANCE0000000000"]}])["DBInstances"] == []
    changed = rds.modify_db_instance(DBInstanceIdentifier="orders-db", PubliclyAccessible=False, ApplyImmediately=True)["DBInstance"]
    # moto: no "modifying" status, the new value at once. AWS goes through modifying (see the Stubber test).
    assert (changed["DBInstanceStatus"], changed["PubliclyAccessible"]) == ("available", False)
    assert described_db(resource_id)["PubliclyAccessible"] is False


def test_against_aws_shaped_answers_a_modifying_instance_verifies_once_it_reads_private() -> None:
    """Stubbed (botocore Stubber): AWS reports the instance modifying and still public on the first
    verification read, private on the next."""
    rds = clients.client("rds")

    def described(public: bool, status: str) -> dict[str, Any]:
        return {"DBInstances": [{"DbiResourceId": RESOURCE, "DBInstanceIdentifier": "orders-db", "DBInstanceArn": ARN,
                                 "PubliclyAccessible": public, "DBInstanceStatus": status, "Engine": "postgres"}]}

    filters = {"Filters": [{"Name": "dbi-resource-id", "Values": [RESOURCE]}]}
    with Stubber(rds) as stub:
        stub.add_response("describe_db_instances", described(True, "available"), filters)
        stub.add_response("list_tags_for_resource", {"TagList": [{"Key": "team", "Value": "orders"}]}, {"ResourceName": ARN})
        stub.add_response(
            "modify_db_instance",
            {"DBInstance": described(True, "modifying")["DBInstances"][0]},
            {"DBInstanceIdentifier": "orders-db", "PubliclyAccessible": False, "ApplyImmediately": True},
        )
        stub.add_response("describe_db_instances", described(True, "modifying"), filters)
        stub.add_response("describe_db_instances", described(False, "modifying"), filters)
        outcome = remediate_target(KEY, "auto", target(RESOURCE), PARAMS, EXEMPTION_TAG)
        stub.assert_no_pending_responses()
    assert outcome.decision == "remediated" and outcome.verified
    assert outcome.after is not None and outcome.after["publiclyAccessible"] is False


# --- settings -----------------------------------------------------------------------------------


def test_a_listed_rule_defaults_to_manual_on_the_lambda_engine() -> None:
    settings_ = load_settings({"regions": [REGION], "accounts": [{"id": ACCOUNT}], "rules": {KEY: {}}})
    (rule,) = settings_.accounts[0].rules
    assert (rule.mode, rule.engine, dict(rule.params)) == ("manual", "lambda", {})
    runbook = CATALOG[KEY].ssm
    assert runbook is not None and runbook.resource_id_parameter == "DbiResourceId" and runbook.caveat is not None
    assert DEFAULT_PARAMS[KEY] == {}
