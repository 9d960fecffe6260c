"""The remediation Lambda: turns AWS Config compliance events into safe, audited fixes.

This package is exactly what the deployed zip holds. It uses boto3 and the standard library only
and imports its own modules relatively, so it loads both as ``remediation`` (in Lambda) and from
the repository.
"""
