"""BedrockTransport and the retry policy, driven through botocore's Stubber: no network, no real sleeping."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import ANY, Stubber

import haiku_finetune as hf
from haiku_finetune import errors
from haiku_finetune._transport import resolve_transport
from tests.fakes import FakeClock

REGION = "us-west-2"
JOB_ARN = "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/x/abcdefghijkl"
CREATE_PARAMS: dict[str, Any] = {
    "jobName": "my-job",
    "customModelName": "my-model",
    "roleArn": "arn:aws:iam::123456789012:role/bedrock-ft",
    "baseModelIdentifier": hf.BASE_MODEL_ID,
    "trainingDataConfig": {"s3Uri": "s3://bucket/train.jsonl"},
    "outputDataConfig": {"s3Uri": "s3://bucket/out/"},
}


def _client(service: str) -> BaseClient:
    return boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION).client(
        service,  # type: ignore[call-overload]
        config=Config(retries={"total_max_attempts": 1}),
    )


def _transport(client: BaseClient, clock: FakeClock, **retry: Any) -> hf.BedrockTransport:
    policy = hf.RetryPolicy(sleep=clock.sleep, clock=clock.monotonic, **retry)
    return hf.BedrockTransport(clients={client.meta.service_model.service_name: client}, retry=policy)


def _record_tokens(client: BaseClient) -> list[str]:
    tokens: list[str] = []

    def _capture(params: dict[str, Any], **_: Any) -> None:
        tokens.append(params["clientRequestToken"])

    client.meta.events.register_first("before-parameter-build.bedrock.CreateModelCustomizationJob", _capture)
    return tokens


def test_throttled_twice_then_success_makes_three_attempts_with_one_token() -> None:
    client, clock = _client("bedrock"), FakeClock()
    tokens = _record_tokens(client)
    with Stubber(client) as stub:
        expected = {**CREATE_PARAMS, "clientRequestToken": ANY}
        for _ in range(2):
            stub.add_client_error(
                "create_model_customization_job", "ThrottlingException", "slow down", 429, expected_params=expected
            )
        stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, expected)
        response = _transport(client, clock).call("bedrock", "CreateModelCustomizationJob", **CREATE_PARAMS)
        stub.assert_no_pending_responses()
    assert response["jobArn"] == JOB_ARN
    assert len(tokens) == 3
    assert len(set(tokens)) == 1 and tokens[0]
    assert len(clock.sleeps) == 2  # two backoffs, both on the fake clock


def test_caller_token_is_kept() -> None:
    client, clock = _client("bedrock"), FakeClock()
    tokens = _record_tokens(client)
    with Stubber(client) as stub:
        stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN})
        _transport(client, clock).call(
            "bedrock", "CreateModelCustomizationJob", clientRequestToken="mine-1", **CREATE_PARAMS
        )
    assert tokens == ["mine-1"]


def test_validation_error_is_not_retried() -> None:
    client, clock = _client("bedrock"), FakeClock()
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_model_customization_job", "ValidationException", "bad id", 400, response_meta={"RequestId": "req-7"}
        )
        with pytest.raises(hf.ServiceValidationError) as caught:
            _transport(client, clock).call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
    error = caught.value
    assert error.attempts == 1 and clock.sleeps == []
    assert error.code == "ValidationException" and error.http_status == 400
    assert error.operation == "GetModelCustomizationJob"
    assert error.message == "bad id"
    assert error.request_id == "req-7" and "req-7" in str(error)
    assert isinstance(error.__cause__, botocore.exceptions.ClientError)
    assert "after" not in str(error)


def test_exhausted_attempts_raise_the_throttling_error_and_say_how_many() -> None:
    client, clock = _client("bedrock"), FakeClock()
    with Stubber(client) as stub:
        for _ in range(5):
            stub.add_client_error("get_model_customization_job", "ThrottlingException", "slow down", 429)
        with pytest.raises(hf.ThrottlingError) as caught:
            _transport(client, clock).call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
        stub.assert_no_pending_responses()
    assert caught.value.attempts == 5
    assert "after 5 attempts" in str(caught.value)
    assert isinstance(caught.value.__cause__, botocore.exceptions.ClientError)
    assert len(clock.sleeps) == 4


@pytest.mark.parametrize("error_type", [EndpointConnectionError, ConnectionClosedError, ReadTimeoutError])
def test_connection_errors_are_retried(error_type: type[Exception]) -> None:
    client, clock = _client("bedrock"), FakeClock()
    failures = {"left": 1}
    real = client.get_model_customization_job  # type: ignore[attr-defined]

    def _drop(**params: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise error_type(endpoint_url="http://127.0.0.1:9")
        return real(**params)

    client.get_model_customization_job = _drop  # type: ignore[attr-defined]
    with Stubber(client) as stub:
        stub.add_response("get_model_customization_job", _job_response())
        response = _transport(client, clock).call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
    assert response["jobArn"] == JOB_ARN
    assert len(clock.sleeps) == 1


def test_connection_errors_exhausted_raise_connection_failed() -> None:
    client, clock = _client("bedrock"), FakeClock()

    def _drop(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    client.get_model_customization_job = _drop  # type: ignore[attr-defined]
    with pytest.raises(hf.ConnectionFailedError) as caught:
        _transport(client, clock, max_attempts=3).call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
    assert caught.value.attempts == 3
    assert "after 3 attempts" in str(caught.value)
    assert isinstance(caught.value.__cause__, EndpointConnectionError)


def test_total_time_budget_stops_retrying_before_max_attempts() -> None:
    client, clock = _client("bedrock"), FakeClock()
    with Stubber(client) as stub:
        for _ in range(10):
            stub.add_client_error("get_model_customization_job", "InternalServerException", "oops", 500)
        transport = _transport(client, clock, max_attempts=10, initial_backoff=4, max_backoff=4, total_timeout=5)
        transport.retry.rng.seed(1)
        with pytest.raises(hf.ServiceUnavailableError) as caught:
            transport.call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
    assert caught.value.attempts < 10
    assert sum(clock.sleeps) <= 5 + 1e-9


def test_retries_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    client, clock = _client("bedrock"), FakeClock()
    with Stubber(client) as stub, caplog.at_level(logging.DEBUG, logger="haiku_finetune._retry"):
        stub.add_client_error("get_model_customization_job", "ThrottlingException", "slow down", 429)
        stub.add_response("get_model_customization_job", _job_response())
        _transport(client, clock).call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG
    assert "GetModelCustomizationJob" in record.getMessage() and "ThrottlingException" in record.getMessage()
    assert "attempt 1" in record.getMessage()


def _service_error_codes() -> list[tuple[str, str, int]]:
    session = botocore.session.get_session()
    found: dict[tuple[str, str], int] = {}
    for service in ("bedrock", "bedrock-runtime"):
        model = session.get_service_model(service)
        for operation in model.operation_names:
            for shape in model.operation_model(operation).error_shapes:
                found[(service, shape.name)] = shape.metadata.get("error", {}).get("httpStatusCode", 400)
    return [(service, code, status) for (service, code), status in sorted(found.items())]


RETRYABLE = {"ThrottlingException", "InternalServerException", "ServiceUnavailableException", "ModelNotReadyException"}


@pytest.mark.parametrize(("service", "code", "status"), _service_error_codes())
def test_every_service_model_error_code_maps_to_a_specific_class(service: str, code: str, status: int) -> None:
    cls = errors.error_class_for(code)
    assert cls is not errors.ServiceError, f"{service} {code} has no specific class"
    client, clock = _client(service), FakeClock()
    operation = "GetModelCustomizationJob" if service == "bedrock" else "CountTokens"
    params: dict[str, Any] = (
        {"jobIdentifier": "x"} if service == "bedrock" else {"modelId": "m", "input": {"invokeModel": {"body": b"{}"}}}
    )
    with Stubber(client) as stub:
        for _ in range(5):
            stub.add_client_error(_method(client, operation), code, "message", status)
        with pytest.raises(cls) as caught:
            _transport(client, clock).call(service, operation, **params)
    assert caught.value.code == code and caught.value.http_status == status
    assert hf.is_retryable(caught.value) == (code in RETRYABLE)
    assert caught.value.attempts == (5 if code in RETRYABLE else 1)


def test_error_codes_cover_the_service_model() -> None:
    codes = {code for _, code, _ in _service_error_codes()}
    assert {"ValidationException", "ModelErrorException", "ResourceInUseException"} <= codes


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, errors.ThrottlingError),
        (502, errors.ServiceUnavailableError),
        (404, errors.ResourceNotFoundError),
        (403, errors.AccessDeniedError),
        (409, errors.ConflictError),
        (418, errors.ServiceError),
    ],
)
def test_unknown_codes_fall_back_on_http_status(status: int, expected: type[errors.ServiceError]) -> None:
    assert errors.error_class_for("SomethingNew", status) is expected


def test_paginate_follows_next_token() -> None:
    client, clock = _client("bedrock"), FakeClock()
    with Stubber(client) as stub:
        stub.add_response("list_custom_models", {"modelSummaries": [], "nextToken": "t1"}, {})
        stub.add_response("list_custom_models", {"modelSummaries": []}, {"nextToken": "t1"})
        pages = list(_transport(client, clock).paginate("bedrock", "ListCustomModels"))
        stub.assert_no_pending_responses()
    assert len(pages) == 2


def test_paginate_rejects_unpaginated_operation() -> None:
    client = _client("bedrock")
    with pytest.raises(ValueError, match="not paginated"):
        list(_transport(client, FakeClock()).paginate("bedrock", "GetCustomModel", modelIdentifier="x"))


def test_built_clients_do_not_retry_on_their_own() -> None:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")
    transport = hf.BedrockTransport(session=session, endpoint_urls={"bedrock": "http://127.0.0.1:9"})
    client = transport.client("bedrock")
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert transport.region == "eu-west-1"
    assert transport.client("bedrock") is client


def test_region_defaults_to_us_west_2_when_none_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert hf.BedrockTransport(session=boto3.Session()).region == "us-west-2"


def test_unknown_service_and_operation_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        hf.BedrockTransport(endpoint_urls={"dynamodb": "http://x"})
    transport = _transport(_client("bedrock"), FakeClock())
    with pytest.raises(ValueError, match="no operation 'Nope'"):
        transport.call("bedrock", "Nope")


def test_with_pool_shares_given_clients_and_grows_built_ones() -> None:
    given = _client("bedrock")
    transport = hf.BedrockTransport(
        session=boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION),
        clients={"bedrock": given},
    )
    assert transport.with_pool(4) is transport
    bigger = transport.with_pool(32)
    assert bigger.client("bedrock") is given
    assert bigger.client("bedrock-runtime").meta.config.max_pool_connections == 32
    assert bigger.retry is transport.retry and bigger.clock is transport.clock


def test_default_transport_can_be_replaced() -> None:
    mine = _transport(_client("bedrock"), FakeClock())
    try:
        hf.set_default_transport(mine)
        assert hf.get_default_transport() is mine
        assert resolve_transport(None) is mine
    finally:
        hf.set_default_transport(None)
    assert hf.get_default_transport() is not mine
    hf.set_default_transport(None)


def test_transport_clock_drives_default_retry_policy() -> None:
    clock = FakeClock()
    client = _client("bedrock")
    transport = hf.BedrockTransport(clients={"bedrock": client}, clock=clock)
    with Stubber(client) as stub:
        stub.add_client_error("get_model_customization_job", "ServiceUnavailableException", "busy", 503)
        stub.add_response("get_model_customization_job", _job_response())
        transport.call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
    assert len(clock.sleeps) == 1


def test_account_id_is_cached() -> None:
    client, clock = _client("sts"), FakeClock()
    with Stubber(client) as stub:
        stub.add_response(
            "get_caller_identity",
            {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/me", "UserId": "x"},
        )
        transport = _transport(client, clock)
        assert transport.account_id() == "123456789012"
        assert transport.account_id() == "123456789012"


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = hf.RetryPolicy(initial_backoff=0.5, max_backoff=20)
    for attempt in range(1, 12):
        ceiling = min(20, 0.5 * 2 ** (attempt - 1))
        samples = [policy.backoff(attempt) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.5  # spread over the whole range, not a fixed delay


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        hf.RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="total_timeout"):
        hf.RetryPolicy(total_timeout=0)


def _method(client: BaseClient, operation: str) -> str:
    return {api: py for py, api in client.meta.method_to_api_mapping.items()}[operation]


def _job_response() -> dict[str, Any]:
    from datetime import datetime, timezone

    return {
        "jobArn": JOB_ARN,
        "jobName": "my-job",
        "outputModelName": "my-model",
        "roleArn": CREATE_PARAMS["roleArn"],
        "creationTime": datetime(2024, 1, 1, tzinfo=timezone.utc),
        "baseModelArn": "arn:aws:bedrock:us-west-2::foundation-model/" + hf.BASE_MODEL_ID,
        "trainingDataConfig": {"s3Uri": "s3://bucket/train.jsonl"},
        "validationDataConfig": {"validators": []},
        "outputDataConfig": {"s3Uri": "s3://bucket/out/"},
        "status": "InProgress",
    }


def _no_aws_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance-metadata endpoint
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)


def test_missing_credentials_are_one_clear_error_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_aws_configuration(monkeypatch)
    clock = FakeClock()
    transport = hf.BedrockTransport(
        session=boto3.Session(region_name=REGION),
        endpoint_urls={"bedrock": "http://127.0.0.1:9"},  # never reached: signing fails first
        retry=hf.RetryPolicy(sleep=clock.sleep, clock=clock.monotonic),
    )
    with pytest.raises(errors.CredentialsError, match="ListCustomModels was not sent") as caught:
        transport.call("bedrock", "ListCustomModels")
    assert "aws configure" in str(caught.value) and "LocalBedrock" in str(caught.value)
    assert isinstance(caught.value.__cause__, botocore.exceptions.NoCredentialsError)
    assert clock.sleeps == []


def test_a_missing_profile_is_a_credentials_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_aws_configuration(monkeypatch)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    transport = hf.BedrockTransport(endpoint_urls={"bedrock": "http://127.0.0.1:9"})
    with pytest.raises(errors.CredentialsError, match="no-such-profile"):
        transport.call("bedrock", "ListCustomModels")
