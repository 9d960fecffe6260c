"""The accounts an organization-mode deployment governs: ACTIVE accounts under the target OUs, nested OUs
included, exclusions and non-ACTIVE accounts left out with the reason, missing targets reported one by one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from governance.cli.organization import (
    EXCLUDED_REASON,
    SKIPPED_STATES,
    OrganizationAccount,
    skip_reason,
    targeted_accounts,
)
from tests.cli.organization_fixtures import REGION, Organization

MISSING_OU = "ou-zzzz-99999999"


def test_the_ous_cover_their_nested_ous_minus_the_excluded_and_the_suspended(organization: Organization) -> None:
    org = organization
    excluded = org.accounts["prod"][1]
    suspended = org.accounts["sandbox"][2]
    org.client.close_account(AccountId=suspended)  # moto: State and Status become SUSPENDED at once

    result = targeted_accounts(org.client, [org.workloads, org.sandbox], exclude=[excluded])

    expected = {
        *org.accounts["workloads"],
        *org.accounts["prod"],
        *org.accounts["sandbox"],
    } - {excluded, suspended}
    assert set(result.ids) == expected and len(result.ids) == 8
    assert list(result.ids) == sorted(result.ids)
    parents = {account.id: (account.parent_id, account.target) for account in result.accounts}
    assert parents[org.accounts["prod"][0]] == (org.prod, org.workloads)
    assert parents[org.accounts["workloads"][0]] == (org.workloads, org.workloads)
    assert parents[org.accounts["sandbox"][0]] == (org.sandbox, org.sandbox)
    assert {(skipped.account.id, skipped.reason) for skipped in result.skipped} == {
        (excluded, EXCLUDED_REASON),
        (suspended, SKIPPED_STATES["SUSPENDED"]),
    }
    assert result.errors == ()
    # workloads, prod and sandbox: one ListAccountsForParent and one ListOrganizationalUnitsForParent each.
    assert dict(result.requests.calls) == {"ListAccountsForParent": 3, "ListOrganizationalUnitsForParent": 3}
    assert result.requests.total == 6


def test_the_root_covers_every_account_once_even_when_an_ou_under_it_is_a_target_too(organization: Organization) -> None:
    org = organization
    excluded = org.accounts["root"][0]

    result = targeted_accounts(org.client, [org.workloads, org.root, org.workloads], exclude={excluded})

    everyone = {org.management, *(account for ids in org.accounts.values() for account in ids)}
    assert set(result.ids) == everyone - {excluded} and len(result.ids) == 12
    targets = {account.id: account.target for account in result.accounts}
    assert targets[org.accounts["prod"][0]] == org.workloads  # found first under the first target
    assert targets[org.accounts["sandbox"][0]] == org.root
    assert targets[org.management] == org.root
    # 4 parents (root, workloads, prod, sandbox), 2 requests each: workloads and prod are not listed twice.
    assert result.requests.total == 8


def test_an_account_created_after_a_listing_is_found_by_the_next_one(organization: Organization) -> None:
    org = organization
    first = targeted_accounts(org.client, [org.sandbox])
    newcomer = org.add_account("late", org.sandbox)

    second = targeted_accounts(org.client, [org.sandbox])

    assert newcomer not in first.ids
    assert set(second.ids) == set(first.ids) | {newcomer}
    assert second.requests.total == 2  # each listing counts its own requests only


def test_a_target_that_does_not_exist_is_reported_and_the_others_are_listed(organization: Organization) -> None:
    org = organization

    result = targeted_accounts(org.client, [MISSING_OU, "not-an-ou", org.sandbox])

    assert set(result.ids) == set(org.accounts["sandbox"])
    assert [(error.target, error.code, error.missing) for error in result.errors] == [
        (MISSING_OU, "ParentNotFoundException", True),
        ("not-an-ou", "InvalidTargetId", True),
    ]
    assert all(error.message.endswith(".") and error.message.count(". ") == 0 for error in result.errors)
    # The malformed id costs no request; the missing OU one, which fails.
    assert result.requests.calls["ListAccountsForParent"] == 2


def test_more_than_twenty_accounts_in_one_ou_take_several_pages(organization: Organization) -> None:
    org = organization
    crowded = org.client.create_organizational_unit(ParentId=org.root, Name="crowded")["OrganizationalUnit"]["Id"]
    members = {org.add_account(f"crowded-{index}", crowded) for index in range(23)}

    result = targeted_accounts(org.client, [crowded])

    assert set(result.ids) == members
    assert dict(result.requests.calls) == {"ListAccountsForParent": 2, "ListOrganizationalUnitsForParent": 1}


# Stubbed answers: what moto cannot produce.

OU = "ou-abcd-11111111"


def account(account_id: str, **state: str) -> dict[str, Any]:
    return {"Id": account_id, "Name": f"account-{account_id}", **state}


@pytest.fixture
def stubbed(aws_credentials: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("organizations", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_accounts(stubber: Stubber, pages: list[tuple[list[dict[str, Any]], str | None]], parent: str = OU) -> None:
    token = None
    for accounts, next_token in pages:
        params: dict[str, Any] = {"ParentId": parent, "MaxResults": 20}
        if token:
            params["NextToken"] = token
        response: dict[str, Any] = {"Accounts": accounts}
        if next_token:
            response["NextToken"] = next_token
        stubber.add_response("list_accounts_for_parent", response, params)
        token = next_token


def expect_no_child_ous(stubber: Stubber, parent: str = OU) -> None:
    stubber.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": []}, {"ParentId": parent, "MaxResults": 20})


def test_an_empty_page_with_a_next_token_does_not_end_the_listing(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    expect_accounts(stubber, [([], "page-2"), ([], "page-3"), ([account("111111111111", State="ACTIVE")], None)])
    expect_no_child_ous(stubber)

    result = targeted_accounts(client, [OU])

    assert result.ids == ("111111111111",)
    assert result.requests.calls["ListAccountsForParent"] == 3


def test_only_active_accounts_are_governed_reading_state_before_status(stubbed: tuple[Any, Stubber]) -> None:
    # moto only models ACTIVE and SUSPENDED (CloseAccount), and always returns both fields.
    client, stubber = stubbed
    listed = [
        account("100000000001", State="ACTIVE", Status="ACTIVE"),
        account("100000000002", State="PENDING_ACTIVATION"),
        account("100000000003", State="PENDING_CLOSURE", Status="PENDING_CLOSURE"),
        account("100000000004", State="CLOSED", Status="SUSPENDED"),
        account("100000000005", Status="ACTIVE"),
        account("100000000006", Status="SUSPENDED"),
        account("100000000007", State="SUSPENDED", Status="ACTIVE"),
        account("100000000008"),
    ]
    expect_accounts(stubber, [(listed, None)])
    expect_no_child_ous(stubber)

    result = targeted_accounts(client, [OU])

    assert result.ids == ("100000000001", "100000000005")
    assert {skipped.account.id: skipped.reason for skipped in result.skipped} == {
        "100000000002": SKIPPED_STATES["PENDING_ACTIVATION"],
        "100000000003": SKIPPED_STATES["PENDING_CLOSURE"],
        "100000000004": SKIPPED_STATES["CLOSED"],
        "100000000006": SKIPPED_STATES["SUSPENDED"],
        "100000000007": SKIPPED_STATES["SUSPENDED"],
        "100000000008": "the account's state is not reported, not ACTIVE",
    }


def test_a_failure_of_a_nested_ou_fails_its_target_only(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    other, child = "ou-abcd-22222222", "ou-abcd-33333333"
    expect_accounts(stubber, [([account("100000000001", State="ACTIVE")], None)])
    stubber.add_response(
        "list_organizational_units_for_parent", {"OrganizationalUnits": [{"Id": child, "Name": "child"}]}, {"ParentId": OU, "MaxResults": 20}
    )
    stubber.add_client_error("list_accounts_for_parent", "ParentNotFoundException", "You specified parent that doesn't exist.", 400)
    expect_accounts(stubber, [([account("100000000002", State="ACTIVE")], None)], parent=other)
    expect_no_child_ous(stubber, parent=other)

    result = targeted_accounts(client, [OU, other])

    assert result.ids == ("100000000002",)  # nothing from the half-walked target
    assert [(error.target, error.code) for error in result.errors] == [(OU, "ParentNotFoundException")]


def test_a_throttled_listing_is_an_error_of_its_target_not_a_missing_one(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("list_accounts_for_parent", "TooManyRequestsException", "Rate exceeded", 400)

    result = targeted_accounts(client, [OU])

    assert result.ids == ()
    assert [(error.code, error.missing) for error in result.errors] == [("TooManyRequestsException", False)]


def test_an_excluded_account_is_reported_as_excluded_whatever_its_state() -> None:
    suspended = OrganizationAccount("100000000001", "a", "SUSPENDED", OU, OU)
    assert skip_reason(suspended, frozenset({"100000000001"})) == EXCLUDED_REASON
    assert skip_reason(suspended, frozenset()) == SKIPPED_STATES["SUSPENDED"]


def test_retries_of_a_throttled_request_are_counted(organization: Organization) -> None:
    from botocore.awsrequest import AWSResponse

    from governance.cli.sessions import CLIENT_CONFIG

    client = boto3.client("organizations", region_name=REGION, config=CLIENT_CONFIG)
    throttled: list[str] = []

    class Body:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.data

    def throttle_once(request: Any, **_: Any) -> Any:
        if throttled:
            return None
        throttled.append(request.url)
        body = b'{"__type": "TooManyRequestsException", "message": "Rate exceeded"}'
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, Body(body))

    client.meta.events.register_first("before-send.organizations.ListAccountsForParent", throttle_once)

    result = targeted_accounts(client, [organization.sandbox])

    assert set(result.ids) == set(organization.accounts["sandbox"]) and throttled
    assert sum(result.requests.calls.values()) == 2 and result.requests.retries == 1 and result.requests.total == 3
