"""The error codes (and HTTP statuses) each AWS service answers with, for the fault tests to inject.

Keyed by boto3 service name: every service a fixer calls.
"""

from __future__ import annotations

THROTTLING: dict[str, tuple[str, int]] = {
    "s3": ("SlowDown", 503),
    "s3control": ("SlowDown", 503),
    "ec2": ("RequestLimitExceeded", 503),
    "cloudtrail": ("ThrottlingException", 400),
    "sqs": ("RequestThrottled", 400),
    "sns": ("Throttling", 400),
    "kms": ("ThrottlingException", 400),
    "logs": ("ThrottlingException", 400),
    "rds": ("Throttling", 400),
    "ecr": ("ThrottlingException", 400),
    "lambda": ("TooManyRequestsException", 429),
    "ssm": ("ThrottlingException", 400),
    "iam": ("Throttling", 400),
    "guardduty": ("TooManyRequestsException", 429),
}
"""A request refused for its rate: (code, status)."""

ACCESS_DENIED: dict[str, str] = {
    "s3": "AccessDenied",
    "s3control": "AccessDenied",
    "ec2": "UnauthorizedOperation",
    "cloudtrail": "AccessDeniedException",
    "sqs": "AccessDenied",
    "sns": "AuthorizationError",
    "kms": "AccessDeniedException",
    "logs": "AccessDeniedException",
    "rds": "AccessDenied",
    "ecr": "AccessDeniedException",
    "lambda": "AccessDeniedException",
    "ssm": "AccessDeniedException",
    "iam": "AccessDenied",
    "guardduty": "AccessDeniedException",
}
"""A request the caller's permissions do not allow (status 403)."""

SERVER_ERROR: dict[str, tuple[str, int]] = {
    "s3": ("InternalError", 500),
    "s3control": ("InternalError", 500),
    "ec2": ("InternalError", 500),
    "cloudtrail": ("InternalFailure", 500),
    "sqs": ("InternalError", 500),
    "sns": ("InternalError", 500),
    "kms": ("KMSInternalException", 500),
    "logs": ("ServiceUnavailableException", 500),
    "rds": ("InternalFailure", 500),
    "ecr": ("ServerException", 500),
    "lambda": ("ServiceException", 500),
    "ssm": ("InternalServerError", 500),
    "iam": ("ServiceFailure", 500),
    "guardduty": ("InternalServerErrorException", 500),
}
"""A failure on the service's side: (code, status)."""
