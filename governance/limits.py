"""Every AWS and provider limit that a value the program emits must respect, in one table.

The plan checks each value it emits against this table before any resource is registered (see
``governance.plan.limit_problems``), so a stack config that would fail in the middle of ``pulumi up``
is rejected up front with one sentence naming its key. Each entry cites where the limit comes from;
``botocore`` means the service model shipped with botocore (``min``/``max``/``pattern`` of the shape),
which is what the AWS API validates. Entries whose figure this project could not confirm say
``verified=False`` and explain in ``source`` (UNVERIFIED).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Unit = Literal["characters", "bytes"]


@dataclass(frozen=True)
class Limit:
    """One limit on one kind of emitted value."""

    what: str
    """The value, as a user reads it in an error ("a Lambda function name")."""
    maximum: int
    minimum: int = 1
    unit: Unit = "characters"
    """``bytes`` are counted in UTF-8."""
    allowed: re.Pattern[str] | None = None
    """Characters allowed (matched in full), when AWS restricts them."""
    allowed_text: str = ""
    """The same restriction for people."""
    source: str = ""
    """Where the limit comes from (documentation page, service model or provider source)."""
    verified: bool = True


def _ascii(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


CONFIG_RULE_NAME = Limit(
    "a Config rule name", 128, allowed=_ascii(r".*\S.*"), allowed_text="not only spaces",
    source="botocore config ConfigRuleName (min 1, max 128, pattern .*\\S.*)",
)
REMEDIATION_RULE_NAME = Limit(
    "the Config rule name of a remediation configuration", 64,
    source="pulumi-aws aws.cfg.RemediationConfiguration config_rule_name: the Terraform provider validates "
    "1-64 characters (aws-facts section 9), though Config itself allows 128",
)
CONFIG_RULE_INPUT_PARAMETERS = Limit(
    "a Config rule's InputParameters", 1024,
    source="botocore config ConfigRule.InputParameters (StringWithCharLimit1024); the provider does not check it",
)
CONFIG_RULE_DESCRIPTION = Limit(
    "a Config rule description", 256, minimum=0, source="botocore config ConfigRule.Description (EmptiableStringWithCharLimit256)",
)
REMEDIATION_STATIC_VALUE = Limit(
    "a remediation parameter's static value", 256,
    source="botocore config StaticValue.Values member (StringWithCharLimit256)",
)
REMEDIATION_PARAMETER_NAME = Limit(
    "a remediation parameter name", 256, source="botocore config RemediationParameters key (StringWithCharLimit256)",
)
REMEDIATION_TARGET_ID = Limit(
    "a remediation's SSM document name", 256, source="botocore config RemediationConfiguration.TargetId (StringWithCharLimit256)",
)
LAMBDA_FUNCTION_NAME = Limit(
    "a Lambda function name", 64, allowed=_ascii(r"[a-zA-Z0-9_-]+"), allowed_text="letters, digits, hyphens and underscores",
    source="Lambda CreateFunction FunctionName: 'If you specify only the function name, it is limited to 64 characters' "
    "(API reference); charset from botocore lambda FunctionName pattern",
)
LAMBDA_ENVIRONMENT = Limit(
    "the Lambda environment (all variables together, as JSON)", 4096, minimum=0, unit="bytes",
    source="Lambda quotas page: 'Function environment variables: 4 KB, for all environment variables associated with "
    "the function, in aggregate'. UNVERIFIED: that Lambda counts the variables map serialised as JSON, escapes "
    "included; of the readings of 'in aggregate' it is the strictest, so a config it accepts fits under the others",
    verified=False,
)
LAMBDA_ENVIRONMENT_VARIABLE_NAME = Limit(
    "a Lambda environment variable name", 4096, allowed=_ascii(r"[a-zA-Z][a-zA-Z0-9_]+"),
    allowed_text="a letter, then letters, digits and underscores", source="botocore lambda EnvironmentVariableName pattern",
)
LAMBDA_DESCRIPTION = Limit("a Lambda function description", 256, minimum=0, source="botocore lambda Description (max 256)")
IAM_ROLE_NAME = Limit(
    "an IAM role name", 64, allowed=_ascii(r"[\w+=,.@-]+"), allowed_text="letters, digits and +=,.@_-",
    source="botocore iam roleNameType (min 1, max 64, pattern [\\w+=,.@-]+)",
)
IAM_ROLE_PATH = Limit(
    "an IAM role path", 512, allowed=_ascii(r"/|/[\x21-\x7e]+/"), allowed_text="/ or /path/ of printable ASCII",
    source="botocore iam pathType (min 1, max 512, pattern (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F))",
)
IAM_ROLE_DESCRIPTION = Limit("an IAM role description", 1000, minimum=0, source="botocore iam roleDescriptionType (max 1000)")
IAM_ROLE_INLINE_POLICIES = Limit(
    "a role's inline policies together (without whitespace)", 10240,
    source="IAM and STS quotas page: 'Role policy size cannot exceed 10,240 characters' (aggregate of all inline "
    "policies of a role; 'IAM does not count white space')",
)
STS_EXTERNAL_ID = Limit(
    "an sts:AssumeRole external id", 1224, minimum=2, allowed=_ascii(r"[\w+=,.@:/-]*"), allowed_text="letters, digits and +=,.@:/-",
    source="botocore sts externalIdType (min 2, max 1224, pattern [\\w+=,.@:\\/-]*)",
)
LOG_GROUP_NAME = Limit(
    "a CloudWatch Logs group name", 512, allowed=_ascii(r"[._/#A-Za-z0-9-]+"), allowed_text="letters, digits and _-/.#",
    source="botocore logs LogGroupName (min 1, max 512, pattern [\\.\\-_/#A-Za-z0-9]+)",
)
SQS_QUEUE_NAME = Limit(
    "an SQS queue name", 80, allowed=_ascii(r"[A-Za-z0-9_-]+"), allowed_text="letters, digits, hyphens and underscores",
    source="SQS CreateQueue QueueName: 'A queue name can have up to 80 characters. Valid values: alphanumeric "
    "characters, hyphens (-), and underscores (_)' (API reference; not in the botocore model)",
)
SQS_QUEUE_POLICY = Limit(
    "an SQS queue policy", 8192, unit="bytes",
    source="Amazon SQS policy quotas page: 'Bytes: 8,192' (also 20 statements, 50 principals, 10 conditions)",
)
EVENT_RULE_NAME = Limit(
    "an EventBridge rule name", 64, allowed=_ascii(r"[._A-Za-z0-9-]+"), allowed_text="letters, digits and ._-",
    source="botocore events RuleName (min 1, max 64, pattern [\\.\\-_A-Za-z0-9]+)",
)
ALARM_NAME = Limit("a CloudWatch alarm name", 255, source="botocore cloudwatch AlarmName (min 1, max 255)")
DASHBOARD_NAME = Limit(
    "a CloudWatch dashboard name", 255, allowed=_ascii(r"[A-Za-z0-9_-]+"), allowed_text="letters, digits, hyphens and underscores",
    source="botocore cloudwatch PutDashboard DashboardName documentation: 'The maximum length is 255, and valid characters "
    "are A-Z, a-z, 0-9, \"-\", and \"_\"'",
)
SNS_TOPIC_NAME = Limit(
    "an SNS topic name", 256, allowed=_ascii(r"[A-Za-z0-9_-]+"), allowed_text="letters, digits, hyphens and underscores",
    source="SNS CreateTopic Name: 'Topic names must be made up of only uppercase and lowercase ASCII letters, numbers, "
    "underscores, and hyphens, and must be between 1 and 256 characters long' (API reference; not in the botocore model)",
)
EVENT_RULE_DESCRIPTION = Limit("an EventBridge rule description", 512, minimum=0, source="botocore events RuleDescription (max 512)")
EVENT_PATTERN = Limit(
    "an EventBridge event pattern", 2048,
    source="EventBridge quotas page: 'Event pattern size: 2,048 characters, adjustable' (aws-facts section 9); "
    "botocore's 4096 is the API maximum reachable only through a Service Quotas increase",
)
CLOUDFORMATION_TEMPLATE_BODY = Limit(
    "a CloudFormation template body passed inline", 51200, unit="bytes",
    source="botocore cloudformation CreateStackSet and UpdateStackSet TemplateBody: 'a minimum length of 1 byte and a "
    "maximum length of 51,200 bytes' (documentation; the model sets only min 1); pulumi-aws StackSet template_body: "
    "'Maximum size: 51,200 bytes'",
)
TAG_KEY = Limit(
    "a tag key", 128, source="UNVERIFIED in this project: tag keys of 1-128 characters, as AWS resource tagging documents them",
    verified=False,
)
TAG_VALUE = Limit(
    "a tag value", 256, minimum=0,
    source="UNVERIFIED in this project: tag values of 0-256 characters, as AWS resource tagging documents them",
    verified=False,
)

LIMITS: Mapping[str, Limit] = MappingProxyType({
    "config_rule_name": CONFIG_RULE_NAME,
    "remediation_rule_name": REMEDIATION_RULE_NAME,
    "config_rule_input_parameters": CONFIG_RULE_INPUT_PARAMETERS,
    "config_rule_description": CONFIG_RULE_DESCRIPTION,
    "remediation_static_value": REMEDIATION_STATIC_VALUE,
    "remediation_parameter_name": REMEDIATION_PARAMETER_NAME,
    "remediation_target_id": REMEDIATION_TARGET_ID,
    "lambda_function_name": LAMBDA_FUNCTION_NAME,
    "lambda_environment": LAMBDA_ENVIRONMENT,
    "lambda_environment_variable_name": LAMBDA_ENVIRONMENT_VARIABLE_NAME,
    "lambda_description": LAMBDA_DESCRIPTION,
    "iam_role_name": IAM_ROLE_NAME,
    "iam_role_path": IAM_ROLE_PATH,
    "iam_role_description": IAM_ROLE_DESCRIPTION,
    "iam_role_inline_policies": IAM_ROLE_INLINE_POLICIES,
    "sts_external_id": STS_EXTERNAL_ID,
    "log_group_name": LOG_GROUP_NAME,
    "sqs_queue_name": SQS_QUEUE_NAME,
    "sqs_queue_policy": SQS_QUEUE_POLICY,
    "event_rule_name": EVENT_RULE_NAME,
    "event_rule_description": EVENT_RULE_DESCRIPTION,
    "event_pattern": EVENT_PATTERN,
    "cloudformation_template_body": CLOUDFORMATION_TEMPLATE_BODY,
    "tag_key": TAG_KEY,
    "tag_value": TAG_VALUE,
})
"""Every limit by a stable name (tests and the worst-case replay iterate over it)."""

REMEDIATION_PARAMETERS_MAX = 25
"""Parameters per remediation configuration (botocore config RemediationParameters, max 25)."""
# UNVERIFIED: the CreateLogGroup reference was not at hand; AWS reserves log group names beginning with aws/.
RESERVED_LOG_GROUP_PREFIX = "aws/"
"""CreateLogGroup refuses log group names that begin with this (reserved for AWS)."""


def lambda_environment_size(variables: Mapping[str, str]) -> int:
    """Size of a function's environment as Lambda counts it: the variables map as JSON, in UTF-8 bytes.

    ``json.dumps`` escapes quotes and backslashes inside values and writes non-ASCII as six-character escapes,
    which is what a value holding a JSON document costs once it is inside the map.
    """
    return len(json.dumps(dict(variables)).encode())


def size(limit: Limit, value: str) -> int:
    """The value's size in the limit's unit."""
    return len(value.encode()) if limit.unit == "bytes" else len(value)


def _figure(number: int) -> str:
    return f"{number:,}"


def violation(limit: Limit, value: str) -> str | None:
    """What is wrong with ``value`` under ``limit``, as the end of a sentence ("65 characters, over the 64 allowed")."""
    measured = size(limit, value)
    if measured > limit.maximum:
        return f"{_figure(measured)} {limit.unit}, over the {_figure(limit.maximum)} allowed"
    if measured < limit.minimum:
        return f"{_figure(measured)} {limit.unit}, under the {_figure(limit.minimum)} required"
    if limit.allowed is not None and value and not limit.allowed.fullmatch(value):
        return f"contain characters that are not allowed (allowed: {limit.allowed_text})"
    return None
