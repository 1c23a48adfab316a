"""FineTunedModel against LocalBedrock (real HTTP, real event-stream framing): the bodies it builds pass the
service's checks, the three call styles agree, and faults are retried by the transport only."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune.model import BASE_INVOKE_MODEL_ID, FineTunedModel, Prompt


def _last_text(request: dict[str, Any]) -> str:
    """The last message's text: a string from InvokeModel, text blocks from Converse."""
    content = request["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type", "text") == "text")


@pytest.fixture
def model(local: Any) -> Iterator[FineTunedModel]:
    local.faults = None
    local.set_responder(BASE_INVOKE_MODEL_ID, lambda request: "echo:" + _last_text(request))
    yield FineTunedModel.base(transport=local.transport())
    local.faults = None


def test_every_option_is_accepted_by_the_service(model: FineTunedModel) -> None:
    conversation = Prompt(
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ],
        system="Be brief.",
    )
    completion = model.invoke(
        conversation, max_tokens=4096, temperature=0.0, top_p=1.0, top_k=0, stop_sequences=["\n\nEND"]
    )
    assert completion.text == "echo:second"
    assert completion.stop_reason == "end_turn"
    assert completion.usage.input_tokens > 0 and completion.usage.output_tokens > 0
    assert completion.latency > 0


def test_invoke_converse_and_stream_agree(model: FineTunedModel) -> None:
    invoked = model.invoke("hello there", system="s", max_tokens=50)
    conversed = model.converse("hello there", system="s", max_tokens=50)
    stream = model.stream("hello there", system="s", max_tokens=50)
    pieces = list(stream)
    assert invoked.text == conversed.text == "".join(pieces) == stream.completion.text == "echo:hello there"
    assert len(pieces) >= 1
    assert stream.completion.stop_reason == invoked.stop_reason
    assert stream.completion.usage == invoked.usage


def test_the_fine_tuning_base_id_is_refused_on_demand(local: Any) -> None:
    with pytest.raises(hf.ServiceValidationError, match="Provisioned Throughput"):
        FineTunedModel(hf.BASE_MODEL_ID, transport=local.transport()).invoke("hi")


def test_faults_are_retried_by_the_transport_alone(local: Any, model: FineTunedModel) -> None:
    from haiku_finetune.local import Faults

    local.faults = Faults(throttle={"InvokeModel": 2}, server_error={"InvokeModel": 1})
    assert model.invoke("once").text == "echo:once"  # three failed attempts, then the answer


def test_a_stream_that_is_throttled_is_retried_before_it_starts(local: Any, model: FineTunedModel) -> None:
    from haiku_finetune.local import Faults

    local.faults = Faults(throttle={"InvokeModelWithResponseStream": 2})
    assert "".join(model.stream("s")) == "echo:s"


def test_batch_under_drops_5xx_and_throttling_returns_each_answer_once_in_order(
    local: Any, model: FineTunedModel
) -> None:
    from haiku_finetune.local import Faults

    answered: Counter[str] = Counter()
    lock = threading.Lock()

    def echo(request: dict[str, Any]) -> str:
        text = str(request["messages"][-1]["content"])
        with lock:
            answered[text] += 1
        return "echo:" + text

    local.set_responder(BASE_INVOKE_MODEL_ID, echo)
    local.faults = Faults(throttle=0.1, server_error=0.05, drop=0.03, seed=3)
    prompts = [f"q{i}" for i in range(200)]
    results = model.batch(prompts, concurrency=8, progress=False, on_error="return")
    assert len(results) == 200
    answers = {i: r for i, r in enumerate(results) if isinstance(r, hf.Completion)}
    assert all(r.text == f"echo:q{i}" for i, r in answers.items())
    assert len(answers) >= 198
    # The emulator drops connections before answering, so every answered prompt was answered exactly once.
    assert all(answered[f"q{i}"] == 1 for i in answers)
    assert sum(answered.values()) == len(answers)
    stats = model.last_batch_stats
    # Sparse, random throttles are the transport's to retry: they do not cut the window (congestion does).
    assert stats is not None and stats.throttled > 0
    assert (stats.decreases, stats.min_concurrency) == (0, 8)
    assert stats.succeeded + stats.failed == 200
