"""``governance:organization``: the OUs a delegated-administrator account governs, and their rule profiles."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from governance.settings import (
    ConfigError,
    OrganizationSettings,
    RuleProfile,
    RuleSettings,
    Settings,
    load_settings,
)
from tests.config_problems import assert_names_its_key, assert_one_sentence

ADMIN = "999999999999"
ADMIN_ROLE = f"arn:aws:iam::{ADMIN}:role/governance-deploy"
OU_1, OU_2, OU_3 = "ou-ab12-11111111", "ou-ab12-22222222", "ou-ab12-33333333"
ROOT = "r-ab12"
MANAGEMENT = "111111111111"
EXCLUDED = "444444444444"
KEY_EAST = f"arn:aws:kms:us-east-1:{ADMIN}:key/11111111-2222-3333-4444-555555555555"
REMOVE = object()
"""A change that removes the key."""


def stack(organization: Any = REMOVE, **top: Any) -> dict[str, Any]:
    """A valid organization-mode stack config (two OUs, one region), with organization keys and top-level keys replaced.

    ``organization`` is a dict of changes to the organization object (``REMOVE`` deletes a key), or any other value
    to use as the whole object.
    """
    raw: dict[str, Any] = {
        "regions": ["us-east-1"],
        "rules": {"restricted-admin-ports": {"mode": "auto"}, "vpc-flow-logs": {"mode": "detect", "params": {"trafficType": "REJECT"}}},
        "organization": {"adminAccountId": ADMIN, "targets": [OU_1, OU_2]},
    }
    if isinstance(organization, dict):
        for key, value in organization.items():
            if value is REMOVE:
                raw["organization"].pop(key, None)
            else:
                raw["organization"][key] = copy.deepcopy(value)
    elif organization is not REMOVE:
        raw["organization"] = organization
    for key, value in top.items():
        if value is REMOVE:
            raw.pop(key, None)
        else:
            raw[key] = copy.deepcopy(value)
    return raw


def organization_of(raw: dict[str, Any]) -> OrganizationSettings:
    """The organization settings of a config that must be valid."""
    organization = load_settings(raw).organization
    assert organization is not None
    return organization


def only_problem(raw: dict[str, Any]) -> str:
    """The one problem of an invalid config."""
    with pytest.raises(ConfigError) as raised:
        load_settings(raw)
    problems = raised.value.problems
    assert len(problems) == 1, problems
    return problems[0]


def override(targets: Any, rules: Any) -> dict[str, Any]:
    """One entry of ``governance:organization.overrides``."""
    return {"targets": targets, "rules": rules}


# --- valid ---------------------------------------------------------------------------------------

VALID: list[tuple[str, dict[str, Any]]] = [
    ("the minimal organization", stack()),
    ("an admin role in the admin account", stack({"adminRoleArn": ADMIN_ROLE})),
    ("an admin role with a path", stack({"adminRoleArn": f"arn:aws:iam::{ADMIN}:role/platform/ci/governance-deploy"})),
    ("one OU", stack({"targets": [OU_3]})),
    ("the root alone", stack({"targets": [ROOT]})),
    ("an OU id with the longest parts", stack({"targets": ["ou-" + "a" * 32 + "-" + "0" * 32]})),
    ("a root id with the longest part", stack({"targets": ["r-" + "z9" * 16]})),
    ("50 OUs", stack({"targets": [f"ou-ab12-{index:08d}" for index in range(50)]})),
    ("excluded accounts", stack({"excludeAccounts": [EXCLUDED, "555555555555"]})),
    ("the admin account excluded", stack({"excludeAccounts": [ADMIN]})),
    ("the admin account governed as a listed account", stack(accounts=[{"id": ADMIN}])),
    ("no excluded accounts", stack({"excludeAccounts": []})),
    ("a member role name of every allowed character", stack({"memberRoleName": "Gov_member+=,.@-1"})),
    ("a member role name of 64 characters", stack({"memberRoleName": "r" * 64})),
    ("optional keys set to null", stack({"adminRoleArn": None, "excludeAccounts": None, "memberRoleName": None, "overrides": None})),
    ("no overrides", stack({"overrides": []})),
    ("an override of one OU", stack({"overrides": [override([OU_2], {"restricted-admin-ports": {"mode": "detect"}})]})),
    ("an override with no rule settings", stack({"overrides": [override([OU_2], {})]})),
    (
        "a protected rule set to manual in an override",
        stack({"overrides": [override([OU_2], {"restricted-admin-ports": {"mode": "manual"}})]}, protectedRules=["restricted-admin-ports"]),
    ),
    ("the management account listed beside the organization", stack(accounts=[{"id": MANAGEMENT}])),
    ("governance:accounts empty beside the organization", stack(accounts=[])),
]


@pytest.mark.parametrize("raw", [raw for _, raw in VALID], ids=[case for case, _ in VALID])
def test_valid_organizations_load(raw: dict[str, Any]) -> None:
    organization = organization_of(raw)
    written = raw["organization"]
    assert organization.admin_account_id == written["adminAccountId"]
    assert organization.admin_role_arn == written.get("adminRoleArn")
    assert organization.targets == tuple(written["targets"])
    assert organization.exclude_accounts == tuple(written.get("excludeAccounts") or ())
    assert organization.member_role_name == (written.get("memberRoleName") or "governance-member")
    assert organization.regions == tuple(raw["regions"])


def test_optional_keys_have_their_defaults() -> None:
    organization = organization_of(stack())
    assert (organization.admin_role_arn, organization.exclude_accounts, organization.member_role_name) == (None, (), "governance-member")
    assert (organization.overrides, organization.partition) == ((), "aws")


def test_the_admin_roles_partition_is_the_organizations_and_picks_its_regions() -> None:
    raw = stack({"adminRoleArn": f"arn:aws-us-gov:iam::{ADMIN}:role/governance-deploy"}, regions=["us-gov-west-1"])
    organization = organization_of(raw)
    assert (organization.partition, organization.regions) == ("aws-us-gov", ("us-gov-west-1",))
    problem = only_problem(stack({"adminRoleArn": f"arn:aws-us-gov:iam::{ADMIN}:role/governance-deploy"}))
    assert problem.startswith("governance:regions[0] must be a region name of partition aws-us-gov")


def test_without_organization_the_settings_are_as_before() -> None:
    accounts_only = {"regions": ["us-east-1"], "accounts": [{"id": MANAGEMENT}], "rules": {"restricted-admin-ports": {"mode": "auto"}}}
    settings = load_settings(accounts_only)
    assert settings.organization is None
    assert load_settings({**accounts_only, "organization": None}) == settings
    assert settings == dataclasses.replace(settings, organization=None)
    assert [rule.key for rule in settings.accounts[0].rules] == ["restricted-admin-ports"]


def test_the_organization_and_the_listed_accounts_are_governed_side_by_side() -> None:
    settings = load_settings(stack(accounts=[{"id": MANAGEMENT}]))
    assert [account.id for account in settings.accounts] == [MANAGEMENT]
    assert settings.organization is not None
    (base,) = settings.organization.profiles
    assert base.rules == settings.accounts[0].rules


def test_without_organization_governance_accounts_is_still_required() -> None:
    problem = only_problem({"regions": ["us-east-1"]})
    assert problem.startswith("governance:accounts is required unless governance:organization is set")
    assert_one_sentence(problem)


def test_the_model_is_frozen() -> None:
    organization = organization_of(stack({"overrides": [override([OU_2], {"vpc-flow-logs": {"params": {"trafficType": "ALL"}}})]}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        organization.targets = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        organization.profiles[0].targets = ()  # type: ignore[misc]
    written = organization.overrides[0]
    assert written.targets == (OU_2,)
    with pytest.raises(TypeError):
        written.rules["vpc-flow-logs"]["params"]["trafficType"] = "ACCEPT"
    assert written.rules["vpc-flow-logs"]["params"]["trafficType"] == "ALL"


# --- invalid -------------------------------------------------------------------------------------

OVERRIDES = "governance:organization.overrides"
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("organization not an object", stack([OU_1]), "governance:organization", "must be an object such as"),
    (
        "unknown organization key",
        stack({"targetOUs": [OU_1]}),
        "governance:organization.targetOUs",
        "is not an organization setting; allowed: adminAccountId, adminRoleArn, targets, excludeAccounts, memberRoleName, overrides",
    ),
    ("admin account missing", stack({"adminAccountId": REMOVE}), "governance:organization.adminAccountId", "must be a 12-digit account id string"),
    ("admin account unquoted", stack({"adminAccountId": 99999999999}), "governance:organization.adminAccountId", "quote it in YAML"),
    ("admin account of 11 digits", stack({"adminAccountId": "99999999999"}), "governance:organization.adminAccountId", "must be a 12-digit"),
    ("admin account of fullwidth digits", stack({"adminAccountId": "\uff19" * 12}), "governance:organization.adminAccountId", "must be a 12-digit"),
    ("admin role not an ARN", stack({"adminRoleArn": "governance-deploy"}), "governance:organization.adminRoleArn", "must be an IAM role ARN"),
    (
        "admin role of a user",
        stack({"adminRoleArn": f"arn:aws:iam::{ADMIN}:user/governance-deploy"}),
        "governance:organization.adminRoleArn",
        "must be an IAM role ARN",
    ),
    (
        "admin role of an unsupported partition",
        stack({"adminRoleArn": f"arn:aws-iso:iam::{ADMIN}:role/governance-deploy"}),
        "governance:organization.adminRoleArn",
        "must be an IAM role ARN",
    ),
    (
        "admin role in another account",
        stack({"adminRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/governance-deploy"}),
        "governance:organization.adminRoleArn",
        f"must be a role in account {ADMIN} itself",
    ),
    ("targets missing", stack({"targets": REMOVE}), "governance:organization.targets", "is required: a non-empty list of OU ids"),
    ("targets empty", stack({"targets": []}), "governance:organization.targets", "is required: a non-empty list of OU ids"),
    ("targets not a list", stack({"targets": OU_1}), "governance:organization.targets", "is required: a non-empty list of OU ids"),
    ("target in capitals", stack({"targets": [OU_1, "ou-AB12-22222222"]}), "governance:organization.targets[1]", "must be an OU id such as"),
    ("target with a short root part", stack({"targets": ["ou-ab1-11111111"]}), "governance:organization.targets[0]", "must be an OU id such as"),
    ("target with a short OU part", stack({"targets": ["ou-ab12-1111111"]}), "governance:organization.targets[0]", "must be an OU id such as"),
    ("target with a long OU part", stack({"targets": ["ou-ab12-" + "1" * 33]}), "governance:organization.targets[0]", "must be an OU id such as"),
    ("target that is an account id", stack({"targets": [ADMIN]}), "governance:organization.targets[0]", "must be an OU id such as"),
    ("target that is a short root id", stack({"targets": ["r-ab1"]}), "governance:organization.targets[0]", "must be an OU id such as"),
    ("target that is a number", stack({"targets": [12]}), "governance:organization.targets[0]", "must be an OU id such as"),
    ("target listed twice", stack({"targets": [OU_1, OU_2, OU_1]}), "governance:organization.targets[2]", "repeats a target"),
    (
        "51 targets",
        stack({"targets": [f"ou-ab12-{index:08d}" for index in range(51)]}),
        "governance:organization.targets",
        "must list at most 50 targets",
    ),
    ("root after an OU", stack({"targets": [OU_1, ROOT]}), "governance:organization.targets[1]", "is a root id, which already holds every OU"),
    ("root before an OU", stack({"targets": [ROOT, OU_1]}), "governance:organization.targets[0]", "is a root id, which already holds every OU"),
    ("excluded accounts not a list", stack({"excludeAccounts": EXCLUDED}), "governance:organization.excludeAccounts", "must be a list of 12-digit"),
    ("excluded account of 13 digits", stack({"excludeAccounts": ["4444444444444"]}), "governance:organization.excludeAccounts[0]", "must be a 12-digit"),
    ("excluded account unquoted", stack({"excludeAccounts": [EXCLUDED, 44444444444]}), "governance:organization.excludeAccounts[1]", "quote it in YAML"),
    ("excluded account listed twice", stack({"excludeAccounts": [EXCLUDED, EXCLUDED]}), "governance:organization.excludeAccounts[1]", "repeats an account"),
    (
        "excluded account that governance:accounts governs",
        stack({"excludeAccounts": [EXCLUDED]}, accounts=[{"id": MANAGEMENT}, {"id": EXCLUDED, "roleArn": f"arn:aws:iam::{EXCLUDED}:role/x"}]),
        "governance:organization.excludeAccounts[0]",
        "is also listed in governance:accounts[1]: an account cannot be both excluded and governed",
    ),
    ("member role name empty", stack({"memberRoleName": ""}), "governance:organization.memberRoleName", "must be an IAM role name of 1-64"),
    ("member role name with a space", stack({"memberRoleName": "governance member"}), "governance:organization.memberRoleName", "must be an IAM role name"),
    ("member role name with a slash", stack({"memberRoleName": "ops/governance"}), "governance:organization.memberRoleName", "must be an IAM role name"),
    ("member role name of 65 characters", stack({"memberRoleName": "r" * 65}), "governance:organization.memberRoleName", "must be an IAM role name"),
    ("member role name not ASCII", stack({"memberRoleName": "gouvernance-\u00e9"}), "governance:organization.memberRoleName", "must be an IAM role name"),
    ("member role name a number", stack({"memberRoleName": 7}), "governance:organization.memberRoleName", "must be an IAM role name"),
    ("regions missing", stack(regions=REMOVE), "governance:regions", "is required by governance:organization"),
    ("regions empty", stack(regions=[]), "governance:regions", "is required by governance:organization"),
    ("region that is not a region", stack(regions=["us-east-7"]), "governance:regions[0]", "must be a region name of partition aws"),
    ("overrides not a list", stack({"overrides": {"targets": [OU_2]}}), OVERRIDES, "must be a list of {targets, rules} objects"),
    ("override not an object", stack({"overrides": [OU_2]}), f"{OVERRIDES}[0]", "must be an object such as"),
    (
        "unknown override key",
        stack({"overrides": [{**override([OU_2], {}), "accounts": [EXCLUDED]}]}),
        f"{OVERRIDES}[0].accounts",
        "is not an override setting; allowed: name, targets, rules",
    ),
    ("override without targets", stack({"overrides": [{"rules": {}}]}), f"{OVERRIDES}[0].targets", "must be a non-empty list of targets"),
    ("override with empty targets", stack({"overrides": [override([], {})]}), f"{OVERRIDES}[0].targets", "must be a non-empty list of targets"),
    (
        "override of an OU that is not a target",
        stack({"overrides": [override([OU_3], {})]}),
        f"{OVERRIDES}[0].targets[0]",
        f"must be one of governance:organization.targets ({OU_1}, {OU_2}): overrides pick whole targets",
    ),
    ("override naming a target twice", stack({"overrides": [override([OU_2, OU_2], {})]}), f"{OVERRIDES}[0].targets[1]", "repeats a target"),
    (
        "target named by two overrides",
        stack({"overrides": [override([OU_1], {}), override([OU_2, OU_1], {})]}),
        f"{OVERRIDES}[1].targets[1]",
        f"is already a target of {OVERRIDES}[0]: each target may be in one override only",
    ),
    (
        "override of the root target",
        stack({"targets": [ROOT], "overrides": [override([ROOT], {})]}),
        f"{OVERRIDES}[0].targets[0]",
        "list the OUs as targets instead of the root",
    ),
    (
        "override of an OU inside the root target",
        stack({"targets": [ROOT], "overrides": [override([OU_1], {})]}),
        f"{OVERRIDES}[0].targets[0]",
        f"cannot override the root {ROOT} or any part of it",
    ),
    ("override without rules", stack({"overrides": [{"targets": [OU_2]}]}), f"{OVERRIDES}[0].rules", "is required: the rule settings of these targets"),
    ("override rules not an object", stack({"overrides": [override([OU_2], ["vpc-flow-logs"])]}), f"{OVERRIDES}[0].rules", "must be an object of rule key"),
    (
        "override of an unknown rule",
        stack({"overrides": [override([OU_2], {"open-ports": {"mode": "detect"}})]}),
        f"{OVERRIDES}[0].rules",
        "has unknown rule 'open-ports'",
    ),
    (
        "override with an unknown rule setting",
        stack({"overrides": [override([OU_2], {"vpc-flow-logs": {"modes": "detect"}})]}),
        f"{OVERRIDES}[0].rules.vpc-flow-logs.modes",
        "is not a rule setting; allowed: mode, engine, source, params",
    ),
    (
        "override with a bad mode",
        stack({"overrides": [override([OU_2], {"restricted-admin-ports": {"mode": "fix"}})]}),
        f"{OVERRIDES}[0].rules.restricted-admin-ports.mode",
        "must be one of off, detect, manual, auto",
    ),
    (
        "override with a bad engine",
        stack({"overrides": [override([OU_2], {"vpc-flow-logs": {"engine": "step-functions"}})]}),
        f"{OVERRIDES}[0].rules.vpc-flow-logs.engine",
        "must be one of ssm, lambda for vpc-flow-logs",
    ),
    (
        "override with a bad source",
        stack({"overrides": [override([OU_2], {"vpc-flow-logs": {"source": "guardduty"}})]}),
        f"{OVERRIDES}[0].rules.vpc-flow-logs.source",
        "must be one of own, securityhub",
    ),
    (
        "override with params that are not an object",
        stack({"overrides": [override([OU_2], {"vpc-flow-logs": {"params": ["ALL"]}})]}),
        f"{OVERRIDES}[0].rules.vpc-flow-logs.params",
        "must be an object",
    ),
    (
        "override with a param the rule does not take",
        stack({"overrides": [override([OU_2], {"vpc-flow-logs": {"params": {"bucket": "x"}}})]}),
        f"{OVERRIDES}[0].rules.vpc-flow-logs.params.bucket",
        "is not a parameter of vpc-flow-logs",
    ),
    (
        "override with a port out of range",
        stack({"overrides": [override([OU_2], {"restricted-admin-ports": {"params": {"ports": [22, 70000]}}})]}),
        f"{OVERRIDES}[0].rules.restricted-admin-ports.params.ports",
        "must be a list of 1 to 5 distinct TCP ports",
    ),
    (
        "override making the engine refuse the stack's params",
        stack({"overrides": [override([OU_2], {"restricted-admin-ports": {"engine": "ssm"}})]}, rules={"restricted-admin-ports": {"mode": "auto", "params": {"ports": [22, 5432]}}}),
        f"{OVERRIDES}[0].rules.restricted-admin-ports",
        "supports only params.ports 22 and 3389 with the ssm engine",
    ),
    (
        "override with a KMS key missing in a region",
        stack(
            {"overrides": [override([OU_2], {"s3-bucket-encryption": {"mode": "auto", "engine": "lambda", "params": {"algorithm": "aws:kms", "kmsKeyArn": KEY_EAST}}})]},
            regions=["us-east-1", "eu-west-1"],
        ),
        f"{OVERRIDES}[0].rules.s3-bucket-encryption.params.kmsKeyArn",
        f"has no key in eu-west-1, where the rule is also deployed; S3 can use only a key in the bucket's own region, so list one key ARN per region (or leave aws:kms off for this account) (accounts of {OU_2})",
    ),
    (
        "protected rule forced to auto in an override",
        stack(
            {"overrides": [override([OU_2], {"vpc-flow-logs": {"mode": "auto"}})]},
            protectedRules=["vpc-flow-logs"],
        ),
        f"{OVERRIDES}[0].rules.vpc-flow-logs.mode",
        "cannot be auto because vpc-flow-logs is listed in governance:protectedRules; use manual or detect",
    ),
    (
        "override name with capitals",
        stack({"overrides": [{"name": "Sandbox", **override([OU_2], {})}]}),
        f"{OVERRIDES}[0].name",
        "must be 1-68 lowercase letters, digits and dashes starting with a letter",
    ),
    (
        "override named base",
        stack({"overrides": [{"name": "base", **override([OU_2], {})}]}),
        f"{OVERRIDES}[0].name",
        "cannot be base, the name of the profile of the targets no override names",
    ),
    (
        "two overrides with one name",
        stack({"targets": [OU_1, OU_2, OU_3], "overrides": [{"name": "sandbox", **override([OU_2], {})}, {"name": "sandbox", **override([OU_3], {})}]}),
        f"{OVERRIDES}[1].name",
        f"names the profile sandbox, which {OVERRIDES}[0].name names already",
    ),
    (
        "override named as another override's first target",
        stack({"targets": [OU_1, OU_2, OU_3], "overrides": [override([OU_2], {}), {"name": OU_2, **override([OU_3], {})}]}),
        f"{OVERRIDES}[1].name",
        f"names the profile {OU_2}, which {OVERRIDES}[0].targets[0] names already",
    ),
    (
        "stack rule invalid while no account is listed",
        stack(rules={"vpc-flow-logs": {"mode": "fix"}}),
        "governance:rules.vpc-flow-logs.mode",
        "must be one of off, detect, manual, auto",
    ),
    (
        "stack rule invalid while every target overrides it",
        stack({"overrides": [override([OU_1, OU_2], {"vpc-flow-logs": {"mode": "detect"}})]}, rules={"vpc-flow-logs": {"mode": "fix"}}),
        "governance:rules.vpc-flow-logs.mode",
        "must be one of off, detect, manual, auto",
    ),
]


@pytest.mark.parametrize(("raw", "key", "allowed"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_each_problem_is_one_sentence_naming_its_key(raw: dict[str, Any], key: str, allowed: str) -> None:
    problem = only_problem(raw)
    assert problem.startswith(f"{key} "), problem
    assert allowed in problem, problem
    assert_one_sentence(problem)
    assert_names_its_key(problem, raw)


def test_every_problem_is_reported_together() -> None:
    raw = stack({
        "adminAccountId": "1",
        "targets": [OU_1, "ou-x"],
        "memberRoleName": "a b",
        "unknown": True,
        "overrides": [override([OU_1], {"restricted-admin-ports": {"mode": "fix"}})],
    })
    with pytest.raises(ConfigError) as raised:
        load_settings(raw)
    keys = [problem.split(" ")[0] for problem in raised.value.problems]
    assert keys == [
        "governance:organization.unknown",
        "governance:organization.adminAccountId",
        "governance:organization.targets[1]",
        "governance:organization.memberRoleName",
        f"{OVERRIDES}[0].rules.restricted-admin-ports.mode",
    ]


PARAM_CASES: list[tuple[str, dict[str, Any]]] = [
    ("restricted-admin-ports", {"ports": [22, 22]}),
    ("vpc-flow-logs", {"logGroupName": "aws/flows"}),
    ("vpc-flow-logs", {"trafficType": "SOME"}),
    ("s3-bucket-encryption", {"algorithm": "DES"}),
    ("iam-password-policy", {"MinimumPasswordLength": 5}),
]


@pytest.mark.parametrize(("rule", "params"), PARAM_CASES, ids=[f"{rule}-{next(iter(params))}" for rule, params in PARAM_CASES])
def test_override_params_get_the_same_sentence_as_stack_params(rule: str, params: dict[str, Any]) -> None:
    at_stack = only_problem(stack(rules={rule: {"mode": "detect", "params": params}}))
    in_override = only_problem(stack({"overrides": [override([OU_2], {rule: {"mode": "detect", "params": params}})]}, rules={}))
    stack_key = f"governance:rules.{rule}.params."
    override_key = f"{OVERRIDES}[0].rules.{rule}.params."
    assert at_stack.startswith(stack_key) and in_override.startswith(override_key)
    assert in_override.removeprefix(override_key) == at_stack.removeprefix(stack_key)


# --- profiles ------------------------------------------------------------------------------------


def rules_by_key(profile: RuleProfile) -> dict[str, RuleSettings]:
    """A profile's rules by rule key."""
    return {rule.key: rule for rule in profile.rules}


def test_without_overrides_one_base_profile_holds_every_target_with_the_stacks_rules() -> None:
    organization = organization_of(stack())
    (base,) = organization.profiles
    assert (base.name, base.targets) == ("base", (OU_1, OU_2))
    rules = rules_by_key(base)
    assert list(rules) == ["restricted-admin-ports", "vpc-flow-logs"]
    assert all(isinstance(rule, RuleSettings) for rule in base.rules)
    assert (rules["restricted-admin-ports"].mode, rules["vpc-flow-logs"].mode) == ("auto", "detect")
    assert rules["vpc-flow-logs"].params["trafficType"] == "REJECT"
    assert rules["restricted-admin-ports"].config_key == "governance:rules.restricted-admin-ports"


def test_an_override_of_one_of_two_targets_merges_over_the_stacks_rules_key_by_key() -> None:
    raw = stack({"overrides": [override([OU_2], {
        "restricted-admin-ports": {"mode": "detect"},
        "vpc-flow-logs": {"mode": "auto", "params": {"logGroupName": "/ou2/flows"}},
    })]})
    base, ou_2 = organization_of(raw).profiles
    assert (base.name, base.targets, ou_2.name, ou_2.targets) == ("base", (OU_1,), OU_2, (OU_2,))
    assert rules_by_key(base) == rules_by_key(organization_of(stack()).profiles[0])
    ports, flows = rules_by_key(ou_2)["restricted-admin-ports"], rules_by_key(ou_2)["vpc-flow-logs"]
    assert (ports.mode, ports.engine, ports.config_key) == ("detect", "lambda", f"{OVERRIDES}[0].rules.restricted-admin-ports")
    assert (flows.mode, flows.params["trafficType"], flows.params["logGroupName"]) == ("auto", "REJECT", "/ou2/flows")
    assert flows.param_key("logGroupName") == f"{OVERRIDES}[0].rules.vpc-flow-logs.params.logGroupName"
    assert flows.param_key("trafficType") == "governance:rules.vpc-flow-logs.params.trafficType"


def test_an_override_merges_as_an_account_override_does() -> None:
    rules = {"restricted-admin-ports": {"mode": "manual", "engine": "ssm"}, "vpc-flow-logs": {"params": {"trafficType": "ALL"}}}
    organization = organization_of(stack({"overrides": [override([OU_2], rules)]}, accounts=[{"id": MANAGEMENT, "rules": rules}]))
    account = load_settings(stack({"overrides": [override([OU_2], rules)]}, accounts=[{"id": MANAGEMENT, "rules": rules}])).accounts[0]
    profile = organization.profiles[1]
    assert [(rule.key, rule.mode, rule.engine, dict(rule.params)) for rule in profile.rules] == [
        (rule.key, rule.mode, rule.engine, dict(rule.params)) for rule in account.rules
    ]


def test_an_override_can_turn_a_rule_off_or_on_for_its_targets() -> None:
    raw = stack({"overrides": [override([OU_2], {"vpc-flow-logs": {"mode": "off"}, "s3-bucket-versioning": {}})]})
    base, ou_2 = organization_of(raw).profiles
    assert list(rules_by_key(base)) == ["restricted-admin-ports", "vpc-flow-logs"]
    assert sorted(rules_by_key(ou_2)) == ["restricted-admin-ports", "s3-bucket-versioning"]
    assert rules_by_key(ou_2)["s3-bucket-versioning"].mode == "manual"


def test_an_override_of_every_target_leaves_no_base_profile() -> None:
    raw = stack({"overrides": [override([OU_2, OU_1], {"restricted-admin-ports": {"mode": "manual"}})]})
    (only,) = organization_of(raw).profiles
    assert (only.name, only.targets) == (OU_2, (OU_2, OU_1))
    assert rules_by_key(only)["restricted-admin-ports"].mode == "manual"


def test_a_profile_keeps_its_name_when_overrides_are_reordered_or_given_more_targets() -> None:
    first = override([OU_3], {"vpc-flow-logs": {"mode": "off"}})
    second = {"name": "sandbox", **override([OU_1], {"restricted-admin-ports": {"mode": "detect"}})}
    targets = [OU_1, OU_2, OU_3, "ou-ab12-44444444"]
    before = organization_of(stack({"targets": targets, "overrides": [first, second]}))
    grown = {**first, "targets": [OU_3, OU_2]}
    after = organization_of(stack({"targets": targets, "overrides": [second, grown]}))
    assert sorted(profile.name for profile in before.profiles) == sorted(profile.name for profile in after.profiles) == sorted(["base", OU_3, "sandbox"])
    assert {profile.name: profile.rules_key for profile in after.profiles} == {
        "base": "governance:rules",
        "sandbox": f"{OVERRIDES}[0].rules",
        OU_3: f"{OVERRIDES}[1].rules",
    }
    assert [(written.name, written.targets) for written in after.overrides] == [("sandbox", (OU_1,)), (OU_3, (OU_3, OU_2))]


def test_every_target_is_in_exactly_one_profile_in_the_order_base_then_overrides() -> None:
    raw = stack({
        "targets": [OU_1, OU_2, OU_3, "ou-ab12-44444444"],
        "overrides": [override([OU_3], {"vpc-flow-logs": {"mode": "off"}}), override([OU_1], {"restricted-admin-ports": {"mode": "detect"}})],
    })
    organization = organization_of(raw)
    assert [(profile.name, profile.targets) for profile in organization.profiles] == [
        ("base", (OU_2, "ou-ab12-44444444")),
        (OU_3, (OU_3,)),
        (OU_1, (OU_1,)),
    ]
    placed = [target for profile in organization.profiles for target in profile.targets]
    assert sorted(placed) == sorted(organization.targets)
    assert [written.targets for written in organization.overrides] == [(OU_3,), (OU_1,)]


def test_a_root_target_has_one_base_profile() -> None:
    (base,) = organization_of(stack({"targets": [ROOT]})).profiles
    assert (base.name, base.targets) == ("base", (ROOT,))


def test_a_protected_rule_may_stay_auto_from_the_stacks_rules_when_an_override_only_sets_its_params() -> None:
    # governance:rules itself is checked by the policy pack; the override does not make the rule auto.
    raw = stack({"overrides": [override([OU_2], {"restricted-admin-ports": {"params": {"ports": [22]}}})]}, protectedRules=["restricted-admin-ports"])
    settings: Settings = load_settings(raw)
    assert settings.organization is not None
    assert rules_by_key(settings.organization.profiles[1])["restricted-admin-ports"].mode == "auto"


def test_an_invalid_organization_stops_the_program_before_anything_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    from governance.mock_program import RecordingMocks, run_program

    recorded: list[Any] = []
    original = RecordingMocks.new_resource

    def recording_new_resource(self: RecordingMocks, args: Any) -> Any:
        recorded.append(args)
        return original(self, args)

    monkeypatch.setattr(RecordingMocks, "new_resource", recording_new_resource)
    raw = stack(
        {"targets": [ROOT], "overrides": [override([OU_1], {"restricted-admin-ports": {"mode": "detect"}})]},
        accounts=[{"id": MANAGEMENT}],
    )
    with pytest.raises(pulumi.RunError) as raised:
        run_program({f"governance:{key}": value for key, value in raw.items()})
    assert f"{OVERRIDES}[0].targets[0] cannot override the root {ROOT}" in str(raised.value)
    assert recorded == []


def test_an_unknown_top_level_key_lists_organization_among_the_allowed_ones() -> None:
    problem = only_problem(stack(organisation={"adminAccountId": ADMIN}))
    assert problem.startswith("governance:organisation is not a setting of this program; allowed: ")
    assert "organization" in problem.split("allowed: ")[1].split(", ")
