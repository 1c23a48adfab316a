"""Bedrock model evaluation jobs on LocalBedrock: create, wait, results, report, stop, list, failures.

The emulator's judge is deterministic (``judge_score``: 1 for a match with the reference, else token-overlap F1),
so every expected score is recomputed here from the answers the responders give.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune.errors import JobFailedError, JobStoppedError
from haiku_finetune.evaluation import ExactMatch, evaluate
from haiku_finetune.evaluation.managed import EvaluationJob
from haiku_finetune.local.evaluation_jobs import RUN_SECONDS, STOP_SECONDS, judge_score
from haiku_finetune.model import BASE_INVOKE_MODEL_ID, FineTunedModel
from haiku_finetune.storage import list_objects

BUCKET = "eval-jobs"
STAGING = f"s3://{BUCKET}/evaluation/"
ROLE = "arn:aws:iam::123456789012:role/haiku-eval"
JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"

QUESTIONS = {
    "What is the capital of France?": "Paris",
    "Which queue handles refunds?": "refund",
    "What colour is the sky on a clear day?": "blue",
    "Name the largest planet.": "Jupiter",
    "What is two plus two?": "four",
    "Which queue handles password resets?": "account",
}
# The base model gets half of them wrong (one partly, by token overlap).
BASE_ANSWERS = {
    "What is the capital of France?": "Paris",
    "Which queue handles refunds?": "billing",
    "What colour is the sky on a clear day?": "blue",
    "Name the largest planet.": "Saturn",
    "What is two plus two?": "four",
    "Which queue handles password resets?": "account reset",
}


def _records() -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in QUESTIONS.items()
    ]


def _expected(answers: dict[str, str]) -> list[float | None]:
    return [judge_score("Builtin.Accuracy", answers[q], a) for q, a in QUESTIONS.items()]


@pytest.fixture(scope="module", autouse=True)
def _bucket_and_base(local: Any, transport: hf.BedrockTransport) -> None:
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    local.set_responder(BASE_INVOKE_MODEL_ID, lambda request: BASE_ANSWERS[request["messages"][-1]["content"]])


def test_automatic_metrics_on_a_bedrock_model(local: Any, transport: hf.BedrockTransport) -> None:
    job = EvaluationJob.create(
        _records(),
        model=BASE_INVOKE_MODEL_ID,
        metrics=["Builtin.Accuracy", "Builtin.Toxicity"],
        staging_uri=STAGING,
        role_arn=ROLE,
        transport=transport,
    )
    assert job.transport is transport
    assert job.refresh().status == "InProgress"
    assert re.fullmatch(r"haiku-eval-\d{8}-\d{6}-[0-9a-f]{12}", job.name)
    job.wait(progress=False)
    assert job.status == "Completed"

    # The documented layout: <output>/<job name>/<job id>/models/<model>/taskTypes/<task>/datasets/<dataset>/.
    keys = [o["Key"] for o in list_objects(job.output_uri, transport=transport)]
    assert len(keys) == 1
    assert re.fullmatch(
        rf"evaluation/{job.name}/output/{job.name}/{job.job_id}/models/{re.escape(BASE_INVOKE_MODEL_ID)}"
        r"/taskTypes/Generation/datasets/haiku-finetune-test-set/[a-z0-9]{12}_output\.jsonl",
        keys[0],
    )

    records = job.results()
    assert [r.response for r in records] == [BASE_ANSWERS[q] for q in QUESTIONS]
    assert [r.reference for r in records] == list(QUESTIONS.values())

    report = job.report()
    assert report.scorers == ["Builtin.Accuracy", "Builtin.Toxicity"]
    model = job.label
    assert report.scores(model, "Builtin.Accuracy") == _expected(BASE_ANSWERS)
    assert report.scores(model, "Builtin.Toxicity") == [0.0] * len(QUESTIONS)
    assert report.summary[model].scores["Builtin.Accuracy"].mean == pytest.approx(
        sum(v or 0.0 for v in _expected(BASE_ANSWERS)) / len(QUESTIONS)
    )
    assert [row.id for row in report.rows] == [str(i) for i in range(len(QUESTIONS))]
    assert report.metadata["evaluation_job"]["arn"] == job.arn

    # An attached job (no examples in memory) reads the same scores from the files alone.
    again = EvaluationJob.attach(job.arn, transport=transport)
    assert again.report(model=model).scores(model, "Builtin.Accuracy") == _expected(BASE_ANSWERS)
    tags = transport.call("bedrock", "ListTagsForResource", resourceARN=job.arn)["tags"]
    assert {"key": "created-by", "value": "haiku-finetune"} in tags


def test_judge_on_precomputed_responses_lands_beside_local_scores(local: Any, transport: hf.BedrockTransport) -> None:
    local_report = evaluate(
        {"base": FineTunedModel.base(transport=transport)}, _records(), scorers=[ExactMatch()], progress=False
    )
    judged_base = EvaluationJob.create(
        None,  # the report's rows are the test set
        responses=local_report,
        metrics=["Builtin.Correctness", "Builtin.Helpfulness"],
        evaluator_model=JUDGE,
        staging_uri=STAGING,
        role_arn=ROLE,
        transport=transport,
    )
    oracle = EvaluationJob.create(
        _records(),
        responses=list(QUESTIONS.values()),
        response_model="oracle",
        metrics=["Builtin.Correctness", "Builtin.Helpfulness"],
        evaluator_model=JUDGE,
        staging_uri=STAGING,
        role_arn=ROLE,
        transport=transport,
    )
    assert judged_base.model_identifier == "base"
    assert [e.id for e in judged_base.examples or []] == [row.id for row in local_report.rows]
    assert judged_base.evaluator_model == JUDGE
    local.advance(RUN_SECONDS)
    judged_base.wait(progress=False)
    oracle.wait(progress=False)

    merged = oracle.report(into=judged_base.report(into=local_report, model="base"), model="oracle")
    assert merged.scorers == ["exact_match", "Builtin.Correctness", "Builtin.Helpfulness"]
    assert list(merged.models) == ["base", "oracle"]
    # The local scores and texts are kept; the service's scores sit beside them.
    assert merged.scores("base", "exact_match") == local_report.scores("base", "exact_match")
    assert [o.text for o in merged.outputs("base")] == [BASE_ANSWERS[q] for q in QUESTIONS]
    assert merged.scores("base", "Builtin.Correctness") == _expected(BASE_ANSWERS)
    assert merged.scores("oracle", "Builtin.Correctness") == [1.0] * len(QUESTIONS)
    assert "LocalBedrock's judge" in merged.outputs("base")[0].details["Builtin.Correctness"]["explanation"]
    comparison = merged.compare("oracle", "base", scorers=["Builtin.Correctness"])["Builtin.Correctness"]
    assert (comparison.wins, comparison.ties, comparison.losses) == (3, 3, 0)
    assert comparison.mean_difference == pytest.approx(
        sum(1.0 - (v or 0.0) for v in _expected(BASE_ANSWERS)) / len(QUESTIONS)
    )


def test_stop_goes_through_stopping_to_stopped(local: Any, transport: hf.BedrockTransport) -> None:
    job = EvaluationJob.create(
        _records(),
        model=BASE_INVOKE_MODEL_ID,
        metrics=["Builtin.Accuracy"],
        staging_uri=STAGING,
        role_arn=ROLE,
        transport=transport,
    )
    assert job.stop().status == "Stopping"
    assert job.stop().status == "Stopping"  # a second stop is a no-op, not an error
    local.advance(STOP_SECONDS)
    assert job.refresh().status == "Stopped"
    with pytest.raises(JobStoppedError, match="was stopped"):
        job.wait(progress=False)
    with pytest.raises(ValueError, match="no result files"):
        job.results()


def test_a_failed_job_keeps_the_service_message(local: Any, transport: hf.BedrockTransport) -> None:
    response = transport.call(
        "bedrock",
        "CreateEvaluationJob",
        jobName="missing-dataset",
        roleArn=ROLE,
        evaluationConfig={
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "Generation",
                        "dataset": {"name": "gone", "datasetLocation": {"s3Uri": f"s3://{BUCKET}/nothing.jsonl"}},
                        "metricNames": ["Builtin.Accuracy"],
                    }
                ]
            }
        },
        inferenceConfig={"models": [{"bedrockModel": {"modelIdentifier": BASE_INVOKE_MODEL_ID}}]},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
    )
    job = EvaluationJob.attach(response["jobArn"], transport=transport)
    local.advance(RUN_SECONDS)
    with pytest.raises(JobFailedError, match="Could not read the prompt dataset"):
        job.wait(progress=False)
    assert job.failure_messages == [f"Could not read the prompt dataset s3://{BUCKET}/nothing.jsonl"]


def test_list_newest_first_across_pages_and_filters(local: Any, transport: hf.BedrockTransport) -> None:
    names = [f"listed-{i}" for i in range(7)]
    for name in names:
        EvaluationJob.create(
            _records()[:1],
            model=BASE_INVOKE_MODEL_ID,
            metrics=["Builtin.Accuracy"],
            staging_uri=STAGING,
            role_arn=ROLE,
            job_name=name,
            transport=transport,
        )
        local.advance(1)
    listed = EvaluationJob.list(name_contains="listed", transport=transport)
    assert [j.name for j in listed] == names[::-1]  # 7 jobs: more than one page of 5
    assert all(j.transport is transport for j in listed)
    assert listed[0].metric_names == ["Builtin.Accuracy"]  # the summary is completed by GetEvaluationJob
    assert [j.name for j in EvaluationJob.list(name_contains="listed", limit=2, transport=transport)] == names[:-3:-1]
    assert EvaluationJob.list(status="Stopping", name_contains="listed", transport=transport) == []


def test_the_emulator_refuses_what_the_service_would(transport: hf.BedrockTransport) -> None:
    from haiku_finetune.errors import ConflictError, ServiceValidationError

    EvaluationJob.create(
        _records(),
        model=BASE_INVOKE_MODEL_ID,
        metrics=["Builtin.Accuracy"],
        staging_uri=STAGING,
        role_arn=ROLE,
        job_name="taken",
        transport=transport,
    )
    with pytest.raises(ConflictError):
        EvaluationJob.create(
            _records(),
            model=BASE_INVOKE_MODEL_ID,
            metrics=["Builtin.Accuracy"],
            staging_uri=STAGING,
            role_arn=ROLE,
            job_name="taken",
            transport=transport,
        )
    with pytest.raises(ServiceValidationError):  # the API's lowercase name pattern, checked by the wire layer
        EvaluationJob.create(
            _records(),
            model=BASE_INVOKE_MODEL_ID,
            metrics=["Builtin.Accuracy"],
            staging_uri=STAGING,
            role_arn=ROLE,
            job_name="Upper-Case",
            transport=transport,
        )


def test_a_deployment_is_evaluated_through_its_provisioned_throughput(
    local: Any, transport: hf.BedrockTransport
) -> None:
    import orjson

    records = [
        {"messages": [{"role": "user", "content": f"ticket {i}"}, {"role": "assistant", "content": "billing"}]}
        for i in range(40)
    ]
    transport.call(
        "s3",
        "PutObject",
        Bucket=BUCKET,
        Key="tune/train.jsonl",
        Body=b"".join(orjson.dumps(r) + b"\n" for r in records),
    )
    role = hf.iam.ensure_service_role(
        "eval-jobs-tune",
        training=f"s3://{BUCKET}/tune/train.jsonl",
        output=f"s3://{BUCKET}/tune/out/",
        transport=transport,
    )
    tuning = hf.CustomizationJob.create(
        training_data=f"s3://{BUCKET}/tune/train.jsonl",
        output_uri=f"s3://{BUCKET}/tune/out/",
        role_arn=role,
        job_name="eval-jobs-tune",
        custom_model_name="eval-jobs-tune",
        transport=transport,
    )
    tuning.wait(progress=False)
    tuned_answers = dict(QUESTIONS) | {"Name the largest planet.": "Jupiter, the gas giant"}
    local.set_responder(tuning.custom_model.arn, lambda request: tuned_answers[request["messages"][-1]["content"]])
    with hf.ProvisionedDeployment.create(tuning.custom_model, transport=transport) as deployment:  # deleted on exit
        deployment.wait(progress=False)
        job = EvaluationJob.create(
            _records(), model=deployment, metrics=["Builtin.Accuracy"], staging_uri=STAGING, role_arn=ROLE
        )
        assert job.transport is transport  # lent by the deployment
        assert job.model_identifier == deployment.arn
        gone = EvaluationJob.create(
            _records(), model=deployment, metrics=["Builtin.Accuracy"], staging_uri=STAGING, role_arn=ROLE
        )
        local.advance(RUN_SECONDS)
        job.wait(progress=False)
    report = job.report(model="tuned")
    assert report.scores("tuned", "Builtin.Accuracy") == _expected(tuned_answers)
    assert [o.text for o in report.outputs("tuned")] == [tuned_answers[q] for q in QUESTIONS]
    assert all(f"/models/{deployment.arn.rsplit('/', 1)[-1]}/" in uri for uri in job.result_uris())
    # A job whose deployment was deleted before it ran fails with the runtime's message.
    with pytest.raises(JobFailedError, match="does not exist"):
        gone.wait(progress=False)
