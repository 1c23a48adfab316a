"""Fault injection: seen by the transport's retries, deterministic for a seed, per operation."""

from __future__ import annotations

import logging
import time

import pytest

import haiku_finetune as hf
from haiku_finetune.local import Faults, LocalBedrock


@pytest.mark.parametrize(
    ("kind", "error"),
    [("throttle", "ThrottlingException"), ("server_error", "InternalServerException"), ("drop", "ConnectionFailed")],
)
def test_each_fault_is_retried_by_the_transport(
    local: LocalBedrock, transport: hf.BedrockTransport, caplog: pytest.LogCaptureFixture, kind: str, error: str
) -> None:
    local.faults = Faults(**{kind: {"ListFoundationModels": 2}})  # type: ignore[arg-type]
    retried: list[BaseException] = []
    with caplog.at_level(logging.DEBUG, logger="haiku_finetune._retry"):
        models = transport.call("bedrock", "ListFoundationModels", on_retry=retried.append)
    assert models["modelSummaries"]
    assert len(retried) == 2
    logged = [r.getMessage() for r in caplog.records if "retrying ListFoundationModels" in r.getMessage()]
    assert len(logged) == 2 and all(error in m or "Connection" in m for m in logged), logged
    # Only the named operation is hit.
    transport.call("bedrock", "ListCustomModels", on_retry=retried.append)
    assert len(retried) == 2


def test_attempts_run_out_with_the_mapped_error(local: LocalBedrock, transport: hf.BedrockTransport) -> None:
    local.faults = Faults(throttle={"ListCustomModels": 100})
    with pytest.raises(hf.errors.ThrottlingError, match="5 attempts") as caught:
        transport.call("bedrock", "ListCustomModels")
    assert caught.value.attempts == 5


def test_rates_are_deterministic_for_a_seed() -> None:
    def draws(seed: int) -> list[tuple[bool, bool, bool]]:
        faults = Faults(throttle=0.3, server_error=0.2, drop=0.1, seed=seed)
        return [(d.throttle, d.server_error, d.drop) for d in (faults.decide("InvokeModel") for _ in range(200))]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    throttled = sum(t for t, _, _ in first)
    assert 40 <= throttled <= 80  # about 30% of 200


def test_latency_is_real_and_per_operation() -> None:
    faults = Faults(latency={"InvokeModel": 0.05}, slow={"Converse": 1}, slow_seconds=0.2)
    assert faults.decide("InvokeModel").delay == 0.05
    assert faults.decide("ListCustomModels").delay == 0.0
    assert faults.decide("Converse").delay == 0.2 and faults.decide("Converse").delay == 0.0  # the next 1 call
    with LocalBedrock(faults=Faults(latency={"ListCustomModels": 0.2})) as local:
        transport = local.transport()
        started = time.perf_counter()
        transport.call("bedrock", "ListCustomModels")
        assert time.perf_counter() - started >= 0.2


def test_the_emulators_seed_reaches_fault_draws_without_a_seed_of_their_own() -> None:
    def throttled(seed: int, faults: Faults) -> list[int]:
        """How many retries each of 40 calls needed (5: it ran out of attempts)."""
        with LocalBedrock(seed=seed, faults=faults) as local:
            transport = local.transport()
            outcomes = []
            for _ in range(40):
                retried: list[BaseException] = []
                try:
                    transport.call("bedrock", "ListCustomModels", on_retry=retried.append)
                except hf.errors.ThrottlingError:
                    retried.append(RuntimeError("out of attempts"))
                outcomes.append(len(retried))
            return outcomes

    first = throttled(1, Faults(throttle={"ListCustomModels": 0.3}))
    assert first == throttled(1, Faults(throttle={"ListCustomModels": 0.3}))
    assert first != throttled(2, Faults(throttle={"ListCustomModels": 0.3}))
    # A Faults with its own seed keeps it, whatever the emulator's seed.
    assert throttled(1, Faults(throttle={"ListCustomModels": 0.3}, seed=9)) == throttled(
        2, Faults(throttle={"ListCustomModels": 0.3}, seed=9)
    )


def test_a_lost_response_counts_only_handled_calls_and_leaves_other_draws_alone() -> None:
    faults = Faults(throttle={"CreateModelCustomizationJob": 1}, lose_response={"CreateModelCustomizationJob": 1})
    first, second, third = (faults.decide("CreateModelCustomizationJob") for _ in range(3))
    assert first.throttle and not first.lose_response  # refused before handling: nothing to lose
    assert second.lose_response and not second.throttle
    assert not third.lose_response
    assert not faults.decide("ListCustomModels").lose_response

    def draws(**extra: float) -> list[tuple[bool, bool, bool]]:
        seeded = Faults(throttle=0.3, server_error=0.2, drop=0.1, seed=5, **extra)  # type: ignore[arg-type]
        return [(d.throttle, d.server_error, d.drop) for d in (seeded.decide("InvokeModel") for _ in range(200))]

    assert draws(lose_response=0.5) == draws()  # seeded runs written before lose_response keep their faults
    rate = Faults(lose_response=0.25, seed=5)
    hits = sum(rate.decide("InvokeModel").lose_response for _ in range(200))
    assert 30 <= hits <= 70  # about 25% of 200


def test_a_lost_response_is_handled_then_unanswered(local: LocalBedrock, transport: hf.BedrockTransport) -> None:
    transport.call("s3", "CreateBucket", Bucket="lost", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    transport.call("s3", "PutObject", Bucket="lost", Key="t.jsonl", Body=b"{}\n")
    request = {
        "jobName": "lost-1",
        "customModelName": "lost-model-1",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "baseModelIdentifier": "anthropic.claude-3-haiku-20240307-v1:0:200k",
        "trainingDataConfig": {"s3Uri": "s3://lost/t.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://lost/out/"},
    }
    local.faults = Faults(lose_response={"CreateModelCustomizationJob": 1})
    retried: list[BaseException] = []
    created = transport.call(
        "bedrock", "CreateModelCustomizationJob", clientRequestToken="same-token", on_retry=retried.append, **request
    )
    # The first attempt made the job and got no answer; the retry, with the same token, got that job back.
    assert [type(e) for e in retried] == [hf.errors.ConnectionFailedError]
    assert [j["jobArn"] for j in local.jobs()] == [created["jobArn"]]
    # With no retry, the caller sees only the dropped connection, yet the job exists.
    local.faults = Faults(lose_response={"CreateModelCustomizationJob": 1})
    with pytest.raises(hf.errors.ConnectionFailedError):
        hf.BedrockTransport(
            clients={"bedrock": transport.client("bedrock")}, retry=hf.RetryPolicy(max_attempts=1)
        ).call("bedrock", "CreateModelCustomizationJob", **{**request, "jobName": "lost-2", "customModelName": "m2"})
    assert {j["jobName"] for j in local.jobs()} == {"lost-1", "lost-2"}  # handled, though nobody heard back
