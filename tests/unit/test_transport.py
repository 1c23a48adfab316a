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


# -- throttle codes: botocore's list -------------------------------------------------------------------

_BOTOCORE_THROTTLE_CODES = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
]


def test_throttle_codes_are_botocores() -> None:
    from botocore.retries.standard import ThrottledRetryableChecker

    assert set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) == set(_BOTOCORE_THROTTLE_CODES)


@pytest.mark.parametrize("code", _BOTOCORE_THROTTLE_CODES)
def test_every_botocore_throttle_code_is_throttling_and_retried(code: str) -> None:
    client, clock = _client("bedrock-runtime"), FakeClock()
    with Stubber(client) as stub:
        stub.add_client_error("converse", code, "slow down", 400)
        stub.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": []}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
                "metrics": {"latencyMs": 1},
            },
        )
        _transport(client, clock).call("bedrock-runtime", "Converse", modelId="m", messages=[])
    assert errors.error_class_for(code, 400) is errors.ThrottlingError
    assert len(clock.sleeps) == 1  # throttled once, retried once


def test_iam_limit_exceeded_stays_a_quota() -> None:
    assert errors.error_class_for("LimitExceeded", 409) is errors.QuotaExceededError


# -- one umbrella over "the call failed" ------------------------------------------------------------------


def test_call_failed_is_the_base_of_service_and_connection_errors() -> None:
    assert issubclass(errors.ServiceError, errors.CallFailedError)
    assert issubclass(errors.ConnectionFailedError, errors.CallFailedError)
    assert issubclass(errors.UnparseableResponseError, errors.ServiceError)
    assert not issubclass(errors.CredentialsError, errors.CallFailedError)
    client, clock = _client("bedrock"), FakeClock()
    with Stubber(client) as stub:
        stub.add_client_error("get_model_customization_job", "AccessDeniedException", "no", 403)
        with pytest.raises(errors.CallFailedError) as caught:
            _transport(client, clock).call("bedrock", "GetModelCustomizationJob", jobIdentifier="x")
    assert caught.value.operation == "GetModelCustomizationJob" and caught.value.attempts == 1


# -- every botocore / urllib3 / parser error is mapped here ------------------------------------------------


def _raising(client: BaseClient, operation: str, error: Exception) -> None:
    def _raise(**_: Any) -> None:
        raise error

    client.meta.events.register_first(f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}", _raise)


def test_an_unparseable_answer_is_an_unparseable_response_error_not_retried() -> None:
    from botocore.parsers import ResponseParserError

    client, clock = _client("iam"), FakeClock()
    _raising(client, "SimulatePrincipalPolicy", ResponseParserError("Unable to parse response (not XML)"))
    with pytest.raises(errors.UnparseableResponseError, match="does it implement SimulatePrincipalPolicy") as caught:
        _transport(client, clock).call(
            "iam", "SimulatePrincipalPolicy", PolicySourceArn="arn:aws:iam::123456789012:role/r", ActionNames=["s3:*"]
        )
    assert isinstance(caught.value.__cause__, ResponseParserError)
    assert caught.value.code == "UnparseableResponse" and clock.sleeps == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: botocore.exceptions.ResponseStreamingError(error="reset"),
        lambda: botocore.exceptions.ProxyConnectionError(proxy_url="http://proxy", error="refused"),
        lambda: botocore.exceptions.SSLError(endpoint_url="https://x", error="bad cert"),
        lambda: __import__("urllib3").exceptions.ProtocolError("connection broken"),
    ],
)
def test_transport_level_errors_are_connection_failures_and_retried(make: Any) -> None:
    client, clock = _client("bedrock"), FakeClock()
    _raising(client, "ListCustomModels", make())
    with pytest.raises(errors.ConnectionFailedError) as caught:
        _transport(client, clock, max_attempts=3).call("bedrock", "ListCustomModels")
    assert caught.value.attempts == 3 and len(clock.sleeps) == 2


def test_parameters_botocore_refuses_are_one_value_error() -> None:
    client, clock = _client("bedrock"), FakeClock()
    with pytest.raises(ValueError, match=r"^GetModelCustomizationJob: Parameter validation failed") as caught:
        _transport(client, clock).call("bedrock", "GetModelCustomizationJob", jobIdentifier=5)
    assert "\n" not in str(caught.value)


class _Body:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self) -> bytes:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="http://x"),
        botocore.exceptions.ResponseStreamingError(error="reset"),
        botocore.exceptions.IncompleteReadError(actual_bytes=1, expected_bytes=9),
    ],
)
def test_read_body_maps_errors_while_reading(error: Exception) -> None:
    transport = _transport(_client("bedrock-runtime"), FakeClock())
    with pytest.raises(errors.ConnectionFailedError, match="InvokeModel failed"):
        transport.read_body("InvokeModel", _Body(error))


class _Events:
    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.closed = 0

    def __iter__(self) -> Any:
        for event in self.events:
            if isinstance(event, Exception):
                raise event
            yield event

    def close(self) -> None:
        self.closed += 1


def test_iter_events_maps_an_error_event_and_closes_the_stream() -> None:
    from botocore.exceptions import EventStreamError

    error = EventStreamError(
        {"Error": {"Code": "modelStreamErrorException", "Message": "model broke"}}, "InvokeModelWithResponseStream"
    )
    stream = _Events([{"chunk": {"bytes": b"{}"}}, error])
    transport = _transport(_client("bedrock-runtime"), FakeClock())
    events = transport.iter_events("InvokeModelWithResponseStream", stream)
    assert next(events) == {"chunk": {"bytes": b"{}"}}
    with pytest.raises(errors.ModelError, match="model broke"):
        next(events)
    assert stream.closed == 1


def test_iter_events_maps_a_broken_connection_and_closes_when_abandoned() -> None:
    import urllib3

    broken = _Events([{"chunk": {}}, urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")])  # type: ignore[arg-type]
    transport = _transport(_client("bedrock-runtime"), FakeClock())
    with pytest.raises(errors.ConnectionFailedError, match="read timed out"):
        list(transport.iter_events("InvokeModelWithResponseStream", broken))
    assert broken.closed == 1
    abandoned = _Events([{"chunk": {}}, {"chunk": {}}])
    events = transport.iter_events("InvokeModelWithResponseStream", abandoned)
    next(events)
    events.close()  # type: ignore[attr-defined]
    assert abandoned.closed == 1


def test_only_the_transport_imports_botocore_exceptions_or_urllib3() -> None:
    import ast
    from pathlib import Path

    package = Path(hf.__file__).parent
    forbidden = ("botocore.exceptions", "botocore.parsers", "botocore.eventstream", "urllib3")
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "_transport.py" and path.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.startswith(forbidden):
                    offenders.append(f"{path.relative_to(package)}:{node.lineno} imports {name}")
    assert offenders == []


# -- close, Config, profile ------------------------------------------------------------------------------


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)


def test_close_closes_built_clients_only_and_refuses_new_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    given = _client("bedrock")
    closed: list[str] = []
    monkeypatch.setattr(given, "close", lambda: closed.append("given"))
    with hf.BedrockTransport(
        session=_session(), clients={"bedrock": given}, endpoint_urls={"s3": "http://127.0.0.1:9"}
    ) as transport:
        built = transport.client("s3")
        monkeypatch.setattr(built, "close", lambda: closed.append("s3"))
        pooled = transport.with_pool(50)
        pooled_s3 = pooled.client("s3")
        monkeypatch.setattr(pooled_s3, "close", lambda: closed.append("pooled s3"))
    assert sorted(closed) == ["pooled s3", "s3"]
    assert transport.closed and pooled.closed
    with pytest.raises(ValueError, match="is closed"):
        transport.call("s3", "ListBuckets")
    transport.close()  # twice is fine
    assert transport.client("bedrock") is given  # the caller's client is the caller's


def test_a_botocore_config_is_merged_and_the_librarys_retry_setting_wins() -> None:
    config = Config(
        user_agent_extra="my-app/1.0", retries={"total_max_attempts": 7, "mode": "adaptive"}, connect_timeout=3
    )
    transport = hf.BedrockTransport(session=_session(), config=config, endpoint_urls={"bedrock": "http://127.0.0.1:9"})
    client = transport.client("bedrock")
    assert "my-app/1.0" in client.meta.config.user_agent_extra
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert client.meta.config.connect_timeout == 3
    assert client.meta.config.read_timeout == 120.0
    plain = hf.BedrockTransport(session=_session(), endpoint_urls={"bedrock": "http://127.0.0.1:9"})
    assert plain.client("bedrock").meta.config.connect_timeout == 10
    with pytest.raises(TypeError, match=r"botocore\.config\.Config"):
        hf.BedrockTransport(config={"retries": {}})  # type: ignore[arg-type]


def test_config_pool_and_read_timeout_are_used_unless_given_explicitly() -> None:
    transport = hf.BedrockTransport(session=_session(), config=Config(max_pool_connections=40, read_timeout=9))
    assert transport.max_pool_connections == 40 and transport.read_timeout == 9
    explicit = hf.BedrockTransport(session=_session(), config=Config(max_pool_connections=40), max_pool_connections=5)
    assert explicit.max_pool_connections == 5


def test_profile_builds_a_session_and_an_unknown_one_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    _no_aws_configuration(monkeypatch)
    config_file = tmp_path / "config"
    config_file.write_text("[profile work]\nregion = eu-central-1\naws_access_key_id = a\naws_secret_access_key = b\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    transport = hf.BedrockTransport(profile="work")
    assert transport.session.profile_name == "work" and transport.region == "eu-central-1"
    with pytest.raises(errors.CredentialsError, match="nope") as caught:
        hf.BedrockTransport(profile="nope")
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="not both"):
        hf.BedrockTransport(profile="work", session=_session())


def test_retry_if_decides_what_is_retried() -> None:
    client, clock = _client("bedrock"), FakeClock()
    with Stubber(client) as stub:
        stub.add_client_error("get_model_customization_job", "ConflictException", "busy", 409)
        stub.add_response("get_model_customization_job", _job_response())
        response = _transport(client, clock).call(
            "bedrock",
            "GetModelCustomizationJob",
            retry_if=lambda e: isinstance(e, errors.ConflictError),
            jobIdentifier=JOB_ARN,
        )
    assert response["status"] == "InProgress" and len(clock.sleeps) == 1


def test_resolve_transport_prefers_given_then_lender_then_default() -> None:
    mine, lent = _transport(_client("bedrock"), FakeClock()), _transport(_client("bedrock"), FakeClock())

    class Lender:
        transport = lent

    assert resolve_transport(mine, Lender()) is mine
    assert resolve_transport(None, None, "arn:...", Lender()) is lent
    try:
        hf.set_default_transport(mine)
        assert resolve_transport(None, "arn:...", object()) is mine
    finally:
        hf.set_default_transport(None)
