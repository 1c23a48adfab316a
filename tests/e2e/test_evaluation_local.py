"""Acceptance on LocalBedrock: base vs tuned on a held-out split, and batch inference == call by call.

The whole workflow runs against the emulator with its manual clock: a fine-tuning job on the sample support
tickets, a provisioned deployment of the custom model, and evaluate() over the tickets held out of training.
The two models answer through responders, so the expected numbers are recomputed here by hand.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import haiku_finetune as hf
from haiku_finetune.data import SYSTEM_PROMPT, support_tickets_path
from haiku_finetune.deployment import BillingWarning
from haiku_finetune.evaluation import ExactMatch, LabelAccuracy, LlmJudge, RougeL, evaluate
from haiku_finetune.model import BASE_INVOKE_MODEL_ID, FineTunedModel

BUCKET = "eval-acceptance"
HELD_OUT = 40


def _tickets() -> list[dict[str, Any]]:
    records = []
    for line in support_tickets_path().read_bytes().splitlines():
        item = orjson.loads(line)
        records.append(
            {
                "system": SYSTEM_PROMPT,
                "messages": [
                    {"role": "user", "content": item["prompt"]},
                    {"role": "assistant", "content": item["completion"]},
                ],
            }
        )
    return records


def _base_answer(ticket: str) -> str:
    """A weak keyword classifier: what the base model 'knows' about the queues."""
    text = ticket.lower()
    for word, label in (("refund", "refund"), ("charge", "billing"), ("invoice", "billing"), ("password", "account")):
        if word in text:
            return label
    return "technical"


@pytest.fixture(scope="module")
def tickets() -> list[dict[str, Any]]:
    return _tickets()


@pytest.fixture(scope="module")
def deployed(local: Any, transport: hf.BedrockTransport, tickets: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Fine-tune on all but the last HELD_OUT tickets, deploy the custom model, wire up both responders."""
    train, test = tickets[:-HELD_OUT], tickets[-HELD_OUT:]
    truth = {r["messages"][0]["content"]: r["messages"][1]["content"] for r in tickets}
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for name, records in (("train.jsonl", train[:-40]), ("validation.jsonl", train[-40:])):
        body = b"".join(orjson.dumps(r) + b"\n" for r in records)
        transport.call("s3", "PutObject", Bucket=BUCKET, Key=f"data/{name}", Body=body)
    role = hf.iam.ensure_service_role(
        "eval-acceptance",
        training=f"s3://{BUCKET}/data/train.jsonl",
        validation=f"s3://{BUCKET}/data/validation.jsonl",
        output=f"s3://{BUCKET}/out/",
        transport=transport,
    )
    job = hf.CustomizationJob.create(
        training_data=f"s3://{BUCKET}/data/train.jsonl",
        validation_data=f"s3://{BUCKET}/data/validation.jsonl",
        output_uri=f"s3://{BUCKET}/out/",
        role_arn=role,
        job_name="tickets-eval",
        custom_model_name="tickets-eval",
        transport=transport,
    )
    job.wait(progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BillingWarning)
        deployment = hf.ProvisionedDeployment.create(job.custom_model, transport=transport)
        deployment.wait(progress=False)  # the BillingWarning comes at the first use outside a with block

    # The tuned model knows every queue except that it files tickets mentioning the app under technical.
    def tuned(request: dict[str, Any]) -> str:
        ticket = request["messages"][-1]["content"]
        return "technical" if " app" in ticket.lower() else truth[ticket]

    def base(request: dict[str, Any]) -> str:
        return _base_answer(request["messages"][-1]["content"])

    # On the custom model, so it answers both through the deployment and in batch jobs that name the model.
    local.set_responder(job.custom_model.arn, tuned)
    local.set_responder(BASE_INVOKE_MODEL_ID, base)
    try:
        yield {"test": test, "deployment": deployment, "role": role, "truth": truth}
    finally:
        deployment.delete()


def _expected(test: list[dict[str, Any]], answer: Any) -> list[float]:
    return [1.0 if answer(r["messages"][0]["content"]) == r["messages"][1]["content"] else 0.0 for r in test]


def test_base_vs_tuned_on_held_out_split(deployed: dict[str, Any], transport: hf.BedrockTransport) -> None:
    test = deployed["test"]
    truth = deployed["truth"]
    models = {
        "base": FineTunedModel.base(transport=transport),
        "tuned": deployed["deployment"].model,
    }
    report = evaluate(models, test, scorers=[ExactMatch(), LabelAccuracy(), RougeL()], progress=False)

    # Recompute by hand what each model got right.
    tuned_hits = _expected(test, lambda t: "technical" if " app" in t.lower() else truth[t])
    base_hits = _expected(test, _base_answer)
    assert report.scores("tuned", "exact_match") == tuned_hits
    assert report.scores("base", "exact_match") == base_hits
    summary = report.summary
    assert summary["tuned"].scores["exact_match"].mean == pytest.approx(sum(tuned_hits) / HELD_OUT)
    assert summary["base"].scores["exact_match"].mean == pytest.approx(sum(base_hits) / HELD_OUT)
    assert summary["tuned"].errors == summary["base"].errors == 0
    assert summary["tuned"].examples == HELD_OUT
    assert summary["tuned"].input_tokens > 0
    assert summary["tuned"].latency_p50 is not None

    wins = sum(1 for t, b in zip(tuned_hits, base_hits, strict=True) if t > b)
    losses = sum(1 for t, b in zip(tuned_hits, base_hits, strict=True) if t < b)
    comparison = report.compare("tuned", "base")["exact_match"]
    assert (comparison.wins, comparison.losses) == (wins, losses)
    assert comparison.significant
    assert comparison.better == "tuned"

    # A null case on the same data: the tuned model against itself under another name.
    twin = evaluate(
        {"tuned": models["tuned"], "twin": FineTunedModel(models["tuned"].model_id, transport=transport)},
        test,
        scorers=[ExactMatch()],
        progress=False,
    )
    assert not twin.compare("tuned", "twin")["exact_match"].significant


def _same_scores(by_call: Any, by_batch: Any, names: list[str]) -> None:
    assert by_batch.engine == "batch"
    for name in names:
        assert [o.error for o in by_batch.outputs(name)] == [None] * HELD_OUT
        for scorer in ("exact_match", "label_accuracy", "rouge_l"):
            assert by_batch.scores(name, scorer) == by_call.scores(name, scorer)
        assert [o.text for o in by_batch.outputs(name)] == [o.text for o in by_call.outputs(name)]
        assert by_batch.summary[name].latency_p50 is None
        assert by_batch.summary[name].input_tokens == by_call.summary[name].input_tokens
        assert (
            by_batch.summary[name].scores["label_accuracy"].aggregate
            == by_call.summary[name].scores["label_accuracy"].aggregate
        )


SCORERS = [ExactMatch(), LabelAccuracy(), RougeL()]


def test_batch_inference_gives_the_same_scores_as_call_by_call(
    deployed: dict[str, Any], transport: hf.BedrockTransport
) -> None:
    test = deployed["test"]
    models = {"base": FineTunedModel.base(transport=transport)}
    by_call = evaluate(models, test, scorers=SCORERS, progress=False)
    by_batch = evaluate(
        models,
        test,
        scorers=SCORERS,
        progress=False,
        engine="batch",
        staging_uri=f"s3://{BUCKET}/batch/",
        role_arn=deployed["role"],
        transport=transport,
    )
    _same_scores(by_call, by_batch, ["base"])
    jobs = transport.call("bedrock", "ListModelInvocationJobs")["invocationJobSummaries"]
    [job] = [j for j in jobs if j["modelId"] == BASE_INVOKE_MODEL_ID]
    assert job["status"] == "Completed"
    assert job["jobName"].startswith("haiku-eval-base-")


def test_batch_inference_of_the_fine_tune_gives_the_same_scores(
    deployed: dict[str, Any], transport: hf.BedrockTransport
) -> None:
    models = {"tuned": deployed["deployment"].model}
    by_call = evaluate(models, deployed["test"], scorers=SCORERS, progress=False)
    by_batch = evaluate(
        models,
        deployed["test"],
        scorers=SCORERS,
        progress=False,
        engine="batch",
        staging_uri=f"s3://{BUCKET}/batch/",
        role_arn=deployed["role"],
        transport=transport,
    )
    _same_scores(by_call, by_batch, ["tuned"])


def test_llm_judge_through_a_real_model(local: Any, transport: hf.BedrockTransport) -> None:
    def judge_or_answer(request: dict[str, Any]) -> str:
        text = request["messages"][-1]["content"]
        if "<candidate_answer>" in text:
            return "Right queue.\nScore: 5" if "<candidate_answer>\nrefund" in text else "Wrong queue.\nScore: 1"
        return "refund" if "money back" in text else "billing"

    data = [
        {"messages": [{"role": "user", "content": "I want my money back"}, {"role": "assistant", "content": "refund"}]},
        {
            "messages": [
                {"role": "user", "content": "Where is my parcel?"},
                {"role": "assistant", "content": "shipping"},
            ]
        },
    ]
    model = FineTunedModel.base(transport=transport)
    local.set_responder(BASE_INVOKE_MODEL_ID, judge_or_answer)
    try:
        report = evaluate({"m": model}, data, scorers=[LlmJudge(model, "Is it the right queue?")], progress=False)
    finally:  # the module's other tests expect the base model's keyword classifier
        local.set_responder(BASE_INVOKE_MODEL_ID, lambda request: _base_answer(request["messages"][-1]["content"]))
    assert report.scores("m", "llm_judge") == [5.0, 1.0]
    assert report.rows[1].outputs["m"].details["llm_judge"]["reply"] == "Wrong queue.\nScore: 1"
    assert report.summary["m"].scores["llm_judge"].mean == 3.0
