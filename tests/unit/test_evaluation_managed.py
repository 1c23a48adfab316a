"""EvaluationJob without a service: argument checks (before any upload), result parsing, report merging, and the
exact CreateEvaluationJob request (botocore Stubber)."""

from __future__ import annotations

from typing import Any

import boto3
import orjson
import pytest
from botocore.stub import ANY, Stubber

import haiku_finetune as hf
from haiku_finetune.evaluation import EvaluationReport, ExampleRow, ModelOutput
from haiku_finetune.evaluation.examples import Example
from haiku_finetune.evaluation.managed import MAX_PROMPTS, EvaluationJob, _parse_result, _prompt_text
from haiku_finetune.local.evaluation_jobs import judge_score

ROLE = "arn:aws:iam::123456789012:role/eval"
ARN = "arn:aws:bedrock:us-west-2:123456789012:evaluation-job/abcdefghijkl"
PT = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"


def _examples(n: int = 2) -> list[Example]:
    return [Example(id=f"e{i}", messages=({"role": "user", "content": f"q{i}"},), reference=f"a{i}") for i in range(n)]


def _stubbed() -> tuple[hf.BedrockTransport, Stubber, Stubber]:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-west-2")
    bedrock, s3, sts = session.client("bedrock"), session.client("s3"), session.client("sts")
    # storage sends ExpectedBucketOwner (the caller's account, from STS) on every bucket call.
    identity = Stubber(sts)
    identity.add_response("get_caller_identity", {"Account": "123456789012"})
    identity.activate()
    transport = hf.BedrockTransport(clients={"bedrock": bedrock, "s3": s3, "sts": sts})
    return transport, Stubber(bedrock), Stubber(s3)


BAD_ARGUMENTS = [
    ({"metrics": []}, "non-empty list"),
    ({"metrics": "Builtin.Accuracy"}, "non-empty list"),
    ({"metrics": ["Builtin.Correctness"]}, "judge metrics need evaluator_model="),
    (
        {"metrics": ["Builtin.Accuracy"], "evaluator_model": "anthropic.claude-3-5-sonnet-20240620-v1:0"},
        "without a judge",
    ),
    ({"metrics": ["Builtin.Accuracy"] * 26}, "at most 25 metrics"),
    ({"metrics": ["Builtin.Accuracy"], "task_type": "General"}, "task_type must be one of"),
    ({"metrics": ["Builtin.Accuracy"], "responses": ["x", "y"]}, "exactly one of model="),
    ({"metrics": ["Builtin.Accuracy"], "model": None}, "exactly one of model="),
    ({"metrics": ["Builtin.Accuracy"], "tags": {"created-by": "me"}}, "reserved"),
    ({"metrics": ["Builtin.Accuracy"], "description": ""}, "1 to 200"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_ARGUMENTS, ids=[m for _, m in BAD_ARGUMENTS])
def test_bad_arguments_are_refused_before_any_call(overrides: dict[str, Any], message: str) -> None:
    transport, bedrock, s3 = _stubbed()
    arguments: dict[str, Any] = {"model": PT, "staging_uri": "s3://bucket/eval/", "role_arn": ROLE, **overrides}
    with bedrock, s3, pytest.raises(ValueError, match=message):  # the stubs hold no response: any call fails
        EvaluationJob.create(_examples(), transport=transport, **arguments)


def test_limits_of_the_dataset() -> None:
    transport, bedrock, s3 = _stubbed()
    common: dict[str, Any] = {"staging_uri": "s3://bucket/eval/", "role_arn": ROLE, "metrics": ["Builtin.Accuracy"]}
    with bedrock, s3:
        with pytest.raises(ValueError, match=f"at most {MAX_PROMPTS} prompts"):
            EvaluationJob.create(_examples(MAX_PROMPTS + 1), model=PT, transport=transport, **common)
        with pytest.raises(ValueError, match="one response per example"):
            EvaluationJob.create(_examples(2), responses=["only one"], transport=transport, **common)
        with pytest.raises(ValueError, match="no example has a response"):
            EvaluationJob.create(_examples(2), responses=[None, None], transport=transport, **common)
        with pytest.raises(ValueError, match="not an S3 URI"):
            EvaluationJob.create(_examples(2), model=PT, transport=transport, **{**common, "staging_uri": "/tmp/x"})


def test_the_create_request_is_the_documented_shape() -> None:
    transport, bedrock, s3 = _stubbed()
    lines: list[bytes] = []

    def capture(**params: Any) -> None:
        lines.extend(params["Body"].splitlines())

    s3.add_response(
        "put_object",
        {},
        {
            "Bucket": "bucket",
            "Key": "eval/my-eval/dataset.jsonl",
            "Body": ANY,
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": ANY,
            "ContentType": "application/jsonl",
            "ServerSideEncryption": "AES256",
            "ExpectedBucketOwner": "123456789012",  # the bucket must be the caller's own
        },
    )
    bedrock.add_response(
        "create_evaluation_job",
        {"jobArn": ARN},
        {
            "jobName": "my-eval",
            "clientRequestToken": ANY,
            "roleArn": ROLE,
            "applicationType": "ModelEvaluation",
            "evaluationConfig": {
                "automated": {
                    "datasetMetricConfigs": [
                        {
                            "taskType": "QuestionAndAnswer",
                            "dataset": {
                                "name": "haiku-finetune-test-set",
                                "datasetLocation": {"s3Uri": "s3://bucket/eval/my-eval/dataset.jsonl"},
                            },
                            "metricNames": ["Builtin.Correctness"],
                        }
                    ],
                    "evaluatorModelConfig": {
                        "bedrockEvaluatorModels": [{"modelIdentifier": "anthropic.claude-3-5-sonnet-20240620-v1:0"}]
                    },
                }
            },
            "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "tuned"}}]},
            "outputDataConfig": {"s3Uri": "s3://bucket/eval/my-eval/output/"},
            "jobTags": [{"key": "team", "value": "nlp"}, {"key": "created-by", "value": "haiku-finetune"}],
        },
    )
    s3.client.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: capture(**params))
    with bedrock, s3:
        job = EvaluationJob.create(
            _examples(2),
            responses=["a0", None],
            response_model="tuned",
            metrics=["Builtin.Correctness"],
            evaluator_model="anthropic.claude-3-5-sonnet-20240620-v1:0",
            task_type="QuestionAndAnswer",
            staging_uri="s3://bucket/eval",
            role_arn=ROLE,
            job_name="my-eval",
            tags={"team": "nlp"},
            transport=transport,
        )
    assert job.arn == ARN and job.label == "tuned" and job.transport is transport
    assert [e.id for e in job.examples or []] == ["e0"]  # the example without a response is left out
    assert [orjson.loads(line) for line in lines] == [
        {"prompt": "q0", "referenceResponse": "a0", "modelResponses": [{"response": "a0", "modelIdentifier": "tuned"}]}
    ]


def test_a_result_record_as_the_docs_show_it() -> None:
    line = orjson.dumps(
        {
            "automatedEvaluationResult": {"scores": [{"metricName": "Accuracy", "result": 0.75}]},
            "inputRecord": {"prompt": "Who invented the airplane?", "referenceResponse": "Orville and Wilbur Wright"},
            "modelResponses": [{"response": "The Wright brothers", "modelIdentifier": PT}],
        }
    )
    record = _parse_result(line, ["Builtin.Accuracy", "Builtin.Robustness"], where="s3://b/k_output.jsonl line 1")
    assert record.scores == {"Builtin.Accuracy": 0.75, "Builtin.Robustness": None}
    assert (record.prompt, record.reference, record.response) == (
        "Who invented the airplane?",
        "Orville and Wilbur Wright",
        "The Wright brothers",
    )
    assert record.model_identifier == PT
    assert record.source == "s3://b/k_output.jsonl"
    judged = orjson.dumps(
        {
            "automatedEvaluationResult": {
                "scores": [
                    {
                        "metricName": "Builtin.Correctness",
                        "result": 1,
                        "evaluatorDetails": [{"modelIdentifier": "judge", "explanation": "matches"}],
                    }
                ]
            },
            "inputRecord": {"prompt": "p"},
        }
    )
    record = _parse_result(judged, ["Builtin.Correctness"], where="x line 2")
    assert record.scores == {"Builtin.Correctness": 1.0}
    assert record.explanations == {"Builtin.Correctness": "matches"}
    assert record.reference is None and record.response is None
    with pytest.raises(ValueError, match="x line 3: not an evaluation result record"):
        _parse_result(b'{"recordId": "R1"}', [], where="x line 3")
    with pytest.raises(ValueError, match="x line 4: not valid JSON"):
        _parse_result(b"{", [], where="x line 4")


def test_prompt_text_keeps_system_and_turns_only_when_there_are_any() -> None:
    assert _prompt_text(None, [{"role": "user", "content": "hi"}]) == "hi"
    assert _prompt_text("Be brief.", [{"role": "user", "content": "hi"}]) == "System: Be brief.\n\nUser: hi"


@pytest.mark.parametrize(
    ("metric", "response", "reference", "score"),
    [
        ("Builtin.Accuracy", " Paris ", "paris", 1.0),
        ("Builtin.Correctness", "account reset", "account", 0.67),
        ("Builtin.Correctness", "Saturn", "Jupiter", 0.0),
        ("Builtin.Toxicity", "anything", "ref", 0.0),
        ("Builtin.Harmfulness", "anything", None, 0.0),
        ("Builtin.Helpfulness", "anything", None, None),
    ],
)
def test_the_emulators_judge_is_deterministic(
    metric: str, response: str, reference: str | None, score: float | None
) -> None:
    assert judge_score(metric, response, reference) == score


def test_merging_into_a_report_needs_a_shared_prompt() -> None:
    from haiku_finetune.evaluation.managed import EvaluationRecord, _merge

    report = EvaluationReport(
        [
            ExampleRow(
                id="1", messages=[{"role": "user", "content": "q"}], reference="a", outputs={"m": ModelOutput(text="a")}
            )
        ],
        models={"m": None},
        scorers=[],
    )
    unrelated = [EvaluationRecord(prompt="other", reference="a", response="a", model_identifier="m", scores={})]
    with pytest.raises(ValueError, match="shares no prompt"):
        _merge(report, unrelated, "m", None, ["Builtin.Accuracy"], {})
    same = [
        EvaluationRecord(
            prompt="q", reference="a", response="a", model_identifier="m", scores={"Builtin.Accuracy": 1.0}
        )
    ]
    merged = _merge(report, same, "m", None, ["Builtin.Accuracy"], {"evaluation_job": {}})
    assert merged.scores("m", "Builtin.Accuracy") == [1.0]
    assert report.scorers == []  # the original report is left as it was
    assert merged.metadata == {"evaluation_job": {}}


def test_an_unknown_model_object_is_refused() -> None:
    transport, bedrock, s3 = _stubbed()
    with bedrock, s3, pytest.raises(ValueError, match="model must be a model id or ARN"):
        EvaluationJob.create(
            _examples(),
            model=42,
            metrics=["Builtin.Accuracy"],
            staging_uri="s3://bucket/eval/",
            role_arn=ROLE,
            transport=transport,
        )


def test_no_data_needs_a_responses_report() -> None:
    transport, bedrock, s3 = _stubbed()
    with bedrock, s3, pytest.raises(ValueError, match="data=None needs responses= to be an EvaluationReport"):
        EvaluationJob.create(
            None,
            responses=["a0"],
            metrics=["Builtin.Accuracy"],
            staging_uri="s3://bucket/eval/",
            role_arn=ROLE,
            transport=transport,
        )
