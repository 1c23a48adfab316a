"""Unit fixtures: a transport on moto's in-process AWS (S3 and IAM), with a staging bucket and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

import haiku_finetune as hf
from tests.fakes import FakeClock

#: The bucket the ``aws`` fixture creates.
MOTO_BUCKET = "haiku-data"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[hf.BedrockTransport]:
    """A BedrockTransport on moto in us-west-2 (dummy credentials) with ``MOTO_BUCKET`` made; waits take no time."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with mock_aws():
        session = boto3.Session(region_name="us-west-2")
        session.client("s3").create_bucket(
            Bucket=MOTO_BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        clock = FakeClock()
        retry = hf.RetryPolicy(sleep=clock.sleep, clock=clock.monotonic)
        yield hf.BedrockTransport(session=session, region="us-west-2", clock=clock, retry=retry)
