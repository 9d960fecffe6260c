"""cloudtrail-multi-region as Config evaluates it: management events in the event selectors, the
account's trail homed in another region, and exempt trails that give way to another candidate."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, EXEMPTION_TAG, REGION, FakeContext, compliance_event, rule_name
from lambda_scenarios import TRAIL_BUCKET, trail
from remediation.fixers import cloudtrail_multi_region as fixer
from remediation.fixers.base import Plan, Target
from remediation.fixers.cloudtrail_selectors import EventSelectors
from remediation.handler import lambda_handler

from governance.compliance import config_verdict

OTHER_REGION = "us-west-2"
DATA_SELECTOR: dict[str, Any] = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": False,
    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::payroll-bucket/"]}],
    "ExcludeManagementEventSources": [],
}
S3_DATA_ADVANCED: dict[str, Any] = {
    "Name": "payroll objects",
    "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
    ],
}


def _run() -> dict[str, Any]:
    return lambda_handler(compliance_event(rule_name("cloudtrail-multi-region"), "AWS::::Account", ACCOUNT), FakeContext())


def _selectors(arn: str, region: str = REGION) -> dict[str, Any]:
    response = boto3.client("cloudtrail", region_name=region).get_event_selectors(TrailName=arn)
    return {"EventSelectors": response.get("EventSelectors", []), "AdvancedEventSelectors": response.get("AdvancedEventSelectors", [])}


def _undo(record: dict[str, Any]) -> None:
    for api_call in record["undo"]:
        client = boto3.client(api_call["service"], region_name=api_call.get("region") or REGION)
        getattr(client, _snake(api_call["operation"]))(**api_call["params"])


def _snake(operation: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in operation).lstrip("_")


def _state(*trails: fixer.TrailInfo) -> fixer.AccountTrailsState:
    return fixer.AccountTrailsState(trails, Target("AWS::::Account", ACCOUNT, ACCOUNT, REGION))


def _info(name: str, selectors: EventSelectors | None, multi: bool = True, logging: bool = True) -> fixer.TrailInfo:
    return fixer.TrailInfo(name, f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{name}", multi, True, logging, selectors)


PARAMS = fixer.Params("governance-trail-bucket", "governance-multi-region")


# --- management events (Config: NON_COMPLIANT when they are left out or a source is excluded) ---


SELECTOR_CASES: list[tuple[str, EventSelectors | None, str]] = [
    ("no custom selectors", None, "COMPLIANT"),
    ("basic, management events", EventSelectors(basic=({"ReadWriteType": "All", "IncludeManagementEvents": True},)), "COMPLIANT"),
    ("basic, data events only", EventSelectors(basic=(DATA_SELECTOR,)), "NON_COMPLIANT"),
    ("basic, KMS events excluded", EventSelectors(basic=({"ReadWriteType": "All", "IncludeManagementEvents": True, "ExcludeManagementEventSources": ["kms.amazonaws.com"]},)), "NON_COMPLIANT"),
    ("basic, write-only management", EventSelectors(basic=({"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True},)), "NON_COMPLIANT"),
    ("basic, read-only plus write-only", EventSelectors(basic=({"ReadWriteType": "WriteOnly"}, {"ReadWriteType": "ReadOnly"})), "COMPLIANT"),
    ("advanced, management", EventSelectors(advanced=({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},)), "COMPLIANT"),
    ("advanced, data only", EventSelectors(advanced=(S3_DATA_ADVANCED,)), "NON_COMPLIANT"),
    (
        "advanced, RDS Data API excluded",
        EventSelectors(advanced=({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "eventSource", "NotEquals": ["rdsdata.amazonaws.com"]}]},)),
        "NON_COMPLIANT",
    ),
    (
        "advanced, read-only management",
        EventSelectors(advanced=({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["true"]}]},)),
        "NON_COMPLIANT",
    ),
    ("custom but empty", EventSelectors(), "NON_COMPLIANT"),
]


@pytest.mark.parametrize(("case", "selectors", "verdict"), SELECTOR_CASES, ids=[case[0] for case in SELECTOR_CASES])
def test_scan_verdict_and_fixer_agree_on_management_events(case: str, selectors: EventSelectors | None, verdict: str) -> None:
    state = _state(_info("main", selectors))
    assert config_verdict("cloudtrail-multi-region", state.to_json(), {}) == verdict
    change = fixer.plan(state, PARAMS)
    assert (change is not None) == (verdict == "NON_COMPLIANT"), change
    if isinstance(change, Plan):
        (put,) = [call for call in change.calls if call.operation == "PutEventSelectors"]
        fixed = EventSelectors.from_response(put.params)
        after = _state(_info("main", fixed))
        assert fixer.plan(after, PARAMS) is None, "the planned selectors satisfy the rule"
        assert config_verdict("cloudtrail-multi-region", after.to_json(), {}) == "COMPLIANT"


def test_data_event_selectors_are_kept_when_management_events_are_added() -> None:
    arn = trail("data-trail", multi_region=True)
    boto3.client("cloudtrail").put_event_selectors(TrailName=arn, EventSelectors=[DATA_SELECTOR])
    before = _selectors(arn)
    record = _run()
    assert record["decision"] == "remediated", record["reason"]
    after = _selectors(arn)
    assert after["AdvancedEventSelectors"] == []
    assert DATA_SELECTOR in after["EventSelectors"], "the data-event selector is untouched"
    assert any(s.get("IncludeManagementEvents") and s.get("ReadWriteType") == "All" and not s.get("DataResources") for s in after["EventSelectors"])
    assert [call["operation"] for call in record["apiCalls"] if not call["operation"].startswith(("Get", "Describe", "List"))] == ["PutEventSelectors"]
    _undo(record)
    assert _selectors(arn) == before, "undo puts back exactly the selectors the trail had"


def test_excluded_management_event_sources_are_included_again() -> None:
    arn = trail("kms-quiet", multi_region=True)
    selector = {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": ["kms.amazonaws.com"]}
    boto3.client("cloudtrail").put_event_selectors(TrailName=arn, EventSelectors=[selector])
    assert _run()["decision"] == "remediated"
    assert _selectors(arn)["EventSelectors"] == [{**selector, "ExcludeManagementEventSources": []}]


def test_advanced_selectors_stay_advanced_and_keep_their_data_selectors() -> None:
    arn = trail("advanced-trail", multi_region=True)
    excluding = {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}]}
    boto3.client("cloudtrail").put_event_selectors(TrailName=arn, AdvancedEventSelectors=[excluding, S3_DATA_ADVANCED])
    before = _selectors(arn)
    record = _run()
    assert record["decision"] == "remediated", record["reason"]
    after = _selectors(arn)
    assert after["EventSelectors"] == []
    assert after["AdvancedEventSelectors"] == [{"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}, S3_DATA_ADVANCED]
    _undo(record)
    assert _selectors(arn) == before


# --- the account's trail lives in another region ------------------------------------------------


def test_a_trail_homed_in_another_region_is_updated_there_instead_of_creating_one(requests) -> None:
    boto3.client("s3").create_bucket(Bucket=TRAIL_BUCKET)
    west = boto3.client("cloudtrail", region_name=OTHER_REGION)
    arn = west.create_trail(Name="west-trail", S3BucketName=TRAIL_BUCKET)["TrailARN"]
    west.start_logging(Name=arn)
    record = _run()
    assert record["decision"] == "remediated", record["reason"]
    assert "CreateTrail" not in requests.operations()
    writes = [call for call in record["apiCalls"] if call["operation"] == "UpdateTrail"]
    assert [call["region"] for call in writes] == [OTHER_REGION], "writes go to the trail's home region"
    assert west.get_trail(Name=arn)["Trail"]["IsMultiRegionTrail"] is True
    names = {t["Name"] for region in (REGION, OTHER_REGION) for t in boto3.client("cloudtrail", region_name=region).list_trails()["Trails"]}
    assert names == {"west-trail"}


# --- exemptions of the account-level fix --------------------------------------------------------


def _tag(arn: str) -> None:
    boto3.client("cloudtrail").add_tags(ResourceId=arn, TagsList=[{"Key": EXEMPTION_TAG, "Value": "audit team"}])


def test_an_exempt_trail_gives_way_to_another_trail_that_can_be_fixed() -> None:
    exempt = trail("a-exempt-trail")
    other = trail("b-team-trail")
    _tag(exempt)
    record = _run()
    assert record["decision"] == "remediated", record["reason"]
    cloudtrail = boto3.client("cloudtrail")
    assert cloudtrail.get_trail(Name=exempt)["Trail"]["IsMultiRegionTrail"] is False, "the exempt trail is untouched"
    assert cloudtrail.get_trail(Name=other)["Trail"]["IsMultiRegionTrail"] is True
    assert record["change"]["detail"]["trail"] == other
    assert record["change"]["detail"]["passedOver"] == [exempt]
    assert all(call["params"].get("Name", call["params"].get("TrailName")) == other for call in record["undo"])


def test_the_preferred_trail_when_not_exempt_is_recorded_without_passed_over_trails() -> None:
    chosen = trail("a-team-trail")
    record = _run()
    assert record["decision"] == "remediated", record["reason"]
    assert record["change"]["detail"] == {"trail": chosen, "updated": True, "candidates": record["change"]["detail"]["candidates"]}


def test_only_when_every_candidate_is_exempt_is_the_decision_exempt(requests) -> None:
    for name in ("a-exempt-trail", "b-exempt-trail"):
        _tag(trail(name))
    record = _run()
    assert record["decision"] == "exempt"
    assert requests.writes() == []
