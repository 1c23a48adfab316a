"""evaluate() with scripted models: rows, scores, failures, aggregates, settings and argument checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from haiku_finetune.evaluation import (
    ExactMatch,
    JsonValid,
    LabelAccuracy,
    RougeL,
    evaluate,
)
from haiku_finetune.model import Completion, Prompt
from haiku_finetune.pricing import Pricing


def _body(text: str, tokens_in: int = 10, tokens_out: int = 2) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-haiku",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
    }


class ScriptedModel:
    """Stands in for FineTunedModel: answers each prompt with ``answer(question)``; records batch calls."""

    def __init__(self, model_id: str, answer: Callable[[str], str | BaseException], latency: float = 0.5) -> None:
        self.model_id = model_id
        self.answer = answer
        self.latency = latency
        self.calls: list[dict[str, Any]] = []

    def batch(self, prompts: Sequence[str | Prompt], **kwargs: Any) -> list[Completion | BaseException]:
        self.calls.append({"prompts": list(prompts), **kwargs})
        results: list[Completion | BaseException] = []
        for prompt in prompts:
            assert isinstance(prompt, Prompt)
            reply = self.answer(prompt.messages[-1]["content"])
            if isinstance(reply, BaseException):
                results.append(reply)
            else:
                results.append(Completion.from_body(_body(reply), latency=self.latency))
        return results


def _records(n: int) -> list[dict[str, Any]]:
    labels = ["billing", "bug", "other"]
    return [
        {
            "system": "Classify the ticket.",
            "messages": [
                {"role": "user", "content": f"ticket {i}"},
                {"role": "assistant", "content": labels[i % 3]},
            ],
        }
        for i in range(n)
    ]


def _truth(question: str) -> str:
    return ["billing", "bug", "other"][int(question.split()[-1]) % 3]


def test_rows_scores_and_summary() -> None:
    tuned = ScriptedModel("arn:tuned", _truth, latency=0.2)
    base = ScriptedModel("base-id", lambda q: "billing", latency=0.4)
    report = evaluate(
        {"tuned": tuned, "base": base},  # type: ignore[dict-item]
        _records(9),
        scorers=[ExactMatch(), LabelAccuracy(["billing", "bug", "other"])],
        progress=False,
        pricing=Pricing(invoke_input_per_1k_tokens=1.0, invoke_output_per_1k_tokens=2.0),
    )
    assert report.models == {"tuned": "arn:tuned", "base": "base-id"}
    assert report.scorers == ["exact_match", "label_accuracy"]
    assert len(report.rows) == 9
    row = report.rows[1]
    assert (row.id, row.reference, row.system) == ("1", "bug", "Classify the ticket.")
    assert row.messages == [{"role": "user", "content": "ticket 1"}]
    assert row.outputs["tuned"].text == "bug"
    assert row.outputs["tuned"].scores == {"exact_match": 1.0, "label_accuracy": 1.0}
    assert row.outputs["base"].scores["exact_match"] == 0.0
    assert row.outputs["base"].details["label_accuracy"] == {"predicted": "billing", "expected": "bug"}
    assert row.outputs["tuned"].latency == 0.2
    assert (row.outputs["tuned"].input_tokens, row.outputs["tuned"].output_tokens) == (10, 2)
    summary = report.summary
    assert summary["tuned"].scores["exact_match"].mean == 1.0
    assert summary["base"].scores["exact_match"].mean == pytest.approx(1 / 3)
    assert summary["base"].latency_p50 == 0.4
    assert summary["tuned"].input_tokens == 90
    assert summary["tuned"].cost == pytest.approx(90 / 1000 * 1.0 + 18 / 1000 * 2.0)
    matrix = summary["base"].scores["label_accuracy"].aggregate["confusion_matrix"]
    assert matrix["bug"]["billing"] == 3
    comparison = report.compare("tuned", "base")["exact_match"]
    assert (comparison.wins, comparison.ties, comparison.losses) == (6, 3, 0)
    assert comparison.p_value == pytest.approx(2 / 64)  # exact: six +1 differences
    assert comparison.significant


def test_inference_settings_reach_the_model() -> None:
    model = ScriptedModel("m", _truth)
    evaluate(
        {"m": model},  # type: ignore[dict-item]
        _records(3),
        scorers=[ExactMatch()],
        concurrency=3,
        progress=False,
        max_tokens=64,
        temperature=None,
    )
    [call] = model.calls
    assert call["concurrency"] == 3
    assert call["progress"] is False
    assert call["on_error"] == "return"
    assert call["max_tokens"] == 64
    assert call["temperature"] is None
    first = call["prompts"][0]
    assert first.system == "Classify the ticket."
    assert first.messages == [{"role": "user", "content": "ticket 0"}]


def test_failed_calls_become_errors_not_zeros() -> None:
    def flaky(question: str) -> str | BaseException:
        return RuntimeError("throttled for good") if question.endswith("4") else _truth(question)

    report = evaluate({"m": ScriptedModel("m", flaky)}, _records(6), scorers=[ExactMatch()], progress=False)  # type: ignore[dict-item]
    output = report.rows[4].outputs["m"]
    assert output.text is None
    assert output.error == "RuntimeError: throttled for good"
    assert output.scores == {"exact_match": None}
    summary = report.summary["m"]
    assert summary.errors == 1
    assert summary.scores["exact_match"].mean == 1.0
    assert summary.scores["exact_match"].n == 5
    assert summary.scores["exact_match"].unscored == 1


def test_plain_functions_and_several_scorers(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in _records(4)))

    def short(output: str, reference: str) -> bool:
        return len(output) < 10

    report = evaluate(
        {"m": ScriptedModel("m", lambda q: '{"label": "bug"}')},  # type: ignore[dict-item]
        path,
        scorers=[short, JsonValid(), RougeL()],
        max_examples=2,
        progress=False,
    )
    assert len(report.rows) == 2
    assert report.scorers == ["short", "json_valid", "rouge_l"]
    assert report.rows[0].outputs["m"].scores["short"] == 0.0
    assert report.rows[0].outputs["m"].scores["json_valid"] == 1.0
    assert report.rows[1].outputs["m"].scores["rouge_l"] == pytest.approx(2 / 3)  # "label bug" vs "bug"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scorers": [ExactMatch(), ExactMatch()]}, "unique"),
        ({"scorers": [ExactMatch()], "engine": "spark"}, "engine"),
        ({"scorers": [ExactMatch()], "concurrency": 0}, "concurrency"),
        ({"scorers": [ExactMatch()], "pricing": {"other": Pricing()}}, "unknown model"),
        ({"scorers": [ExactMatch()], "engine": "batch"}, "staging_uri"),
        ({"scorers": [ExactMatch()], "engine": "batch", "staging_uri": "s3://b/x/"}, "role_arn"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(kwargs: dict[str, Any], message: str) -> None:
    model = ScriptedModel("m", _truth)
    with pytest.raises(ValueError, match=message):
        evaluate({"m": model}, _records(2), progress=False, **kwargs)  # type: ignore[dict-item]
    assert model.calls == []


def test_needs_a_model() -> None:
    with pytest.raises(ValueError, match="at least one model"):
        evaluate({}, _records(2), scorers=[ExactMatch()])


def test_a_record_that_is_no_valid_prompt_is_named() -> None:
    record = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"},
        ],
        "id": "odd-one",
    }
    model = ScriptedModel("m", _truth)
    with pytest.raises(ValueError, match="test record 'odd-one' is not a valid prompt"):
        evaluate({"m": model}, [record], scorers=[ExactMatch()], progress=False)  # type: ignore[dict-item]
    assert model.calls == []


def test_held_out_split_of_a_dataset_builder() -> None:
    from haiku_finetune.data import SYSTEM_PROMPT, support_tickets_path
    from haiku_finetune.datasets import DatasetBuilder

    data = DatasetBuilder.from_prompt_completion(support_tickets_path(), system=SYSTEM_PROMPT)
    _, test = data.split(validation_fraction=0.1, seed=7)
    truth = {r["messages"][0]["content"]: r["messages"][1]["content"] for r in test}
    model = ScriptedModel("m", lambda ticket: truth[ticket])
    report = evaluate({"m": model}, test, scorers=[ExactMatch()], progress=False)  # type: ignore[dict-item]
    assert len(report.rows) == len(test) == 36
    assert report.summary["m"].scores["exact_match"].mean == 1.0
    assert model.calls[0]["prompts"][0].system == SYSTEM_PROMPT
