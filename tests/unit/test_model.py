"""FineTunedModel against a real botocore client whose runtime methods are replaced: bodies, checks, batches."""

from __future__ import annotations

import io
import threading
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

import haiku_finetune as hf
from haiku_finetune.model import ANTHROPIC_VERSION, Completion, FineTunedModel, Prompt
from tests.fakes import FakeClock

ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"


def _runtime() -> Any:
    return boto3.client("bedrock-runtime", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")


def _model(client: Any, clock: FakeClock | None = None) -> FineTunedModel:
    transport = hf.BedrockTransport(clients={"bedrock-runtime": client}, clock=clock or FakeClock())
    return FineTunedModel(ARN, transport=transport)


def _reply(text: str, stop: str = "end_turn") -> dict[str, Any]:
    data = orjson.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop,
            "usage": {"input_tokens": 7, "output_tokens": 3},
        }
    )
    return {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "application/json"}


class EchoRuntime:
    """Replaces invoke_model: answers with the prompt text; throttles or fails the chosen calls."""

    def __init__(self, throttle_every: int = 0, fail_texts: frozenset[str] = frozenset()) -> None:
        self.calls: list[str] = []
        self.throttle_every = throttle_every
        self.fail_texts = fail_texts
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __call__(self, **params: Any) -> dict[str, Any]:
        body = orjson.loads(params["body"])
        text = body["messages"][-1]["content"]
        with self.lock:
            self.calls.append(text)
            n = len(self.calls)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if self.throttle_every and n % self.throttle_every == 0:
                raise _client_error("ThrottlingException", 429)
            if text in self.fail_texts:
                raise _client_error("ValidationException", 400)
            return _reply(f"echo:{text}")
        finally:
            with self.lock:
                self.in_flight -= 1


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "InvokeModel"
    )


def test_request_body_is_the_messages_format() -> None:
    body = FineTunedModel(ARN).request_body(
        "Summarize: x",
        system="You summarize.",
        max_tokens=200,
        temperature=0.2,
        top_p=0.9,
        top_k=5,
        stop_sequences=["END"],
    )
    assert body == {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Summarize: x"}],
        "system": "You summarize.",
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "stop_sequences": ["END"],
    }
    assert "system" not in FineTunedModel(ARN).request_body("hi")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 4097}, "max_tokens"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"stop_sequences": "END"}, "stop_sequences"),
    ],
)
def test_parameters_are_checked_before_any_call(kwargs: dict[str, Any], message: str) -> None:
    client = _runtime()
    # no responses queued: any call would fail the test
    with Stubber(client), pytest.raises(ValueError, match=message):
        _model(client).invoke("hi", **kwargs)


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([{"role": "assistant", "content": "x"}], "alternate"),
        ([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "last message"),
        ([{"role": "system", "content": "x"}], "role 'system'"),
        ([{"role": "user", "content": "x", "name": "n"}], "exactly the keys"),
    ],
)
def test_malformed_conversations_are_refused(messages: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FineTunedModel(ARN).request_body(messages)


def test_invoke_parses_the_answer() -> None:
    client = _runtime()
    with Stubber(client) as stub:
        stub.add_response("invoke_model", _reply("Paris"))
        completion = _model(client).invoke(Prompt(messages=[{"role": "user", "content": "Capital of France?"}]))
    assert completion.text == "Paris"
    assert completion.stop_reason == "end_turn"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (7, 3)
    assert completion.latency >= 0
    assert completion.raw["id"] == "msg_1"


def test_converse_maps_the_request_and_response() -> None:
    client = _runtime()
    expected = {
        "modelId": ARN,
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "system": [{"text": "be brief"}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.0},
        "additionalModelRequestFields": {"top_k": 3},
    }
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": "hello"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 4, "outputTokens": 1, "totalTokens": 5},
        "metrics": {"latencyMs": 12},
    }
    with Stubber(client) as stub:
        stub.add_response("converse", response, expected)
        completion = _model(client).converse("hi", system="be brief", max_tokens=50, temperature=0.0, top_k=3)
    assert completion.text == "hello"
    assert completion.usage.output_tokens == 1


def test_completion_from_body_joins_text_blocks() -> None:
    body = {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "stop_reason": "max_tokens"}
    completion = Completion.from_body(body, latency=0.5)
    assert completion.text == "ab"
    assert completion.stop_reason == "max_tokens"
    assert completion.usage.input_tokens == 0


def test_batch_keeps_order_and_calls_each_prompt_once() -> None:
    client, echo = _runtime(), EchoRuntime()
    client.invoke_model = echo
    prompts = [f"p{i}" for i in range(60)]
    results = _model(client).batch(prompts, concurrency=6, progress=False)
    assert [r.text for r in results if isinstance(r, Completion)] == [f"echo:p{i}" for i in range(60)]
    assert sorted(echo.calls) == sorted(prompts)
    assert echo.peak <= 6


def test_batch_under_sparse_throttling_keeps_its_window_and_loses_nothing() -> None:
    client, echo = _runtime(), EchoRuntime(throttle_every=7)
    client.invoke_model = echo
    model = _model(client)
    prompts = [f"p{i}" for i in range(200)]
    results = model.batch(prompts, concurrency=8, progress=False)
    assert [r.text for r in results if isinstance(r, Completion)] == [f"echo:p{i}" for i in range(200)]
    # every prompt answered exactly once; throttled attempts were retried by the transport
    assert len(echo.calls) == 200 + sum(1 for n in range(1, len(echo.calls) + 1) if n % 7 == 0)
    stats = model.last_batch_stats
    assert stats is not None
    assert stats.throttled > 0
    # one attempt in seven throttled is sparse, as random throttling is: neither window nor pace is cut for it
    assert (stats.decreases, stats.min_concurrency, stats.pace) == (0, 8, None)
    assert stats.succeeded == 200
    assert stats.failed == 0


def test_batch_recovers_concurrency_after_throttling_stops() -> None:
    client = _runtime()
    state = {"n": 0}
    lock = threading.Lock()

    def invoke(**params: Any) -> dict[str, Any]:
        with lock:
            state["n"] += 1
            n = state["n"]
        if n <= 40:  # a throttling storm long enough to outlast several windows, then calm
            raise _client_error("ThrottlingException", 429)
        return _reply("ok")

    client.invoke_model = invoke
    model = _model(client)
    results = model.batch(["x"] * 300, concurrency=4, progress=False, on_error="return")
    stats = model.last_batch_stats
    assert stats is not None
    assert stats.min_concurrency == 1
    assert stats.final_concurrency == 4
    assert stats.increases >= 3
    # items that were throttled on all their attempts are returned in place; everything else succeeded
    assert all(isinstance(r, (Completion, hf.ThrottlingError)) for r in results)
    assert stats.succeeded + stats.failed == 300
    assert stats.failed == sum(isinstance(r, hf.ThrottlingError) for r in results) > 0


def test_batch_cuts_once_per_window_not_once_per_signal() -> None:
    client = _runtime()
    state = {"n": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def invoke(**params: Any) -> dict[str, Any]:
        with lock:
            state["n"] += 1
            n = state["n"]
        if n <= 8:  # the first eight calls are all in flight together and all throttled
            barrier.wait(timeout=5)
            raise _client_error("ThrottlingException", 429)
        return _reply("ok")

    client.invoke_model = invoke
    model = _model(client)
    model.batch(["x"] * 8, concurrency=8, progress=False)
    stats = model.last_batch_stats
    assert stats is not None
    assert stats.throttled == 8
    assert (stats.decreases, stats.min_concurrency) == (1, 6)  # 8 * 0.75, once


def test_batch_on_error_return_puts_errors_in_place() -> None:
    client, echo = _runtime(), EchoRuntime(fail_texts=frozenset({"p3", "p7"}))
    client.invoke_model = echo
    results = _model(client).batch([f"p{i}" for i in range(10)], concurrency=3, progress=False, on_error="return")
    assert isinstance(results[3], hf.ServiceValidationError)
    assert isinstance(results[7], hf.ServiceValidationError)
    assert [r.text for i, r in enumerate(results) if isinstance(r, Completion)] == [
        f"echo:p{i}" for i in range(10) if i not in (3, 7)
    ]


def test_batch_on_error_raise_stops_early() -> None:
    client, echo = _runtime(), EchoRuntime(fail_texts=frozenset({"p0"}))
    client.invoke_model = echo
    with pytest.raises(hf.ServiceValidationError):
        _model(client).batch([f"p{i}" for i in range(500)], concurrency=1, progress=False)
    assert len(echo.calls) < 500


def test_batch_names_the_bad_prompt_before_any_call() -> None:
    client, echo = _runtime(), EchoRuntime()
    client.invoke_model = echo
    with pytest.raises(ValueError, match="prompt 2"):
        _model(client).batch(["a", "b", ""], progress=False)
    assert echo.calls == []


def test_batch_grows_the_connection_pool() -> None:
    transport = hf.BedrockTransport(
        session=boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2"),
        max_pool_connections=4,
    )
    assert transport.with_pool(16).client("bedrock-runtime").meta.config.max_pool_connections == 16


def test_base_model_is_on_demand_haiku() -> None:
    assert FineTunedModel.base().model_id == "anthropic.claude-3-haiku-20240307-v1:0"


def _events(*payloads: dict[str, Any], error: Exception | None = None) -> Any:
    for payload in payloads:
        yield {"chunk": {"bytes": orjson.dumps(payload)}}
    if error is not None:
        raise error


_STREAM = (
    {"type": "message_start", "message": {"id": "msg_9", "role": "assistant", "usage": {"input_tokens": 11}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
)


def test_stream_yields_text_deltas_then_the_whole_completion() -> None:
    client = _runtime()
    sent: list[dict[str, Any]] = []

    def invoke_stream(**params: Any) -> dict[str, Any]:
        sent.append(params)
        return {"body": _events(*_STREAM)}

    client.invoke_model_with_response_stream = invoke_stream
    stream = _model(client).stream("hi", max_tokens=20)
    assert sent == []  # checked now, sent on the first next()
    assert list(stream) == ["Hel", "lo"]
    assert orjson.loads(sent[0]["body"])["max_tokens"] == 20
    assert stream.completion.text == "Hello"
    assert stream.completion.stop_reason == "end_turn"
    assert (stream.completion.usage.input_tokens, stream.completion.usage.output_tokens) == (11, 2)


def test_stream_checks_parameters_before_sending() -> None:
    client = _runtime()
    client.invoke_model_with_response_stream = lambda **params: pytest.fail("must not be called")
    with pytest.raises(ValueError, match="temperature"):
        _model(client).stream("hi", temperature=2)


def test_an_error_event_mid_stream_becomes_a_library_error() -> None:
    from botocore.exceptions import EventStreamError

    error = EventStreamError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "InvokeModelWithResponseStream"
    )
    client = _runtime()
    client.invoke_model_with_response_stream = lambda **params: {"body": _events(*_STREAM[:3], error=error)}
    stream = _model(client).stream("hi")
    assert next(stream) == "Hel"
    with pytest.raises(hf.ThrottlingError, match="slow down"):
        next(stream)
    with pytest.raises(RuntimeError, match="not been read to the end"):
        _ = stream.completion


def test_two_different_system_prompts_are_refused() -> None:
    prompt = Prompt(messages=[{"role": "user", "content": "x"}], system="A")
    model = FineTunedModel(ARN)
    assert model.request_body(prompt, system="A")["system"] == "A"
    assert model.request_body(Prompt.from_text("x"), system="B")["system"] == "B"
    with pytest.raises(ValueError, match="two different system prompts"):
        model.request_body(prompt, system="B")


def test_batch_on_error_raise_lets_in_flight_calls_finish_and_skips_the_rest() -> None:
    client, echo = _runtime(), EchoRuntime(fail_texts=frozenset({"p5"}))
    client.invoke_model = echo
    model = _model(client)
    with pytest.raises(hf.ServiceValidationError):
        model.batch([f"p{i}" for i in range(400)], concurrency=4, progress=False)
    stats = model.last_batch_stats
    assert stats is not None
    assert stats.failed == 1
    assert stats.skipped > 0
    assert stats.succeeded + stats.failed + stats.skipped == 400
    assert len(echo.calls) == stats.succeeded + stats.failed  # nothing sent twice, skipped ones never sent


def test_ctrl_c_stops_a_batch_at_once_and_sends_nothing_more() -> None:
    import os
    import signal

    client = _runtime()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def invoke(**params: Any) -> dict[str, Any]:
        calls.append(1)
        started.set()
        release.wait(5)
        return _reply("ok")

    def interrupt() -> None:
        started.wait(5)
        os.kill(os.getpid(), signal.SIGINT)

    client.invoke_model = invoke
    model = _model(client)
    threading.Thread(target=interrupt, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.batch(["x"] * 50, concurrency=4, progress=False)
    finally:
        release.set()
    stats = model.last_batch_stats
    assert stats is not None
    assert stats.skipped >= 46
    assert len(calls) <= 4


def test_repeated_batches_reuse_one_pooled_transport() -> None:
    transport = hf.BedrockTransport(
        session=boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2"),
        max_pool_connections=4,
    )
    model = FineTunedModel(ARN, transport=transport)
    first = model._pooled_transport(16)
    assert first is model._pooled_transport(16)
    assert first.max_pool_connections == 16
    assert model._pooled_transport(2) is transport  # already big enough


# -- one inference-parameters type ---------------------------------------------------------------------


def test_inference_parameters_are_one_checked_frozen_value() -> None:
    import dataclasses

    from haiku_finetune.model import InferenceOptions, InferenceParameters

    params = InferenceParameters(max_tokens=200, temperature=0.1, stop_sequences=["END"], system="Be brief.")
    assert params.stop_sequences == ("END",) and hash(params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.max_tokens = 5  # type: ignore[misc]
    # The keyword form names exactly the same parameters.
    assert set(InferenceOptions.__annotations__) == {f.name for f in dataclasses.fields(InferenceParameters)}
    with pytest.raises(ValueError, match="top_p must be a number from 0 to 1"):
        InferenceParameters(top_p=2)
    with pytest.raises(TypeError, match="unknown inference parameter"):
        InferenceParameters.of(None, max_token=5)


def test_params_value_and_keywords_build_the_same_body_and_keywords_override() -> None:
    from haiku_finetune.model import InferenceParameters

    model = FineTunedModel(ARN, transport=hf.BedrockTransport(region="us-west-2"))
    params = InferenceParameters(max_tokens=200, temperature=0.3, system="S")
    assert model.request_body("hi", params=params) == model.request_body(
        "hi", max_tokens=200, temperature=0.3, system="S"
    )
    assert model.request_body("hi", params=params, max_tokens=10)["max_tokens"] == 10
    assert params.converse_params("hi")["inferenceConfig"] == {"maxTokens": 200, "temperature": 0.3}


def test_a_model_keeps_the_transport_it_was_built_with_and_lends_it() -> None:
    built_with = hf.BedrockTransport(region="us-west-2")
    model = FineTunedModel(ARN, transport=built_with)
    other = hf.BedrockTransport(region="us-west-2")
    try:
        hf.set_default_transport(other)
        assert model.transport is built_with
        assert model.base().transport is built_with
        assert model.with_model_id("x").transport is built_with
        assert FineTunedModel.base().transport is other
        assert FineTunedModel(ARN).transport is other  # resolved at construction...
    finally:
        hf.set_default_transport(None)
    assert FineTunedModel.base(transport=built_with).transport is built_with
