"""LocalBedrock at the edges, driven by plain boto3: what botocore's service models say the service does with bad
input and with the List calls' filters, sort orders and pages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from haiku_finetune.local import LocalBedrock

BUCKET = "fidelity-data"
ROLE = "arn:aws:iam::123456789012:role/BedrockFineTuning"
BASE = "anthropic.claude-3-haiku-20240307-v1:0:200k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
RECORDS = [
    {
        "messages": [
            {"role": "user", "content": f"charged twice, order {i}"},
            {"role": "assistant", "content": "billing"},
        ]
    }
    for i in range(40)
]
NAMES = ("fid0", "fid1", "fid2")


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalBedrock]:
    with LocalBedrock() as local:
        yield local


@pytest.fixture(scope="module")
def clients(emulator: LocalBedrock) -> Iterator[dict[str, Any]]:
    """boto3 clients; the ``raw_`` ones skip botocore's own parameter validation, so the server sees bad input."""
    once = Config(retries={"total_max_attempts": 1})
    raw = Config(retries={"total_max_attempts": 1}, parameter_validation=False)
    made = {
        "bedrock": emulator.client("bedrock", config=once),
        "raw_bedrock": emulator.client("bedrock", config=raw),
        "runtime": emulator.client("bedrock-runtime", config=once),
        "raw_runtime": emulator.client("bedrock-runtime", config=raw),
        "s3": emulator.client("s3"),
    }
    made["s3"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    made["s3"].put_object(Bucket=BUCKET, Key="train.jsonl", Body="\n".join(json.dumps(r) for r in RECORDS) + "\n")
    yield made
    for client in made.values():
        client.close()


def _job(name: str, **changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "jobName": name,
        "customModelName": f"{name}-m",
        "roleArn": ROLE,
        "baseModelIdentifier": BASE,
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/out/"},
        "hyperParameters": {"epochCount": "1", "batchSize": "8"},
    }
    return params | changes


@pytest.fixture(scope="module")
def three(emulator: LocalBedrock, clients: dict[str, Any]) -> dict[str, str]:
    """Three completed jobs (a minute apart), their custom models, and a Provisioned Throughput for each."""
    bedrock = clients["bedrock"]
    for name in NAMES:
        bedrock.create_model_customization_job(**_job(name))
        emulator.advance(60)
    emulator.advance(10 * 3600)
    models = {}
    for name in NAMES:
        models[name] = bedrock.get_custom_model(modelIdentifier=f"{name}-m")["modelArn"]
        bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=f"{name}-pt", modelId=models[name]
        )
        emulator.advance(60)
    return models


def _refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error: dict[str, Any] = caught.value.response["Error"]
    error["status"] = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error


# -- bad input reaches a 400, never a 500 -------------------------------------------------------------------


def test_converse_without_messages_is_a_validation_error(clients: dict[str, Any]) -> None:
    error = _refused(clients["raw_runtime"].converse, modelId=HAIKU)
    assert (error["status"], error["Code"]) == (400, "ValidationException")


def test_count_tokens_with_a_body_that_is_not_an_object_is_a_validation_error(clients: dict[str, Any]) -> None:
    error = _refused(clients["runtime"].count_tokens, modelId=HAIKU, input={"invokeModel": {"body": b"[1]"}})
    assert (error["status"], error["Code"]) == (400, "ValidationException")


@pytest.mark.parametrize(
    "given",
    [
        {},
        {
            "invokeModel": {"body": b'{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []}'},
            "converse": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
        },
    ],
    ids=["none", "both"],
)
def test_count_tokens_input_is_a_union_of_exactly_one_member(clients: dict[str, Any], given: dict[str, Any]) -> None:
    error = _refused(clients["raw_runtime"].count_tokens, modelId=HAIKU, input=given)
    assert (error["status"], error["Code"]) == (400, "ValidationException")
    assert "input" in error["Message"]


def test_a_map_value_of_the_wrong_type_is_refused(clients: dict[str, Any]) -> None:
    # ModelCustomizationHyperParameters is a map of string to string: the number 2 is not a string.
    error = _refused(
        clients["raw_bedrock"].create_model_customization_job,
        **_job("typed-hp", hyperParameters={"epochCount": 2}),
    )
    assert (error["status"], error["Code"]) == (400, "ValidationException")
    assert "hyperParameters" in error["Message"]


def test_a_one_sided_bound_is_worded_as_the_service_words_it(clients: dict[str, Any]) -> None:
    error = _refused(
        clients["raw_bedrock"].create_provisioned_model_throughput,
        modelUnits=0,
        provisionedModelName="zero-units",
        modelId="arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic.claude-3-haiku-20240307-v1:0:200k/abcdefghijkl",
    )
    assert error["Message"].endswith("Member must have value greater than or equal to 1")
    error = _refused(
        clients["raw_runtime"].converse,
        modelId=HAIKU,
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        inferenceConfig={"stopSequences": [""]},
    )
    assert error["Message"].endswith("Member must have length greater than or equal to 1")
    assert "None" not in error["Message"] and "unbounded" not in error["Message"]


# -- List calls: filters, sort orders and pages -------------------------------------------------------------


def _names(response: dict[str, Any], key: str, name: str) -> list[str]:
    return [item[name] for item in response[key]]


def test_list_jobs_honours_the_creation_time_filters(clients: dict[str, Any], three: dict[str, str]) -> None:
    bedrock = clients["bedrock"]
    listed = bedrock.list_model_customization_jobs(sortOrder="Ascending", nameContains="fid")
    times = [item["creationTime"] for item in listed["modelCustomizationJobSummaries"]]
    after = bedrock.list_model_customization_jobs(
        creationTimeAfter=times[0] + dt.timedelta(seconds=1), nameContains="fid"
    )
    assert _names(after, "modelCustomizationJobSummaries", "jobName") == ["fid2", "fid1"]
    before = bedrock.list_model_customization_jobs(creationTimeBefore=times[1], nameContains="fid")
    assert _names(before, "modelCustomizationJobSummaries", "jobName") == ["fid0"]


def test_list_custom_models_honours_sort_order_and_filters(clients: dict[str, Any], three: dict[str, str]) -> None:
    bedrock = clients["bedrock"]
    key = "modelSummaries"
    ascending = bedrock.list_custom_models(sortOrder="Ascending", nameContains="fid")
    assert _names(ascending, key, "modelName") == ["fid0-m", "fid1-m", "fid2-m"]
    descending = bedrock.list_custom_models(sortOrder="Descending", nameContains="fid")
    assert _names(descending, key, "modelName") == ["fid2-m", "fid1-m", "fid0-m"]
    other = "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-haiku-4-5-v1:0:200k"
    assert bedrock.list_custom_models(baseModelArnEquals=other)[key] == []
    assert bedrock.list_custom_models(foundationModelArnEquals=other)[key] == []
    assert bedrock.list_custom_models(modelStatus="Failed")[key] == []
    assert bedrock.list_custom_models(isOwned=False)[key] == []
    times = [item["creationTime"] for item in ascending[key]]
    later = bedrock.list_custom_models(creationTimeAfter=times[0] + dt.timedelta(seconds=1), sortOrder="Ascending")
    assert _names(later, key, "modelName") == ["fid1-m", "fid2-m"]
    pages = bedrock.get_paginator("list_custom_models").paginate(
        sortOrder="Descending", PaginationConfig={"PageSize": 1}
    )
    assert [item["modelName"] for page in pages for item in page[key]] == ["fid2-m", "fid1-m", "fid0-m"]


def test_list_throughputs_honours_sort_order_and_filters(clients: dict[str, Any], three: dict[str, str]) -> None:
    bedrock = clients["bedrock"]
    key, name = "provisionedModelSummaries", "provisionedModelName"
    descending = bedrock.list_provisioned_model_throughputs(sortOrder="Descending")
    assert _names(descending, key, name) == ["fid2-pt", "fid1-pt", "fid0-pt"]
    ascending = bedrock.list_provisioned_model_throughputs(sortOrder="Ascending")
    assert _names(ascending, key, name) == ["fid0-pt", "fid1-pt", "fid2-pt"]
    only = bedrock.list_provisioned_model_throughputs(modelArnEquals=three["fid1"])
    assert _names(only, key, name) == ["fid1-pt"]
    times = [item["creationTime"] for item in ascending[key]]
    before = bedrock.list_provisioned_model_throughputs(creationTimeBefore=times[2])
    assert sorted(_names(before, key, name)) == ["fid0-pt", "fid1-pt"]


def test_list_foundation_models_honours_inference_type_and_output_modality(clients: dict[str, Any]) -> None:
    bedrock = clients["bedrock"]
    provisioned = bedrock.list_foundation_models(byInferenceType="PROVISIONED")["modelSummaries"]
    assert provisioned and all("PROVISIONED" in m["inferenceTypesSupported"] for m in provisioned)
    on_demand = bedrock.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]
    assert on_demand and all("ON_DEMAND" in m["inferenceTypesSupported"] for m in on_demand)
    assert bedrock.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"] == []


def test_list_batch_jobs_honours_sort_order_and_submit_time_filters(
    emulator: LocalBedrock, clients: dict[str, Any]
) -> None:
    bedrock = clients["bedrock"]
    for name in ("batch0", "batch1", "batch2"):
        bedrock.create_model_invocation_job(
            jobName=name,
            roleArn=ROLE,
            modelId=HAIKU,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/batch/"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/batch-out/"}},
        )
        emulator.advance(1)
    key = "invocationJobSummaries"
    descending = bedrock.list_model_invocation_jobs(sortOrder="Descending", nameContains="batch")
    assert _names(descending, key, "jobName") == ["batch2", "batch1", "batch0"]
    times = [item["submitTime"] for item in descending[key]]
    after = bedrock.list_model_invocation_jobs(submitTimeAfter=times[2], sortOrder="Ascending")
    assert _names(after, key, "jobName") == ["batch1", "batch2"]
    before = bedrock.list_model_invocation_jobs(submitTimeBefore=times[1])
    assert _names(before, key, "jobName") == ["batch0"]


def test_list_evaluation_jobs_honours_time_and_application_type_filters(
    emulator: LocalBedrock, clients: dict[str, Any]
) -> None:
    bedrock = clients["bedrock"]
    for name in ("eval0", "eval1"):
        bedrock.create_evaluation_job(
            jobName=name,
            roleArn=ROLE,
            evaluationConfig={
                "automated": {
                    "datasetMetricConfigs": [
                        {
                            "taskType": "Generation",
                            "dataset": {"name": "d", "datasetLocation": {"s3Uri": f"s3://{BUCKET}/prompts.jsonl"}},
                            "metricNames": ["Builtin.Accuracy"],
                        }
                    ]
                }
            },
            inferenceConfig={"models": [{"bedrockModel": {"modelIdentifier": HAIKU}}]},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/eval-out/"},
        )
        emulator.advance(1)
    listed = bedrock.list_evaluation_jobs(nameContains="eval", sortOrder="Ascending")["jobSummaries"]
    assert [job["jobName"] for job in listed] == ["eval0", "eval1"]
    later = bedrock.list_evaluation_jobs(nameContains="eval", creationTimeAfter=listed[0]["creationTime"])
    assert [job["jobName"] for job in later["jobSummaries"]] == ["eval1"]
    assert "jobSummaries" not in bedrock.list_evaluation_jobs(applicationTypeEquals="RagEvaluation")


# -- tags: 50 per resource (botocore's TooManyTagsException: "50 tags per resource", existing ones included) ---


def _tags(prefix: str, count: int) -> list[dict[str, str]]:
    return [{"key": f"{prefix}{i}", "value": "v"} for i in range(count)]


def test_tag_resource_refuses_more_than_50_tags_on_a_resource(clients: dict[str, Any]) -> None:
    bedrock = clients["bedrock"]
    arn = bedrock.create_model_customization_job(**_job("tagged", jobTags=_tags("a", 30)))["jobArn"]
    bedrock.tag_resource(resourceARN=arn, tags=_tags("a", 30) + _tags("b", 20))  # a0..a29 again: 50 in all
    error = _refused(bedrock.tag_resource, resourceARN=arn, tags=_tags("c", 1))
    assert (error["status"], error["Code"]) == (400, "TooManyTagsException")
    assert len(bedrock.list_tags_for_resource(resourceARN=arn)["tags"]) == 50


def test_creates_refuse_more_than_50_tags(clients: dict[str, Any], three: dict[str, str]) -> None:
    bedrock = clients["bedrock"]
    for changes in ({"jobTags": _tags("t", 51)}, {"customModelTags": _tags("t", 51)}):
        error = _refused(bedrock.create_model_customization_job, **_job("too-many-tags", **changes))
        assert (error["status"], error["Code"]) == (400, "TooManyTagsException")
    error = _refused(
        bedrock.create_provisioned_model_throughput,
        modelUnits=1,
        provisionedModelName="too-many-tags",
        modelId=three["fid0"],
        tags=_tags("t", 51),
    )
    assert (error["status"], error["Code"]) == (400, "TooManyTagsException")
    assert "too-many-tags" not in str(bedrock.list_model_customization_jobs(nameContains="too-many-tags"))


# -- empty content: refused, in each API's own words (konveyor/kai#645, opencode#15715, continue#9767,
# earendil-works/pi#3443 quote the service) -------------------------------------------------------------------


def _invoke_body(messages: list[dict[str, Any]]) -> bytes:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": messages}).encode()


@pytest.mark.parametrize("content", ["", []], ids=["empty-string", "no-blocks"])
def test_invoke_model_refuses_a_message_without_content(clients: dict[str, Any], content: Any) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": content}]
    error = _refused(clients["runtime"].invoke_model, modelId=HAIKU, body=_invoke_body([*messages, messages[0]]))
    assert (error["status"], error["Code"]) == (400, "ValidationException")
    assert error["Message"] == (
        "messages.1: all messages must have non-empty content except for the optional final assistant message"
    )


def test_invoke_model_refuses_an_empty_text_block(clients: dict[str, Any]) -> None:
    body = _invoke_body([{"role": "user", "content": [{"type": "text", "text": ""}]}])
    for call in (clients["runtime"].invoke_model, clients["runtime"].invoke_model_with_response_stream):
        error = _refused(call, modelId=HAIKU, body=body)
        assert (error["status"], error["Code"], error["Message"]) == (
            400,
            "ValidationException",
            "messages: text content blocks must be non-empty",
        )


def test_converse_refuses_blank_text_and_empty_content(clients: dict[str, Any]) -> None:
    runtime = clients["raw_runtime"]
    hello = {"role": "user", "content": [{"text": "hi"}]}
    error = _refused(
        runtime.converse, modelId=HAIKU, messages=[hello, {"role": "assistant", "content": [{"text": ""}]}, hello]
    )
    assert (error["status"], error["Code"], error["Message"]) == (
        400,
        "ValidationException",
        "The text field in the ContentBlock object at messages.1.content.0 is blank. "
        "Add text to the text field, and try again.",
    )
    error = _refused(runtime.converse, modelId=HAIKU, messages=[{"role": "user", "content": []}])
    assert (error["status"], error["Code"], error["Message"]) == (
        400,
        "ValidationException",
        "The content field in the Message object at messages.0 is empty. "
        "Add a ContentBlock object to the content field and try again.",
    )


def test_a_map_of_documents_takes_any_json_value_as_the_model_allows() -> None:
    # additionalModelRequestFields (CreateEvaluationJob's reranking model) maps keys to documents: any JSON value.
    import botocore.session

    from haiku_finetune.local.wire import ApiError, check_shape

    shape = botocore.session.get_session().get_service_model("bedrock").shape_for("AdditionalModelRequestFields")
    check_shape(shape, {"top_k": 5, "mode": "fast", "weights": [1, 2], "nested": {"a": None}, "off": False}, "fields")
    with pytest.raises(ApiError, match="length"):
        check_shape(shape, {"": 1}, "fields")  # the keys are still checked (1 to 100 characters)
