"""``benchmarks/org_build.py``: its organization model counts what a listing would cost, and the script runs on tiny inputs."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import settings

from benchmarks import org_build
from benchmarks.org_build import (
    DESCENDANT_ACCOUNTS,
    TARGETS,
    CountingMocks,
    CountingOrganization,
    main,
)
from governance.mock_program import GET_ORGANIZATION, RecordingMonitor


def test_the_organization_fields_cost_one_request_and_no_listing() -> None:
    organization = CountingOrganization(2000)

    answer = organization.answer(GET_ORGANIZATION, {"returnOrganizationOnly": True})

    assert "accounts" not in answer and answer["arn"].endswith("/o-bench0example")
    assert organization.requests == {"DescribeOrganization": 1} and organization.listing_requests == 0


def test_listing_the_organization_costs_a_request_per_page_of_accounts() -> None:
    organization = CountingOrganization(45)

    answer = organization.answer(GET_ORGANIZATION, {})

    assert len(answer["accounts"]) == 46  # the management account too
    assert organization.requests["ListAccounts"] == 3  # pages of 20
    assert organization.listing_requests == 5


def test_listing_an_ou_costs_a_request_per_page_of_its_accounts() -> None:
    organization = CountingOrganization(90)

    answer = organization.answer(DESCENDANT_ACCOUNTS, {"parentId": TARGETS[0]})

    assert len(answer["accounts"]) == 30
    assert organization.requests == {"ListAccountsForParent": 2, "ListOrganizationalUnitsForParent": 1}


def test_the_mocks_count_an_invoke_made_through_pulumi() -> None:
    organization = CountingOrganization(100)
    recording = CountingMocks(organization=organization)
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(recording, project="governance", stack="bench", preview=False, monitor=RecordingMonitor(recording))
    seen: list[Any] = []

    @pulumi.runtime.test
    def program() -> Any:
        return aws.organizations.get_organization_output().accounts.apply(seen.append)

    program()

    assert len(seen[0]) == 101 and organization.requests["ListAccounts"] == 6


def test_the_script_runs_on_tiny_inputs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(org_build, "MAX_RATIO", 0.0)  # any measured ratio is above it: the exit code must say so

    warn = pulumi.log.warn

    code = main(["--runs", "1", "--accounts", "3", "--direct-accounts", "1"])

    assert pulumi.log.warn is warn, "the program's warnings are silenced during the measurement only"

    out = capsys.readouterr().out
    rows = re.findall(r"^(\d) account\(s\) +\d +(\d+) +[\d.]+ +[\d.]+   DescribeOrganization 1 \(0 listing\)$", out, re.MULTILINE)
    assert [size for size, _ in rows] == ["1", "3"] and rows[0][1] == rows[1][1], out
    assert re.search(r"^ratio 3/1: [\d.]+x \(target <= 0.0x\); CPU time ratio [\d.]+x$", out, re.MULTILINE) and code == 1
    assert re.search(r"^contrast, direct mode with 1 accounts in governance:accounts \(built once\): \d+ resources", out, re.MULTILINE)


@pytest.mark.parametrize(("argv", "message"), [
    (["--runs", "0"], "--runs must be 1 or more, not 0"),
    (["--accounts", "1"], "--accounts must be 2 or more (the large organization, against one of 1 account), not 1"),
    (["--direct-accounts", "-1"], "--direct-accounts must be 0 (none) or more, not -1"),
])
def test_bad_arguments_are_named(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err
