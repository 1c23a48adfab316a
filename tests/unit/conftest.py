"""Unit fixtures: a transport on moto's in-process AWS (S3 and IAM), with a staging bucket and a fake clock."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterator

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


StatsHandler = Callable[[argparse.Namespace, object], int]


@pytest.fixture
def stats_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[StatsHandler], None]:
    """Make ``haiku-finetune stats`` run a stand-in handler: how a test makes a command fail in a chosen way."""
    cli_main = importlib.import_module("haiku_finetune.cli.main")  # the module, not the function main
    real = cli_main.build_parser

    def use(handler: StatsHandler) -> None:
        def patched() -> argparse.ArgumentParser:
            parser = real()
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            sub.choices["stats"].set_defaults(handler=handler)
            return parser

        monkeypatch.setattr(cli_main, "build_parser", patched)

    return use
