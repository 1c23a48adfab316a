"""One transport, given once at the top, carries the whole documented workflow: nothing falls back to the default.

The process default is set to a transport that records and refuses every call. The workflow of
docs/quickstart.md and docs/workflow.md then runs on LocalBedrock with ``transport=`` given only where the docs
give it (the first object of each chain, or a function with nothing to lend it one): dataset → plan → create →
wait → metrics → deployment in a ``with`` block → invoke/converse/stream/batch → evaluate (both engines) →
search → batch inference → clean-up, ``job.custom_model.delete()`` included. Any handed-out object that
dropped its transport (``job.custom_model``, ``deployment.model``, ``model.base()``, search trials, batch-inference
jobs) would reach the default, and the test fails listing the calls it made.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam
from haiku_finetune.data import SYSTEM_PROMPT, support_tickets_path
from haiku_finetune.deployment import BillingWarning
from haiku_finetune.evaluation import LabelAccuracy, evaluate
from haiku_finetune.evaluation.batch_inference import (
    read_batch_results,
    submit_batch_inference,
    wait_for_batch_inference,
)
from haiku_finetune.search import search

BUCKET = "carrying"


class _ForbiddenTransport(hf.BedrockTransport):
    """The process default for this test: every call is recorded and refused."""

    def __init__(self) -> None:
        super().__init__(region="us-west-2")
        self.used: list[str] = []

    def _refuse(self, what: str) -> AssertionError:
        self.used.append(what)
        return AssertionError(f"{what} went through the process-default transport")

    def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        raise self._refuse(f"{service}:{operation}")

    def paginate(self, service: str, operation: str, /, **params: Any) -> Iterator[dict[str, Any]]:
        raise self._refuse(f"{service}:{operation} (paginated)")

    def client(self, service: str) -> Any:
        raise self._refuse(f"client {service}")

    def read_body(self, operation: str, body: Any) -> bytes:
        raise self._refuse(f"read {operation}")


@pytest.fixture
def forbidden_default() -> Iterator[_ForbiddenTransport]:
    forbidden = _ForbiddenTransport()
    hf.set_default_transport(forbidden)
    try:
        yield forbidden
    finally:
        hf.set_default_transport(None)


def test_the_documented_workflow_never_reaches_the_default_transport(
    local: Any, transport: hf.BedrockTransport, forbidden_default: _ForbiddenTransport
) -> None:
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})

    # Dataset: convert, split, validate (local work).
    data = hf.DatasetBuilder.from_prompt_completion(support_tickets_path(), system=SYSTEM_PROMPT)
    rest, held_out = data.split(validation_size=20, seed=7)
    train, validation = rest.split(validation_size=40, seed=7)
    train.validate(split="train").raise_for_errors()
    role_arn = iam.ensure_service_role(
        "carrying",
        training=f"s3://{BUCKET}/data/",
        validation=f"s3://{BUCKET}/data/",
        output=f"s3://{BUCKET}/out/",
        transport=transport,
    )
    args: dict[str, Any] = dict(
        training_data=train,
        validation_data=validation,
        staging_uri=f"s3://{BUCKET}/data/",
        output_uri=f"s3://{BUCKET}/out/",
        role_arn=role_arn,
        hyperparameters=hf.Hyperparameters(epoch_count=2, learning_rate_multiplier=0.5),
    )

    # Plan, create, wait, metrics.
    plan = hf.CustomizationJob.plan(**args, transport=transport)
    assert plan.ok, plan
    job = hf.CustomizationJob.create(**args, transport=transport)
    job.wait(progress=False)
    assert job.metrics().epoch_validation_losses()

    # Deployment in a with block, from the job's custom model and no transport of its own.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BillingWarning)
        deployment_cm = hf.ProvisionedDeployment.create(job.custom_model, model_units=1)
    with deployment_cm as deployment:
        model = deployment.model
        prompt = "Subject: Charged twice for my order"
        assert model.invoke(prompt, system=SYSTEM_PROMPT, max_tokens=50).text
        assert model.converse(prompt, system=SYSTEM_PROMPT, max_tokens=50).text
        with model.stream(prompt, system=SYSTEM_PROMPT, max_tokens=50) as stream:
            assert "".join(stream) == stream.completion.text
        assert len(model.batch([prompt] * 4, concurrency=4, progress=False, system=SYSTEM_PROMPT)) == 4

        # Evaluate: by calls, and through batch-inference jobs (their S3 and Bedrock calls take the first
        # model's transport).
        test = list(held_out.records)[:6]
        models = {"base": model.base(), "tuned": model}
        by_call = evaluate(models, test, scorers=[LabelAccuracy()], progress=False)
        by_batch = evaluate(
            models,
            test,
            scorers=[LabelAccuracy()],
            progress=False,
            engine="batch",
            staging_uri=f"s3://{BUCKET}/eval/",
            role_arn=role_arn,
        )
        assert by_call.engine == "invoke" and by_batch.engine == "batch"

    # Search: trials hand their jobs out on the search's transport.
    result = search(
        {**args, "hyperparameters": None},
        grid={"epoch_count": [1, 2]},
        max_parallel=2,
        progress=False,
        transport=transport,
    )
    assert {t.status for t in result.trials} == {"Completed"}
    assert result.trials[0].job().metrics().epoch_validation_losses()

    # Batch inference by hand: waiting and reading go through the job's own transport.
    batch_job = submit_batch_inference(
        hf.FineTunedModel.base(transport=transport).model_id,
        [model.request_body(prompt, max_tokens=20)],
        staging_uri=f"s3://{BUCKET}/batch/",
        role_arn=role_arn,
        transport=transport,
    )
    wait_for_batch_inference(batch_job, progress=False)
    assert len(list(read_batch_results(batch_job))) == 1

    # Clean-up: the custom model goes through the transport the job lent it.
    job.custom_model.delete()
    with pytest.raises(hf.ResourceNotFoundError):
        hf.CustomModel.get(job.custom_model.arn, transport=transport)
    for trial in result.trials:
        trial.job().custom_model.delete()

    assert forbidden_default.used == []


def test_the_check_can_fail(local: Any, transport: hf.BedrockTransport, forbidden_default: _ForbiddenTransport) -> None:
    """An object built without a transport does reach the default, and the default records it."""
    model = hf.FineTunedModel("arn:aws:bedrock:us-west-2:123456789012:provisioned-model/x")
    with pytest.raises(AssertionError, match="process-default"):
        model.invoke("hi")
    assert forbidden_default.used == ["bedrock-runtime:InvokeModel"]
