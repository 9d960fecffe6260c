"""Every resource the program declares, created in the emulator the way the provider would create it.

The program runs under Pulumi mocks (the example stacks and worst-case configs that the settings
accept); each registered resource is translated to the boto3 requests the AWS provider makes for it
and sent to moto (in-process ``mock_aws``), in registration order, one moto account per stack account.
Mock ARNs and ids that one resource takes from another are swapped for the emulator's real ones.

Two validators judge every request:

- botocore's service model, in full: types and required members (what boto3 checks itself) plus the
  maximum lengths, patterns, enums and ranges that boto3 does not check but AWS does (names, ids,
  descriptions, retry settings);
- moto's own validators: managed Config rule identifiers and their parameter names (unknown or missing
  required parameters), IAM policy and trust-policy grammar, tag limits, event-pattern structure, SQS
  queue names, Lambda's role (it must exist in the same account), log group names.

The tests at the end feed one known-bad value to each validator and see the replay refuse it, so a
validator that stops working fails a test instead of passing everything.

What neither validates, so the program's limits table (``governance/limits.py``) and its tests carry it:

- ``PutRemediationConfigurations``: moto does not implement it; only the service model checks the
  request, and that the rule it names was created. Runbook parameter names are not checked against the
  SSM documents (moto has none of the AWS-owned runbooks).
- Config ``InputParameters`` value types and the 1,024-character limit; moto checks names only.
- Event patterns: moto checks JSON structure, not EventBridge's 2,048-character default quota, the
  semantics of operators such as ``prefix``, or that a pattern can match anything.
- Queue policies: moto stores ``Policy`` unparsed; a malformed one would pass. The replay parses it as
  JSON and checks its principal and resource itself.
- IAM trust policies: moto checks their grammar only in ``UpdateAssumeRolePolicy``, so the replay runs that
  same validator on ``CreateRole``'s document; it accepts a trust statement without a principal.
- Lambda: function names over 64 characters (the model allows 140 because it also takes ARNs), memory
  over 10,240 MB (the model allows 32,768), the 4 KB environment limit, the runtime's name and the zip's
  size; log group retention values (any integer passes).
- Dashboards: moto stores the body unparsed; its structure is tested with the operations data.
- Alarms: moto does not check that metric math names its metrics or that the period suits the metric.
- Names the provider generates (role-policy names, target and statement ids) are modelled on its
  scheme (logical name plus a random suffix, ``terraform-`` ids), not taken from it.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import validate_parameters
from moto import mock_aws
from moto.iam.exceptions import MalformedPolicyDocument
from moto.iam.policy_validation import IAMTrustPolicyDocumentValidator

from governance.catalog import CATALOG
from governance.mock_program import ProgramRun, Registered, run_program, stack_config
from tests.safety.figures import record as record_figure
from tests.worst_case import (
    FITTING_LAMBDA_LOG_GROUP,
    LONGEST_TAG,
    as_stack_config,
    fitting_lambda_rules,
    named_worst_case_configs,
    trimmed,
)
from tests.worst_case import accounts as worst_case_accounts

PROVIDER = "pulumi:providers:aws"
KMS_KEY_REGION = "ap-southeast-1"
"""Region of the KMS key the worst-case lambda-engine params name (S3 takes keys of the bucket's region only)."""
MOCK_ACCOUNT = "mock:000000000000"
"""What the mocks put in every ARN they synthesise (see ``RecordingMocks``); none may reach AWS."""


class ReplayRefused(Exception):
    """AWS (the emulator or the service model) would refuse a request the program's resources imply."""


# --- the service model: what boto3 leaves unchecked ---------------------------------------------------


def _pattern_matches(pattern: str, value: str) -> bool:
    try:
        compiled = re.compile(pattern)
    except re.error:
        return True  # a Java-only construct; moto or the limits table covers that member
    return compiled.fullmatch(value) is not None


def model_problems(shape: Shape, value: Any, path: str) -> Iterator[str]:
    """Lengths, patterns, enums and ranges of ``value`` that ``shape`` does not allow."""
    metadata = shape.metadata
    if isinstance(shape, StructureShape):
        for name, member in value.items():
            yield from model_problems(shape.members[name], member, f"{path}.{name}")
        return
    if isinstance(shape, ListShape | MapShape) or shape.type_name == "string":
        size = len(value)
        if "min" in metadata and size < metadata["min"]:
            yield f"{path} has length {size}, under {metadata['min']}"
        if "max" in metadata and size > metadata["max"]:
            yield f"{path} has length {size}, over {metadata['max']}"
    if isinstance(shape, ListShape):
        for index, item in enumerate(value):
            yield from model_problems(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            yield from model_problems(shape.key, key, f"{path} key")
            yield from model_problems(shape.value, item, f"{path}.{key}")
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            yield f"{path} is {value!r}, not one of {shape.enum}"
        if "pattern" in metadata and not _pattern_matches(metadata["pattern"], value):
            yield f"{path} {value[:80]!r} does not match {metadata['pattern']}"
    elif shape.type_name in ("integer", "long"):
        if "min" in metadata and value < metadata["min"]:
            yield f"{path} is {value}, under {metadata['min']}"
        if "max" in metadata and value > metadata["max"]:
            yield f"{path} is {value}, over {metadata['max']}"


def check_against_model(client: Any, operation: str, params: dict[str, Any]) -> None:
    """Refuse ``params`` the way AWS would for anything its API model declares."""
    input_shape = client.meta.service_model.operation_model(operation).input_shape
    try:
        validate_parameters(params, input_shape)
    except botocore.exceptions.ParamValidationError as error:
        raise ReplayRefused(f"{operation}: {error}") from error
    problems = list(model_problems(input_shape, params, operation))
    if problems:
        raise ReplayRefused("; ".join(problems))


# --- the replay ---------------------------------------------------------------------------------------


@dataclass
class Replay:
    """Sends one program run's resources to the emulator, one boto3 session per account."""

    run: ProgramRun
    sessions: dict[str, boto3.Session] = field(default_factory=dict)
    real: dict[str, str] = field(default_factory=dict)
    """Mock ARN or id -> what the emulator returned for it."""
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    config_rules: set[tuple[str, str, str]] = field(default_factory=set)
    """(account, region, rule name) created so far."""
    _ids: int = 0

    def client(self, service: str, account: str, region: str) -> Any:
        """A client acting in ``account`` (moto maps assumed-role keys to the role's account)."""
        if account not in self.sessions:
            sts = boto3.client("sts", region_name="us-east-1")
            credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/replay", RoleSessionName="replay")["Credentials"]
            self.sessions[account] = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        return self.sessions[account].client(service, region_name=region)

    def call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """Check ``params`` against the model, then send them; any refusal becomes ``ReplayRefused``."""
        flat = json.dumps(params, default=str)
        assert MOCK_ACCOUNT not in flat, f"{operation} would send an unresolved mock value: {flat[:300]}"
        check_against_model(client, operation, params)
        self.requests.append((client.meta.service_model.service_name, operation, params))
        method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
        try:
            response: dict[str, Any] = method(**params)
        except botocore.exceptions.ClientError as error:
            raise ReplayRefused(f"{operation}: {error}") from error
        return response

    def generated_id(self) -> str:
        """An id in the provider's generated form (``terraform-`` and 26 digits)."""
        self._ids += 1
        return f"terraform-{self._ids:026d}"

    def resolve(self, value: Any) -> Any:
        """``value`` with every mock ARN and id another resource produced swapped for the real one."""
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, float) and value.is_integer():
            return int(value)  # the wire carries every number as a double; the provider sends integers as such
        if isinstance(value, str):
            for mock in sorted(self.real, key=len, reverse=True):
                if mock in value:
                    value = value.replace(mock, self.real[mock])
        return value

    def produced(self, resource: Registered, arn: str | None, resource_id: str) -> None:
        """Remember what the emulator made of ``resource`` so later references resolve to it."""
        if arn is not None:
            self.real[resource.state["arn"]] = arn
        self.real[f"{resource.name}-id"] = resource_id

    def replay_all(self) -> None:
        """Create every resource in registration order (inputs resolve before a resource registers)."""
        providers = {resource.name: resource for resource in self.run.of_type(PROVIDER)}
        for resource in self.run.resources:
            if not resource.custom or resource.type == PROVIDER:
                continue
            provider = providers[resource.provider.split("::")[-2]]
            account = json.loads(provider.inputs["allowedAccountIds"])[0]
            tags = json.loads(provider.inputs.get("defaultTags", "{}")).get("tags", {})
            region = resource.inputs.get("region") or provider.inputs["region"]
            inputs = self.resolve(resource.inputs)
            create = CREATORS.get(resource.type)
            assert create is not None, f"the replay does not know how the provider creates {resource.type}"
            create(self, resource, inputs, Target(account, region, {**tags, **inputs.get("tags", {})}))


@dataclass(frozen=True)
class Target:
    """Where a resource goes and the tags the provider adds (its default tags, then the resource's own)."""

    account: str
    region: str
    tags: dict[str, str]

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        """The tags as AWS's list-of-pairs form."""
        return [{key: name, value: text} for name, text in sorted(self.tags.items())]


def _role(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    iam = replay.client("iam", target.account, target.region)
    params: dict[str, Any] = {
        "RoleName": inputs["name"],
        "AssumeRolePolicyDocument": inputs["assumeRolePolicy"],
        "Tags": target.tag_list(),
    }
    if inputs.get("description"):
        params["Description"] = inputs["description"]
    # moto checks trust-policy grammar only in UpdateAssumeRolePolicy; AWS checks it in CreateRole too.
    try:
        IAMTrustPolicyDocumentValidator(inputs["assumeRolePolicy"]).validate()
    except MalformedPolicyDocument as error:
        raise ReplayRefused(f"CreateRole: {error}") from error
    role = replay.call(iam, "CreateRole", **params)["Role"]
    replay.produced(resource, role["Arn"], role["RoleName"])


def _role_policy(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    iam = replay.client("iam", target.account, target.region)
    # The provider names an unnamed policy from its logical name and a 7-character random suffix.
    name = inputs.get("name") or f"{resource.name}-a1b2c3d"
    replay.call(iam, "PutRolePolicy", RoleName=inputs["role"], PolicyName=name, PolicyDocument=inputs["policy"])
    replay.produced(resource, None, f"{inputs['role']}:{name}")


def _config_rule(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    config = replay.client("config", target.account, target.region)
    rule: dict[str, Any] = {
        "ConfigRuleName": inputs["name"],
        "Source": {"Owner": inputs["source"]["owner"], "SourceIdentifier": inputs["source"]["sourceIdentifier"]},
    }
    if inputs.get("description"):
        rule["Description"] = inputs["description"]
    if inputs.get("scope"):
        rule["Scope"] = {"ComplianceResourceTypes": inputs["scope"]["complianceResourceTypes"]}
    if inputs.get("inputParameters"):
        rule["InputParameters"] = inputs["inputParameters"]
    replay.call(config, "PutConfigRule", ConfigRule=rule, Tags=target.tag_list())
    described = config.describe_config_rules(ConfigRuleNames=[inputs["name"]])["ConfigRules"][0]
    replay.config_rules.add((target.account, target.region, inputs["name"]))
    replay.produced(resource, described["ConfigRuleArn"], inputs["name"])


def _remediation(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    config = replay.client("config", target.account, target.region)
    parameters: dict[str, Any] = {}
    for parameter in inputs["parameters"]:
        if "resourceValue" in parameter:
            parameters[parameter["name"]] = {"ResourceValue": {"Value": parameter["resourceValue"]}}
        else:
            parameters[parameter["name"]] = {"StaticValue": {"Values": [parameter["staticValue"]]}}
    controls = inputs["executionControls"]["ssmControls"]
    request: dict[str, Any] = {
        "ConfigRuleName": inputs["configRuleName"],
        "TargetType": inputs["targetType"],
        "TargetId": inputs["targetId"],
        "Parameters": parameters,
        "Automatic": inputs["automatic"],
        "MaximumAutomaticAttempts": inputs["maximumAutomaticAttempts"],
        "RetryAttemptSeconds": inputs["retryAttemptSeconds"],
        "ExecutionControls": {
            "SsmControls": {
                "ConcurrentExecutionRatePercentage": controls["concurrentExecutionRatePercentage"],
                "ErrorPercentage": controls["errorPercentage"],
            }
        },
    }
    if inputs.get("resourceType"):
        request["ResourceType"] = inputs["resourceType"]
    if inputs.get("targetVersion"):
        request["TargetVersion"] = inputs["targetVersion"]
    # moto does not implement PutRemediationConfigurations: the model and the rule's existence are the check.
    check_against_model(config, "PutRemediationConfigurations", {"RemediationConfigurations": [request]})
    if (target.account, target.region, inputs["configRuleName"]) not in replay.config_rules:
        raise ReplayRefused(f"PutRemediationConfigurations: no Config rule {inputs['configRuleName']} in {target.region}")
    replay.requests.append(("config", "PutRemediationConfigurations", {"RemediationConfigurations": [request]}))
    replay.produced(resource, None, inputs["configRuleName"])


def _log_group(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    logs = replay.client("logs", target.account, target.region)
    replay.call(logs, "CreateLogGroup", logGroupName=inputs["name"], tags=target.tags)
    if inputs.get("retentionInDays"):
        replay.call(logs, "PutRetentionPolicy", logGroupName=inputs["name"], retentionInDays=inputs["retentionInDays"])
    arn = f"arn:aws:logs:{target.region}:{target.account}:log-group:{inputs['name']}"
    replay.produced(resource, arn, inputs["name"])


def _event_rule(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    events = replay.client("events", target.account, target.region)
    params: dict[str, Any] = {"Name": inputs["name"], "EventPattern": inputs["eventPattern"], "State": "ENABLED", "Tags": target.tag_list()}
    if inputs.get("description"):
        params["Description"] = inputs["description"]
    arn = replay.call(events, "PutRule", **params)["RuleArn"]
    replay.produced(resource, arn, inputs["name"])


def _event_target(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    events = replay.client("events", target.account, target.region)
    entry: dict[str, Any] = {"Id": inputs.get("targetId") or replay.generated_id(), "Arn": inputs["arn"]}
    if inputs.get("retryPolicy"):
        entry["RetryPolicy"] = {
            "MaximumRetryAttempts": inputs["retryPolicy"]["maximumRetryAttempts"],
            "MaximumEventAgeInSeconds": inputs["retryPolicy"]["maximumEventAgeInSeconds"],
        }
    if inputs.get("deadLetterConfig"):
        entry["DeadLetterConfig"] = {"Arn": inputs["deadLetterConfig"]["arn"]}
    if inputs.get("inputTransformer"):
        entry["InputTransformer"] = {
            "InputPathsMap": inputs["inputTransformer"]["inputPaths"],
            "InputTemplate": inputs["inputTransformer"]["inputTemplate"],
        }
    response = replay.call(events, "PutTargets", Rule=inputs["rule"], Targets=[entry])
    if response.get("FailedEntryCount"):
        raise ReplayRefused(f"PutTargets: {response['FailedEntries']}")
    replay.produced(resource, None, f"{inputs['rule']}-{entry['Id']}")


def _queue(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    sqs = replay.client("sqs", target.account, target.region)
    policy = json.loads(inputs["policy"])  # moto stores Policy unparsed: check what it would not
    queue_arn = f"arn:aws:sqs:{target.region}:{target.account}:{inputs['name']}"
    for statement in policy["Statement"]:
        if statement["Resource"] != queue_arn or "Principal" not in statement:
            raise ReplayRefused(f"SetQueueAttributes: queue policy statement {statement.get('Sid')} is not about this queue")
    attributes = {
        "MessageRetentionPeriod": str(inputs["messageRetentionSeconds"]),
        "SqsManagedSseEnabled": str(inputs["sqsManagedSseEnabled"]).lower(),
        "Policy": inputs["policy"],
    }
    url = replay.call(sqs, "CreateQueue", QueueName=inputs["name"], Attributes=attributes, tags=target.tags)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    replay.produced(resource, arn, url)


def _zip(archive: Any) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path, asset in sorted(archive.assets.items()):
            bundle.write(asset.path, path)
    return buffer.getvalue()


def _function(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    lambda_ = replay.client("lambda", target.account, target.region)
    function = replay.call(
        lambda_,
        "CreateFunction",
        FunctionName=inputs["name"],
        Role=inputs["role"],
        Runtime=inputs["runtime"],
        Handler=inputs["handler"],
        Code={"ZipFile": _zip(resource.inputs["code"])},
        Description=inputs.get("description", ""),
        Timeout=inputs["timeout"],
        MemorySize=inputs["memorySize"],
        Environment={"Variables": inputs["environment"]["variables"]},
        Tags=target.tags,
    )
    replay.produced(resource, function["FunctionArn"], inputs["name"])


def _permission(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    lambda_ = replay.client("lambda", target.account, target.region)
    statement_id = inputs.get("statementId") or replay.generated_id()
    replay.call(
        lambda_,
        "AddPermission",
        FunctionName=inputs["function"],
        StatementId=statement_id,
        Action=inputs["action"],
        Principal=inputs["principal"],
        SourceArn=inputs["sourceArn"],
    )
    replay.produced(resource, None, statement_id)


def _invoke_config(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    lambda_ = replay.client("lambda", target.account, target.region)
    replay.call(
        lambda_,
        "PutFunctionEventInvokeConfig",
        FunctionName=inputs["functionName"],
        MaximumRetryAttempts=inputs["maximumRetryAttempts"],
        MaximumEventAgeInSeconds=inputs["maximumEventAgeInSeconds"],
        DestinationConfig={"OnFailure": {"Destination": inputs["destinationConfig"]["onFailure"]["destination"]}},
    )
    replay.produced(resource, None, inputs["functionName"])


def _topic(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    sns = replay.client("sns", target.account, target.region)
    attributes = {"Policy": inputs["policy"], "DisplayName": inputs["displayName"]}
    arn = replay.call(sns, "CreateTopic", Name=inputs["name"], Attributes=attributes, Tags=target.tag_list())["TopicArn"]
    replay.produced(resource, arn, arn)


def _subscription(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    sns = replay.client("sns", target.account, target.region)
    response = replay.call(sns, "Subscribe", TopicArn=inputs["topic"], Protocol=inputs["protocol"], Endpoint=inputs["endpoint"], ReturnSubscriptionArn=True)
    replay.produced(resource, None, response["SubscriptionArn"])


def _alarm_metric(metric: dict[str, Any]) -> dict[str, Any]:
    dimensions = [{"Name": name, "Value": value} for name, value in sorted(metric.get("dimensions", {}).items())]
    return {"Namespace": metric["namespace"], "MetricName": metric["metricName"], "Dimensions": dimensions}


def _alarm(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    cloudwatch = replay.client("cloudwatch", target.account, target.region)
    params: dict[str, Any] = {
        "AlarmName": inputs["name"],
        "AlarmDescription": inputs["alarmDescription"],
        "ComparisonOperator": inputs["comparisonOperator"],
        "Threshold": float(inputs["threshold"]),
        "EvaluationPeriods": inputs["evaluationPeriods"],
        "TreatMissingData": inputs["treatMissingData"],
        "AlarmActions": inputs["alarmActions"],
        "OKActions": inputs["okActions"],
        "Tags": target.tag_list(),
    }
    if inputs.get("metricQueries"):
        params["Metrics"] = [
            {"Id": query["id"], "ReturnData": query["returnData"], "Expression": query["expression"], "Label": query["label"]}
            if query.get("expression")
            else {
                "Id": query["id"],
                "ReturnData": query["returnData"],
                "MetricStat": {"Metric": _alarm_metric(query["metric"]), "Period": query["metric"]["period"], "Stat": query["metric"]["stat"]},
            }
            for query in inputs["metricQueries"]
        ]
    else:
        params.update(_alarm_metric(inputs))
        params.update(Statistic=inputs["statistic"], Period=inputs["period"])
    replay.call(cloudwatch, "PutMetricAlarm", **params)
    arn = f"arn:aws:cloudwatch:{target.region}:{target.account}:alarm:{inputs['name']}"
    replay.produced(resource, arn, inputs["name"])


def _dashboard(replay: Replay, resource: Registered, inputs: dict[str, Any], target: Target) -> None:
    cloudwatch = replay.client("cloudwatch", target.account, target.region)
    response = replay.call(cloudwatch, "PutDashboard", DashboardName=inputs["dashboardName"], DashboardBody=inputs["dashboardBody"])
    if response.get("DashboardValidationMessages"):
        raise ReplayRefused(f"PutDashboard: {response['DashboardValidationMessages']}")
    replay.produced(resource, None, inputs["dashboardName"])


CREATORS: dict[str, Callable[[Replay, Registered, dict[str, Any], Target], None]] = {
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:cfg/rule:Rule": _config_rule,
    "aws:cfg/remediationConfiguration:RemediationConfiguration": _remediation,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:sqs/queue:Queue": _queue,
    "aws:lambda/function:Function": _function,
    "aws:lambda/permission:Permission": _permission,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _invoke_config,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
}
"""How the provider creates each resource type the program declares (create calls only)."""


def replay(run: ProgramRun) -> Replay:
    """Create all of ``run``'s resources in a fresh emulator; raises ``ReplayRefused`` at the first refusal."""
    with mock_aws():
        replayed = Replay(run)
        replayed.replay_all()
    return replayed


# --- the stacks ---------------------------------------------------------------------------------------


LAMBDA_WORST_CASE = "lambda engine everywhere, the largest Lambda configuration that fits, in the KMS key's region"


def lambda_worst_case() -> dict[str, Any]:
    """Every rule on the lambda engine, with the longest tag and as large a configuration as the Lambda's 4 KB
    environment holds with all of them, in one region: the longest tag and the default rule-name prefix take
    30 bytes more than the worst case's, so its flow-log group name is 30 characters shorter."""
    return {
        "exemptionTag": LONGEST_TAG,
        "securityHubUpdates": True,
        "protectedRules": sorted(CATALOG)[:3],
        "regions": [KMS_KEY_REGION],
        "accounts": worst_case_accounts(2),
        "rules": fitting_lambda_rules(FITTING_LAMBDA_LOG_GROUP - 30),
    }


def worst_cases() -> dict[str, dict[str, Any]]:
    """Worst-case configs trimmed to two accounts (the extremes stay), plus one that always takes the lambda engine."""
    configs = {name: as_stack_config(trimmed(raw)) for name, raw in named_worst_case_configs().items()}
    configs[LAMBDA_WORST_CASE] = as_stack_config(lambda_worst_case())
    return configs


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(stack_config("dev"))


@pytest.mark.usefixtures("aws_credentials")
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_example_stacks_deploy_in_the_emulator(stack: str) -> None:
    run = run_program(stack_config(stack), stack=stack)
    replayed = replay(run)
    created = [resource for resource in run.resources if resource.custom and resource.type != PROVIDER]
    assert len(replayed.real) >= len(created) > 0
    operations = {operation for _service, operation, _params in replayed.requests}
    assert {"CreateRole", "PutRolePolicy", "PutConfigRule", "PutRemediationConfigurations", "CreateLogGroup", "PutRule",
            "PutTargets", "CreateQueue", "CreateFunction", "AddPermission", "PutFunctionEventInvokeConfig"} <= operations
    record_figure("replay", "stacks replayed", 1)
    record_figure("replay", "resources replayed", len(created))
    record_figure("replay", "requests checked", len(replayed.requests))


@pytest.mark.usefixtures("aws_credentials")
@pytest.mark.parametrize("name", sorted([*named_worst_case_configs(), LAMBDA_WORST_CASE]))
def test_worst_case_stacks_deploy_in_the_emulator_when_the_program_accepts_them(name: str) -> None:
    try:
        run = run_program(worst_cases()[name])
    except Exception as error:  # the program refused the config before registering anything: nothing to deploy
        assert "Invalid stack config" in str(error), error
        assert name != LAMBDA_WORST_CASE, error  # this one must stay deployable, so the lambda path is always replayed
        pytest.skip(f"the program rejects this config: {str(error)[:200]}")
    replayed = replay(run)
    record_figure("replay", "stacks replayed", 1)
    record_figure("replay", "resources replayed", len([resource for resource in run.resources if resource.custom and resource.type != PROVIDER]))
    record_figure("replay", "requests checked", len(replayed.requests))


# --- the replay refuses what AWS refuses ----------------------------------------------------------------


MUTATED_ACCOUNT = "111111111111"
"""The dev stack's account whose resources the bad-value tests change (registration order varies)."""


def mutated(run: ProgramRun, type_token: str, change: Callable[[dict[str, Any]], None]) -> ProgramRun:
    """A copy of ``run`` with one resource of ``type_token`` in ``MUTATED_ACCOUNT`` changed by ``change``."""
    resources = [copy.copy(resource) for resource in run.resources]
    victim = next(resource for resource in resources if resource.type == type_token and f"-{MUTATED_ACCOUNT}-" in f"{resource.name}-")
    victim.inputs = copy.deepcopy(victim.inputs)
    change(victim.inputs)
    return ProgramRun(resources=resources, outputs=run.outputs)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.__setitem__(key, value)


def _json_edit(key: str, edit: Callable[[Any], None]) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs[key])
        edit(document)
        inputs[key] = json.dumps(document)

    return change


def _renamed_queue(name: str) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        policy = json.loads(inputs["policy"])
        for statement in policy["Statement"]:
            statement["Resource"] = statement["Resource"].rsplit(":", 1)[0] + f":{name}"
        inputs.update(name=name, policy=json.dumps(policy))

    return change


BAD_VALUES: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "unknown managed rule": (
        "aws:cfg/rule:Rule", _set("source", {"owner": "AWS", "sourceIdentifier": "S3_BUCKET_MADE_UP_RULE"}), "sourceIdentifier"),
    "unknown rule parameter": (
        "aws:cfg/rule:Rule", _set("inputParameters", json.dumps({"notAParameter": "1"})), "Unknown parameters"),
    "rule name over 128": ("aws:cfg/rule:Rule", _set("name", "r" * 129), "128"),
    "malformed role policy": (
        "aws:iam/rolePolicy:RolePolicy", _json_edit("policy", lambda d: d["Statement"][0].__setitem__("Effect", "Permit")), "MalformedPolicyDocument"),
    "policy without version grammar": (
        "aws:iam/rolePolicy:RolePolicy", _json_edit("policy", lambda d: d.__setitem__("Version", "2099-01-01")), "MalformedPolicyDocument"),
    "malformed trust policy": (
        "aws:iam/role:Role", _json_edit("assumeRolePolicy", lambda d: d["Statement"][0].__setitem__("Resource", "*")), "prohibited field"),
    "role name over 64": ("aws:iam/role:Role", _set("name", "r" * 65), "64"),
    "event pattern with a scalar": (
        "aws:cloudwatch/eventRule:EventRule", _json_edit("eventPattern", lambda d: d.__setitem__("source", "aws.config")), "InvalidEventPattern"),
    "event pattern with an empty list": (
        "aws:cloudwatch/eventRule:EventRule", _json_edit("eventPattern", lambda d: d.__setitem__("account", [])), "InvalidEventPattern"),
    "event rule name over 64": ("aws:cloudwatch/eventRule:EventRule", _set("name", "e" * 65), "64"),
    "event rule name with a slash": ("aws:cloudwatch/eventRule:EventRule", _set("name", "governance/remediation"), "does not match"),
    "event retry attempts over 185": (
        "aws:cloudwatch/eventTarget:EventTarget",
        _set("retryPolicy", {"maximumRetryAttempts": 186, "maximumEventAgeInSeconds": 86400}), "over 185"),
    "queue name over 80": ("aws:sqs/queue:Queue", _renamed_queue("q" * 81), "1 to 80 in length"),
    "queue policy about another queue": (
        "aws:sqs/queue:Queue", _json_edit("policy", lambda d: d["Statement"][0].__setitem__("Resource", "arn:aws:sqs:us-east-1:1:x")), "not about this queue"),
    "function name with a space": ("aws:lambda/function:Function", _set("name", "governance remediation"), "does not match"),
    "function without its role": (
        "aws:lambda/function:Function", _set("role", f"arn:aws:iam::{MUTATED_ACCOUNT}:role/missing"), "cannot be assumed"),
    "function memory over the model's 32768": ("aws:lambda/function:Function", _set("memorySize", 32769), "over 32768"),
    "log group name over 512": ("aws:cloudwatch/logGroup:LogGroup", _set("name", "/" + "l" * 512), "512"),
    "lambda retries over 2": (
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", _set("maximumRetryAttempts", 3), "over 2"),
    "remediation attempts over 25": (
        "aws:cfg/remediationConfiguration:RemediationConfiguration", _set("maximumAutomaticAttempts", 26), "over 25"),
    "remediation for a rule that does not exist": (
        "aws:cfg/remediationConfiguration:RemediationConfiguration", _set("configRuleName", "governance-no-such-rule"), "no Config rule"),
}
"""One known-bad value per validator the replay relies on, and a fragment of the refusal it must cause."""


@pytest.mark.usefixtures("aws_credentials")
@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_the_replay_refuses_what_aws_refuses(dev: ProgramRun, case: str) -> None:
    type_token, change, refusal = BAD_VALUES[case]
    with pytest.raises(ReplayRefused, match=re.escape(refusal)):
        replay(mutated(dev, type_token, change))
    record_figure("replay", "known-bad values refused", 1)


@pytest.mark.usefixtures("aws_credentials")
def test_the_replay_refuses_an_unresolved_reference(dev: ProgramRun) -> None:
    # A reference to a resource the replay has not created yet must not slip through as a mock ARN.
    queue = next(resource for resource in dev.resources if resource.type == "aws:sqs/queue:Queue")
    reordered = [resource for resource in dev.resources if resource is not queue] + [queue]
    with pytest.raises(AssertionError, match="unresolved mock value"):
        replay(ProgramRun(resources=reordered, outputs=dev.outputs))
