"""plan() and create() read the base model's lifecycle in the target region, on LocalBedrock at emulated dates.

Claude 3 Haiku in us-west-2: active before 2026-03-10, Legacy until 2026-09-10 (a warn check and a LifecycleWarning),
end of life after (the check fails, naming the date, the regions that remain and the successor). Claude Haiku 4.5
in us-east-1 passes, and warns once that its profile is provisional.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.base_models import CLAUDE_HAIKU_4_5, ProvisionalProfileWarning, _forget_warnings
from haiku_finetune.hyperparameters import check_for_profile
from haiku_finetune.jobs import CustomizationJob
from haiku_finetune.lifecycle import LifecycleWarning
from haiku_finetune.local import LocalBedrock

BUCKET = "plan-lifecycle"


def _records(n: int) -> str:
    rows = [
        {"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": "a"}]} for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows)


@contextmanager
def _job_args(tmp_path: Path, on: date, region: str) -> Iterator[dict[str, Any]]:
    with LocalBedrock(date=on, region=region) as local:
        t = local.transport()
        t.call(
            "s3",
            "CreateBucket",
            Bucket=BUCKET,
            **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
        )
        (tmp_path / "train.jsonl").write_text(_records(40), encoding="utf-8")
        train = storage.upload_dataset(tmp_path / "train.jsonl", f"s3://{BUCKET}/data/", transport=t)
        output = f"s3://{BUCKET}/out/"
        role = iam.ensure_service_role("plan-lc", training=f"s3://{BUCKET}/data/", output=output, transport=t)
        yield {"training_data": train, "output_uri": output, "role_arn": role, "transport": t}


def _lifecycle_check(plan: hf.JobPlan) -> hf.PlanCheck:
    return next(c for c in plan.checks if c.name == "base model lifecycle")


def test_before_legacy_the_check_passes(tmp_path: Path) -> None:
    with _job_args(tmp_path, date(2026, 2, 1), "us-west-2") as args:
        check = _lifecycle_check(CustomizationJob.plan(**args))
    assert check.status == "pass" and "active in us-west-2" in check.detail and "2026-03-10" in check.detail


def test_inside_the_legacy_window_it_warns_with_the_dates(tmp_path: Path) -> None:
    with _job_args(tmp_path, date(2026, 6, 1), "us-west-2") as args:
        with pytest.warns(LifecycleWarning, match="end of life on 2026-09-10"):
            plan = CustomizationJob.plan(**args)
        check = _lifecycle_check(plan)
        assert check.status == "warn" and "2026-09-10" in check.detail and "claude-haiku-4-5" in check.detail
        assert plan.ok  # a warning does not block
        with pytest.warns(LifecycleWarning, match="2026-09-10"):
            job = CustomizationJob.create(**args)
        assert job.status == "InProgress"


def test_after_the_end_of_life_the_plan_refuses_and_names_what_remains(tmp_path: Path) -> None:
    with _job_args(tmp_path, date(2026, 12, 2), "us-west-2") as args:
        plan = CustomizationJob.plan(**args)
        check = _lifecycle_check(plan)
        assert check.status == "fail" and not plan.ok
        for needle in ("2026-09-10", "us-west-2", "ca-central-1", "eu-central-2", "sa-east-1", "ap-northeast-2"):
            assert needle in check.detail, (needle, check.detail)
        assert "claude-haiku-4-5" in check.detail and "us-east-1" in check.detail
        with pytest.raises(hf.PlanCheckError, match="base model lifecycle"):
            plan.raise_for_failures()
        with pytest.raises(hf.ModelEndOfLifeError, match="claude-haiku-4-5"):  # the service refuses too
            CustomizationJob.create(**args)


def test_the_successor_passes_in_its_region_and_warns_that_it_is_provisional(tmp_path: Path) -> None:
    _forget_warnings()
    with _job_args(tmp_path, date(2026, 12, 2), "us-east-1") as args:
        with pytest.warns(ProvisionalProfileWarning, match="claude-haiku-4-5"):
            plan = CustomizationJob.plan(**args, base_model="claude-haiku-4-5")
        assert plan.base_model == CLAUDE_HAIKU_4_5.model_id
        check = _lifecycle_check(plan)
        assert check.status == "pass" and "active in us-east-1" in check.detail
        status = {c.name: c.status for c in plan.checks}
        assert status["base model"] == "pass"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per process: silent now
            job = CustomizationJob.create(
                **args, base_model=CLAUDE_HAIKU_4_5, hyperparameters={"epoch_count": 5, "batch_size": 4}
            )
        assert job.status == "InProgress"


def test_out_of_range_values_for_the_profile_fail_naming_its_recommended_values() -> None:
    hp = hf.Hyperparameters(epoch_count=5)
    with pytest.raises(hf.HyperparameterError, match=r"recommended values: .*epoch_count=5, batch_size=4"):
        check_for_profile(hp.model_copy(update={"epoch_count": 11}), CLAUDE_HAIKU_4_5)
    check_for_profile(hp, CLAUDE_HAIKU_4_5)


def test_plan_validates_local_data_against_the_jobs_base_model_limits(tmp_path: Path) -> None:
    import dataclasses

    from haiku_finetune.base_models import CLAUDE_3_HAIKU

    narrower = dataclasses.replace(
        CLAUDE_3_HAIKU, limits=dataclasses.replace(CLAUDE_3_HAIKU.limits, max_tokens_per_record=8_000)
    )
    rows = [json.loads(line) for line in _records(40).splitlines()]
    rows[6]["messages"][1]["content"] = "word " * 5_400  # ~9,000 estimated tokens: over 8,000, within 32,000
    local = tmp_path / "local.jsonl"
    local.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def data_check(base_model: object) -> hf.PlanCheck:
        with _job_args(tmp_path, date(2026, 2, 1), "us-west-2") as args:
            args.update(training_data=local, staging_uri=f"s3://{BUCKET}/staging/")
            plan = CustomizationJob.plan(**args, base_model=base_model)
        assert not any(c.name == "data rules" for c in plan.checks)  # no more "validated against other rules"
        return next(c for c in plan.checks if c.name == "training data")

    assert data_check(CLAUDE_3_HAIKU).status == "pass"
    check = data_check(narrower)
    assert check.status == "fail"
    assert "line 7: [record_too_long]" in check.detail and "more than the 8,000 allowed" in check.detail
    assert "Claude 3 Haiku's limits" in check.detail
