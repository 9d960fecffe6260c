"""Which accounts the hub governs: ListParents walked up to a targeted OU or the root, cached per
container, excluded accounts refused without a request, permanent refusals turned into reasons.

On moto the organization's data is readable only as its management account (the test's own
account, which creates the organization); real AWS lets the hub, a delegated administrator, read it.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from conftest import RequestLog
from remediation.errors import is_transient
from remediation.membership import IAM_ACTIONS, VERDICT_TTL_SECONDS, OrganizationMembership, Verdict

ROOT_STUB = "r-abcd"
OU_STUB = "ou-abcd-11111111"
MEMBER_STUB = "444444444444"


class Seconds:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Organization:
    """root ─ governed ─ nested ─ (deep, in_nested);  root ─ sibling ─ (in_sibling);  root ─ (at_root)."""

    def __init__(self) -> None:
        org = boto3.client("organizations")
        org.create_organization(FeatureSet="ALL")
        self.root = org.list_roots()["Roots"][0]["Id"]
        self.governed = _ou(org, self.root, "governed")
        self.nested = _ou(org, self.governed, "nested")
        self.sibling = _ou(org, self.root, "sibling")
        self.deep = _account(org, "deep", self.nested, self.root)
        self.in_nested = _account(org, "in-nested", self.nested, self.root)
        self.in_sibling = _account(org, "in-sibling", self.sibling, self.root)
        self.at_root = _account(org, "at-root", None, self.root)
        self.org = org


def _ou(org: Any, parent: str, name: str) -> str:
    return str(org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])


def _account(org: Any, name: str, ou: str | None, root: str) -> str:
    account_id = str(org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"])
    if ou is not None:
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
    return account_id


def list_parents_sent(requests: RequestLog) -> int:
    return requests.operations().count("ListParents")


def one_sentence(message: str) -> bool:
    return message.endswith(".") and "\n" not in message


def test_the_only_action_is_list_parents() -> None:
    assert IAM_ACTIONS == ("organizations:ListParents",)


def test_an_account_in_an_ou_nested_under_a_target_is_governed(requests: RequestLog) -> None:
    org = Organization()
    membership = OrganizationMembership([org.governed], clock=Seconds())
    requests.clear()

    verdict = membership.is_governed(org.deep)

    assert verdict == Verdict(True, "", (org.nested, org.governed)) and bool(verdict)
    assert list_parents_sent(requests) == membership.requests_made() == 2


def test_the_root_as_target_governs_every_account(requests: RequestLog) -> None:
    org = Organization()
    membership = OrganizationMembership([org.root], clock=Seconds())

    assert all(membership.is_governed(account) for account in (org.deep, org.in_sibling, org.at_root))


def test_an_account_in_a_sibling_ou_is_not_governed_and_the_reason_shows_its_path(requests: RequestLog) -> None:
    org = Organization()
    membership = OrganizationMembership([org.governed], clock=Seconds())
    requests.clear()

    verdict = membership.is_governed(org.in_sibling)

    assert not verdict and verdict.path == (org.sibling, org.root)
    assert verdict.reason == f"Account {org.in_sibling} is not under any targeted OU (its path is {org.sibling} < {org.root})."
    assert list_parents_sent(requests) == 2
    assert not membership.is_governed(org.at_root)


def test_a_target_below_the_account_does_not_govern_it() -> None:
    org = Organization()
    membership = OrganizationMembership([org.nested], clock=Seconds())

    assert membership.is_governed(org.deep) and not membership.is_governed(org.at_root)
    assert not OrganizationMembership([org.sibling], clock=Seconds()).is_governed(org.deep)


def test_an_excluded_account_is_not_governed_without_a_request(requests: RequestLog) -> None:
    org = Organization()
    membership = OrganizationMembership([org.root], excluded=[org.deep], clock=Seconds())
    requests.clear()

    verdict = membership.is_governed(org.deep)

    assert verdict == Verdict(False, f"Account {org.deep} is excluded from governance.")
    assert requests.operations() == [] and membership.requests_made() == 0


@pytest.mark.parametrize("account", ["12345678901", "1234567890123", "12345678901a", ""])
def test_a_malformed_account_id_is_not_governed_without_a_request(requests: RequestLog, account: str) -> None:
    membership = OrganizationMembership(["r-abcd"], clock=Seconds())
    requests.clear()

    verdict = membership.is_governed(account)

    assert not verdict and "12 digits" in verdict.reason and one_sentence(verdict.reason)
    assert requests.operations() == []


def test_a_second_account_under_the_same_ou_costs_one_request(requests: RequestLog) -> None:
    org = Organization()
    membership = OrganizationMembership([org.governed], clock=Seconds())
    requests.clear()

    assert membership.is_governed(org.deep)
    first = list_parents_sent(requests)
    assert membership.is_governed(org.in_nested)

    assert (first, list_parents_sent(requests) - first) == (2, 1)


def test_an_ou_edge_learned_on_a_path_to_the_root_is_reused() -> None:
    org = Organization()
    membership = OrganizationMembership([org.sibling], clock=Seconds())

    assert not membership.is_governed(org.deep)  # deep → nested → governed → root: 3 requests
    assert membership.requests_made() == 3
    assert not membership.is_governed(org.in_nested)  # its own parent only
    assert membership.requests_made() == 4


def test_a_verdict_is_reused_until_it_expires_then_asked_again(requests: RequestLog) -> None:
    org = Organization()
    clock = Seconds()
    membership = OrganizationMembership([org.governed], clock=clock)
    assert membership.is_governed(org.deep)
    assert membership.requests_made() == 2

    clock.now += VERDICT_TTL_SECONDS - 1
    assert membership.is_governed(org.deep) and membership.requests_made() == 2

    # The account moves out of the targets: the next verdict after expiry sees it.
    org.org.move_account(AccountId=org.deep, SourceParentId=org.nested, DestinationParentId=org.sibling)
    assert membership.is_governed(org.deep)  # still cached
    clock.now += 1
    verdict = membership.is_governed(org.deep)

    assert not verdict and verdict.path == (org.sibling, org.root)
    assert membership.requests_made() == 4  # the account's own parent again, then the sibling OU's


def test_an_account_outside_the_organization_is_not_governed(requests: RequestLog) -> None:
    org = Organization()
    membership = OrganizationMembership([org.root], clock=Seconds())

    verdict = membership.is_governed("999999999999")

    assert not verdict and "999999999999" in verdict.reason and one_sentence(verdict.reason)
    assert list_parents_sent(requests) == 1


# Stubbed Organizations: the exact error codes AWS returns, which moto does not produce.


@pytest.fixture
def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("organizations", region_name="us-east-1")
    return client, Stubber(client)


def test_child_not_found_is_not_governed_with_the_reason(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("list_parents", "ChildNotFoundException", "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.", 400, expected_params={"ChildId": MEMBER_STUB})
    membership = OrganizationMembership([ROOT_STUB], clock=Seconds(), organizations_client=client)

    with stubber:
        verdict = membership.is_governed(MEMBER_STUB)

    assert not verdict and verdict.reason.startswith(f"Organizations does not know {MEMBER_STUB} (ChildNotFoundException: ")
    assert verdict.reason.endswith(f"so account {MEMBER_STUB} is not governed.")
    stubber.assert_no_pending_responses()


def test_access_denied_is_not_governed_with_the_reason(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("list_parents", {"Parents": [{"Id": OU_STUB, "Type": "ORGANIZATIONAL_UNIT"}]}, {"ChildId": MEMBER_STUB})
    stubber.add_client_error("list_parents", "AccessDeniedException", "You don't have permissions to access this resource.", 400, expected_params={"ChildId": OU_STUB})
    membership = OrganizationMembership([ROOT_STUB], clock=Seconds(), organizations_client=client)

    with stubber:
        verdict = membership.is_governed(MEMBER_STUB)

    assert not verdict and verdict.path == (OU_STUB,)
    assert verdict.reason.startswith(f"Organizations refused to name the parent of {OU_STUB} (AccessDeniedException: ")
    stubber.assert_no_pending_responses()


def test_throttling_propagates_and_nothing_is_cached(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("list_parents", "TooManyRequestsException", "AWS Organizations can't complete your request because another request is already in progress.", 400)
    stubber.add_response("list_parents", {"Parents": [{"Id": ROOT_STUB, "Type": "ROOT"}]}, {"ChildId": MEMBER_STUB})
    membership = OrganizationMembership([ROOT_STUB], clock=Seconds(), organizations_client=client)

    with stubber:
        with pytest.raises(ClientError) as raised:
            membership.is_governed(MEMBER_STUB)
        assert is_transient(raised.value)
        assert membership.is_governed(MEMBER_STUB)  # asked again, not a cached refusal
    stubber.assert_no_pending_responses()


def test_no_parent_at_all_is_not_governed(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("list_parents", {"Parents": []}, {"ChildId": MEMBER_STUB})
    membership = OrganizationMembership([ROOT_STUB], clock=Seconds(), organizations_client=client)

    with stubber:
        verdict = membership.is_governed(MEMBER_STUB)

    assert not verdict and one_sentence(verdict.reason)


def test_a_walk_that_never_reaches_the_root_gives_up(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    # A cycle Organizations cannot form: the walk must still end, and refuse.
    stubber.add_response("list_parents", {"Parents": [{"Id": OU_STUB, "Type": "ORGANIZATIONAL_UNIT"}]}, {"ChildId": MEMBER_STUB})
    stubber.add_response("list_parents", {"Parents": [{"Id": OU_STUB, "Type": "ORGANIZATIONAL_UNIT"}]}, {"ChildId": OU_STUB})
    membership = OrganizationMembership([ROOT_STUB], clock=Seconds(), organizations_client=client)

    with stubber:
        verdict = membership.is_governed(MEMBER_STUB)

    assert not verdict and "levels below the root" in verdict.reason


@pytest.mark.parametrize(
    ("targets", "excluded", "message"),
    [
        ([], [], "At least one target"),
        (["ou-bad"], [], "must be OU ids"),
        (["r-abcd", "123456789012"], [], "must be OU ids"),
        (["r-abcd"], ["1234"], "must be account ids of 12 digits"),
    ],
)
def test_settings_are_checked(targets: list[str], excluded: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrganizationMembership(targets, excluded)
