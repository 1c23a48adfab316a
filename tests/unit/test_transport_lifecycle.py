"""The transport turns an end-of-life refusal into ModelEndOfLifeError and AWS setup failures into CredentialsError."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

import haiku_finetune as hf
from haiku_finetune import errors
from haiku_finetune.base_models import CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5
from tests.fakes import FakeClock

_EOL = "This model version has reached the end of its life."


class _DatedClock:
    """A manual clock that also tells the date (as LocalBedrock's emulated clock does)."""

    def __init__(self, now: datetime) -> None:
        self._fake = FakeClock()
        self._now = now
        self.sleep = self._fake.sleep
        self.monotonic = self._fake.monotonic

    def now(self) -> datetime:
        return self._now


def _transport(
    service: str, region: str = "us-west-2", now: datetime | None = None
) -> tuple[hf.BedrockTransport, Stubber]:
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name=region)
    client = session.client(service, region_name=region)
    clock = _DatedClock(now or datetime(2026, 12, 2, tzinfo=timezone.utc))
    transport = hf.BedrockTransport(
        clients={service: client},
        region=region,
        clock=clock,
        retry=hf.RetryPolicy(sleep=clock.sleep, clock=clock.monotonic),
    )
    return transport, Stubber(client)


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "ValidationException"])
def test_an_end_of_life_refusal_names_the_date_and_the_successor(code: str) -> None:
    transport, stub = _transport("bedrock")
    stub.add_client_error("create_model_customization_job", code, _EOL, 404 if code.startswith("Resource") else 400)
    with stub, pytest.raises(errors.ModelEndOfLifeError) as caught:
        transport.call(
            "bedrock",
            "CreateModelCustomizationJob",
            jobName="j",
            customModelName="m",
            roleArn="arn:aws:iam::123456789012:role/r",
            baseModelIdentifier=CLAUDE_3_HAIKU.model_id,
            trainingDataConfig={"s3Uri": "s3://b/t.jsonl"},
            outputDataConfig={"s3Uri": "s3://b/out/"},
        )
    error = caught.value
    assert isinstance(error, errors.ResourceNotFoundError)
    assert error.end_of_life == date(2026, 9, 10) and error.successor == CLAUDE_HAIKU_4_5.key
    assert "2026-09-10" in str(error) and "claude-haiku-4-5" in str(error) and "us-west-2" in str(error)


def test_an_end_of_life_refusal_for_a_provisioned_arn_names_the_model_at_end_of_life_here() -> None:
    transport, stub = _transport("bedrock-runtime")
    stub.add_client_error("invoke_model", "ResourceNotFoundException", _EOL, 404)
    with stub, pytest.raises(errors.ModelEndOfLifeError) as caught:
        transport.call(
            "bedrock-runtime",
            "InvokeModel",
            modelId="arn:aws:bedrock:us-west-2:123456789012:provisioned-model/x",
            body=b"{}",
        )
    assert caught.value.end_of_life == date(2026, 9, 10) and caught.value.successor == "claude-haiku-4-5"


def test_other_not_found_errors_stay_as_they_are() -> None:
    transport, stub = _transport("bedrock")
    stub.add_client_error("get_custom_model", "ResourceNotFoundException", "Could not find model x", 404)
    with stub, pytest.raises(errors.ResourceNotFoundError) as caught:
        transport.call("bedrock", "GetCustomModel", modelIdentifier="x")
    assert not isinstance(caught.value, errors.ModelEndOfLifeError)


def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: str = "") -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").write_text(config, encoding="utf-8")
    (tmp_path / "credentials").write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_an_aws_profile_typo_is_a_credentials_error_wherever_it_surfaces(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _isolated(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_PROFILE", "typo")
    transport = hf.BedrockTransport(endpoint_urls={"bedrock": "http://127.0.0.1:9"})
    with pytest.raises(errors.CredentialsError, match="typo"):
        _ = transport.region
    with pytest.raises(errors.CredentialsError, match="typo"):
        list(hf.BedrockTransport().paginate("bedrock", "ListCustomModels"))
    with pytest.raises(errors.CredentialsError, match="typo"):
        hf.BedrockTransport().client("bedrock")


def test_an_unknown_profile_reads_well(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _isolated(monkeypatch, tmp_path)
    with pytest.raises(errors.CredentialsError) as caught:
        hf.BedrockTransport(profile="nope")
    text = str(caught.value)
    assert text.startswith("AWS setup failed, nothing was sent: The config profile (nope) could not be found.")
    assert "BedrockTransport was not sent" not in text and "\n" not in text


def test_a_failing_credential_process_is_a_credentials_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _isolated(monkeypatch, tmp_path, "[profile broken]\ncredential_process = false\nregion = us-west-2\n")
    transport = hf.BedrockTransport(profile="broken", endpoint_urls={"bedrock": "http://127.0.0.1:9"})
    with pytest.raises(errors.CredentialsError, match="ListCustomModels was not sent") as caught:
        list(transport.paginate("bedrock", "ListCustomModels"))
    assert type(caught.value.__cause__).__name__ == "CredentialRetrievalError"


def test_response_time_reads_the_date_header_else_the_clock() -> None:
    transport, _ = _transport("bedrock", now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    answered = {"ResponseMetadata": {"HTTPHeaders": {"date": "Thu, 10 Sep 2026 08:00:00 GMT"}}}
    assert transport.response_time(answered) == datetime(2026, 9, 10, 8, tzinfo=timezone.utc)
    assert transport.response_time({}) == datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert hf.BedrockTransport(region="us-west-2").now().tzinfo is not None
