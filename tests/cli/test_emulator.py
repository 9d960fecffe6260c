"""The embedded emulator: reachable on 127.0.0.1 through AWS_ENDPOINT_URL, counting requests, gone afterwards."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import boto3
import pytest

from governance.cli.emulator import embedded_emulator


def test_clients_reach_the_emulator_and_requests_are_counted() -> None:
    with embedded_emulator() as emulator:
        assert emulator.endpoint_url.startswith("http://127.0.0.1:")
        assert os.environ["AWS_ENDPOINT_URL"] == emulator.endpoint_url
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="demo-bucket-one")
        assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["demo-bucket-one"]
        boto3.client("ec2", region_name="us-east-1").describe_vpcs()
        assert emulator.requests.by_service["s3"] == 2
        assert emulator.requests.by_service["ec2"] == 1
        assert emulator.requests.total == 3
        endpoint = emulator.endpoint_url
    assert os.environ.get("AWS_ENDPOINT_URL") != endpoint
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(endpoint, timeout=2)
