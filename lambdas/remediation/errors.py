"""Classify AWS errors: transient ones are raised for Lambda to retry, the rest become failure records."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

# The codes botocore's standard and adaptive retry modes treat as throttling or transient
# (botocore/retries/standard.py); they are retried by botocore first, then raised.
THROTTLING_ERROR_CODES = frozenset(
    {
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)
"""Transient codes that mean the request was refused before it acted (unlike a timeout or a 5xx)."""

TRANSIENT_ERROR_CODES = THROTTLING_ERROR_CODES | frozenset(
    {
        "InternalError",
        "InternalFailure",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)
"""Error codes that mean "try again later", not "this will never work"."""

_TRANSIENT_EXCEPTIONS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError, else the exception's class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or type(error).__name__)
    return type(error).__name__


def http_status(error: BaseException) -> int | None:
    """The HTTP status of a ClientError's response, when known."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def is_transient(error: BaseException) -> bool:
    """Whether retrying later may succeed: throttling, 5xx, timeouts and dropped connections."""
    if isinstance(error, _TRANSIENT_EXCEPTIONS):
        return True
    if isinstance(error, ClientError):
        status = http_status(error)
        return error_code(error) in TRANSIENT_ERROR_CODES or (status is not None and (status >= 500 or status == 429))
    return False


def describe_error(error: BaseException) -> str:
    """One short phrase for an audit record: the code and AWS's message."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message") or ""
        return f"{error_code(error)}: {message}".rstrip(": ")
    return f"{type(error).__name__}: {error}"
