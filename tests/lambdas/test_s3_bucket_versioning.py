"""s3-bucket-versioning: turns versioning on, never suspends it, never touches MFA delete.

Exact plans, the Config verdict next to the fixer's plan over every versioning state S3 reports,
the "never" column as properties, fail-closed exemptions, a bucket deleted under the fixer, undo
from a record's before-state (and refusals of edited records), and the MFA delete state that moto
does not model (it drops MFADelete from PutBucketVersioning), stubbed as AWS answers it.
"""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from bucket_cases import deleted_before_the_event, deleted_between_read_and_write, undo_refusal
from conftest import ACCOUNT, REGION, FakeContext, compliance_event, rule_name
from faults import inject_error
from hypothesis import given
from hypothesis import strategies as st
from remediation import clients
from remediation.fixers import s3_bucket_versioning
from remediation.fixers.base import ApiCall, NoAction, Plan, Target, call
from remediation.fixers.inverse import NOTHING_TO_UNDO
from remediation.fixers.s3_bucket_versioning import Params, VersioningState
from remediation.handler import lambda_handler

from governance.compliance import config_verdict

KEY = "s3-bucket-versioning"
BUCKET = "versioned-bucket"
TARGET = Target("AWS::S3::Bucket", BUCKET, ACCOUNT, REGION)
STATUSES = (None, "Enabled", "Suspended")
MFA_DELETE = (None, "Enabled", "Disabled")


def run(bucket: str = BUCKET) -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name(KEY), "AWS::S3::Bucket", bucket), FakeContext())


def make_bucket(status: str | None = None) -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    if status:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": status})
    return BUCKET


def status_of(bucket: str = BUCKET) -> str | None:
    status: str | None = boto3.client("s3").get_bucket_versioning(Bucket=bucket).get("Status")
    return status


def put_versioning(status: str) -> ApiCall:
    return ApiCall("s3", "PutBucketVersioning", {"Bucket": BUCKET, "VersioningConfiguration": {"Status": status}})


# --- exact plans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "said"), [(None, "never enabled"), ("Suspended", "Suspended")])
def test_versioning_is_turned_on_and_undone_by_suspending_it(status: str | None, said: str) -> None:
    change = s3_bucket_versioning.plan(VersioningState(BUCKET, status, "Disabled" if status else None), Params())
    assert change == Plan(
        f"Turn on versioning for bucket {BUCKET} (was {said})",
        (put_versioning("Enabled"),),
        (put_versioning("Suspended"),),
        {"bucket": BUCKET, "statusBefore": status, "statusAfter": "Enabled"},
    )


def test_a_bucket_with_mfa_delete_on_is_left_to_its_root_user() -> None:
    result = s3_bucket_versioning.plan(VersioningState(BUCKET, "Suspended", "Enabled"), Params())
    assert result == NoAction("failed", "MFA delete is on for this bucket, so only its root user with the MFA device can turn versioning back on")


def test_params_are_none_and_any_are_ignored() -> None:
    assert s3_bucket_versioning.parse_params({}) == Params()
    assert s3_bucket_versioning.parse_params({"isMfaDeleteEnabled": "true"}) == Params()


# --- scan agrees with the fixer -------------------------------------------------------------------


@pytest.mark.parametrize(("status", "mfa_delete"), list(itertools.product(STATUSES, MFA_DELETE)))
def test_the_fixer_plans_a_change_exactly_when_config_flags_the_bucket(status: str | None, mfa_delete: str | None) -> None:
    state = VersioningState(BUCKET, status, mfa_delete)
    verdict = config_verdict(KEY, state.to_json(), {}, BUCKET)
    assert verdict == ("COMPLIANT" if status == "Enabled" else "NON_COMPLIANT")
    planned = s3_bucket_versioning.plan(state, Params())
    assert (planned is None) == (verdict == "COMPLIANT")


# --- the "never" column ---------------------------------------------------------------------------

states = st.builds(
    VersioningState,
    st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True),
    st.sampled_from(STATUSES),
    st.sampled_from(MFA_DELETE),
)


@given(states)
def test_a_fix_never_suspends_versioning_nor_touches_mfa_delete(state: VersioningState) -> None:
    result = s3_bucket_versioning.plan(state, Params())
    if not isinstance(result, Plan):
        return
    for planned in result.calls:
        assert planned.operation == "PutBucketVersioning"
        assert planned.params == {"Bucket": state.bucket, "VersioningConfiguration": {"Status": "Enabled"}}, "no MFADelete, no MFA header"


@given(states)
def test_an_enabled_bucket_is_never_written(state: VersioningState) -> None:
    if state.status == "Enabled":
        assert s3_bucket_versioning.plan(state, Params()) is None


# --- through the handler, on moto -------------------------------------------------------------------


def test_unreadable_tags_fail_closed_without_a_write(requests) -> None:
    make_bucket("Suspended")
    inject_error("s3", "GetBucketTagging", "AccessDenied", 403)
    record = run()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert "exemptions fail closed" in record["reason"]
    assert requests.writes() == []
    assert status_of() == "Suspended"


def test_a_bucket_deleted_before_the_event_is_handled_is_a_failure_without_a_write(requests) -> None:
    deleted_before_the_event(run, make_bucket, requests)


def test_a_bucket_deleted_between_read_and_write_is_not_recreated(monkeypatch) -> None:
    deleted_between_read_and_write(s3_bucket_versioning, run, make_bucket, monkeypatch)


def test_the_default_mode_is_a_dry_run_that_changes_nothing(deploy, requests) -> None:
    from conftest import rule_entry

    deploy(rules={KEY: rule_entry({}, mode="manual")})
    make_bucket()
    record = run()
    assert record["decision"] == "dry_run"
    assert record["undo"] == [put_versioning("Suspended").to_json()]
    assert requests.writes() == []
    assert status_of() is None


@pytest.mark.parametrize("status", [None, "Suspended"])
def test_undo_from_the_record_puts_the_bucket_back(status: str | None) -> None:
    make_bucket(status)
    record = run()
    assert record["decision"] == "remediated" and status_of() == "Enabled"
    for undo in s3_bucket_versioning.undo_calls(TARGET, record["before"], record["change"], Params(), None):
        call(undo)
    # A bucket that was never versioned cannot be made so again: Suspended is what S3 allows, and what
    # Config judges the same way (NON_COMPLIANT, no new versions kept).
    assert status_of() == "Suspended"
    after = VersioningState(BUCKET, status_of(), None).to_json()
    assert config_verdict(KEY, after, {}, BUCKET) == config_verdict(KEY, record["before"], {}, BUCKET) == "NON_COMPLIANT"


@pytest.mark.parametrize(
    ("before", "refusal"),
    [
        ({"bucket": "other-bucket", "status": "Suspended", "mfaDelete": None}, f"the record's before-state names bucket 'other-bucket', not the record's resource {BUCKET}"),
        ({"bucket": BUCKET, "status": "Enabled", "mfaDelete": None}, NOTHING_TO_UNDO),
        ({"bucket": BUCKET, "status": "Off", "mfaDelete": None}, "the record's before-state status is not a versioning state S3 reports"),
        ({"bucket": BUCKET, "status": "Suspended", "mfaDelete": True}, "the record's before-state mfaDelete is not an MFA delete state S3 reports"),
        ({"bucket": BUCKET, "status": "Suspended", "mfaDelete": "Enabled"}, NOTHING_TO_UNDO),
    ],
)
def test_an_edited_record_is_refused(before: dict[str, Any], refusal: str) -> None:
    assert undo_refusal(s3_bucket_versioning, TARGET, before) == refusal


# --- what moto does not model ---------------------------------------------------------------------


def test_moto_drops_mfa_delete_so_its_state_is_stubbed_as_aws_reports_it(requests) -> None:
    make_bucket()
    s3 = boto3.client("s3")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended", "MFADelete": "Enabled"}, MFA="arn:aws:iam::123456789012:mfa/root 123456")
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket=BUCKET), "moto 5.2.5 ignores MFADelete"
    # AWS reports MFA delete next to the status; a bucket with it on is never written.
    with Stubber(clients.client("s3")) as stubber:
        stubber.add_response("get_bucket_versioning", {"Status": "Suspended", "MFADelete": "Enabled"}, {"Bucket": BUCKET})
        record = run()
        stubber.assert_no_pending_responses()
    assert (record["decision"], record["level"]) == ("failed", "error")
    assert record["before"] == {"bucket": BUCKET, "status": "Suspended", "mfaDelete": "Enabled"}
    assert requests.writes() == []


# --- default mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack_rules", "account_rules", "mode"),
    [
        ({KEY: {}}, None, "manual"),
        ({KEY: {"engine": "ssm"}}, None, "manual"),
        ({KEY: {"mode": "auto"}}, None, "auto"),
        ({}, {KEY: {}}, "manual"),
        ({"cloudtrail-log-validation": {"mode": "auto"}}, None, None),
        ({KEY: {"mode": "off"}}, None, None),
    ],
)
def test_a_listed_rule_defaults_to_manual_and_an_unlisted_one_stays_off(stack_rules: dict[str, Any], account_rules: dict[str, Any] | None, mode: str | None) -> None:
    from governance.settings import load_settings

    account: dict[str, Any] = {"id": ACCOUNT, **({"rules": account_rules} if account_rules is not None else {})}
    settings = load_settings({"regions": [REGION], "accounts": [account], "rules": stack_rules})
    modes = {rule.key: rule.mode for rule in settings.accounts[0].rules}
    assert modes.get(KEY) == mode
