"""Acceptance on LocalBedrock: a 2x2 search runs four real (emulated) jobs and picks the best validation loss."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

import haiku_finetune as hf
from haiku_finetune.data import SYSTEM_PROMPT, support_tickets_path
from haiku_finetune.errors import AccessDeniedError
from haiku_finetune.search import search

BUCKET = "search-acceptance"


@pytest.fixture(scope="module")
def base_args(transport: hf.BedrockTransport) -> dict[str, Any]:
    records = []
    for line in support_tickets_path().read_bytes().splitlines()[:120]:
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
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for name, part in (("train.jsonl", records[:80]), ("validation.jsonl", records[80:])):
        body = b"".join(orjson.dumps(r) + b"\n" for r in part)
        transport.call("s3", "PutObject", Bucket=BUCKET, Key=f"data/{name}", Body=body)
    role = hf.iam.ensure_service_role(
        "search-acceptance",
        training=f"s3://{BUCKET}/data/train.jsonl",
        validation=f"s3://{BUCKET}/data/validation.jsonl",
        output=f"s3://{BUCKET}/out/",
        transport=transport,
    )
    return {
        "training_data": f"s3://{BUCKET}/data/train.jsonl",
        "validation_data": f"s3://{BUCKET}/data/validation.jsonl",
        "output_uri": f"s3://{BUCKET}/out/",
        "role_arn": role,
        "job_name": "tickets-hp",
        "custom_model_name": "tickets-hp",
    }


GRID: dict[str, list[Any]] = {"learning_rate_multiplier": [0.2, 1.5], "epoch_count": [2, 4]}


def test_two_by_two_search_completes_four_jobs_and_picks_the_lowest_loss(
    local: Any, transport: hf.BedrockTransport, base_args: dict[str, Any]
) -> None:
    before = len(local.jobs())
    result = search(base_args, grid=GRID, max_parallel=2, budget=4, progress=False, transport=transport)

    assert len(result.trials) == 4
    assert {t.status for t in result.trials} == {"Completed"}
    assert len(local.jobs()) == before + 4
    # Recompute every trial's objective from the job's own metrics, independently of the search.
    losses = {}
    for trial in result.trials:
        assert trial.job_arn is not None
        metrics = hf.CustomizationJob.attach(trial.job_arn, transport=transport).metrics()
        losses[trial.index] = min(metrics.epoch_validation_losses())
        assert trial.objective == pytest.approx(losses[trial.index])
    best = result.best
    assert best is not None
    assert best.objective == pytest.approx(min(losses.values()))
    assert best.index == min(losses, key=lambda i: losses[i])
    # The emulator's loss curve responds to the learning-rate multiplier: the runs do not all tie.
    assert len({round(v, 9) for v in losses.values()}) > 1
    hp = result.best_hyperparameters
    assert hp is not None
    assert hp.learning_rate_multiplier == best.values["learning_rate_multiplier"]
    assert [t.objective for t in result.leaderboard] == sorted(losses.values())


def test_plan_only_submits_nothing(
    local: Any, transport: hf.BedrockTransport, base_args: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto has no IAM policy simulator; the plan then reports that check as "not checked".
    def no_simulator(*args: Any, **kwargs: Any) -> Any:
        raise AccessDeniedError("no simulator", operation="SimulatePrincipalPolicy", code="AccessDenied")

    monkeypatch.setattr(hf.iam, "simulate_data_access", no_simulator)
    out = io.StringIO()
    before = len(local.jobs())
    plan = search(base_args, grid=GRID, plan_only=True, out=out, transport=transport)
    assert plan.planned
    assert len(plan.trials) == 4
    assert len(local.jobs()) == before
    assert "4 jobs (nothing submitted)" in out.getvalue()
    assert "tickets-hp-t03" in out.getvalue()
