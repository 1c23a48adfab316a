"""The Legacy warning names the extended-access date when higher prices apply, on LocalBedrock.

Claude 3 Haiku's card gives no extended-access date, so a user-defined profile with one (registered for the test
only) shows the plan's check and its LifecycleWarning carry it: before the date, and inside the period.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from haiku_finetune import base_models, iam, storage
from haiku_finetune.base_models import CLAUDE_3_HAIKU, RegionLifecycle
from haiku_finetune.jobs import CustomizationJob
from haiku_finetune.lifecycle import LifecycleWarning
from haiku_finetune.local import LocalBedrock

REGION = "eu-west-1"
BUCKET = "plan-extended"
PRICEY = dataclasses.replace(
    CLAUDE_3_HAIKU,
    key="pricey-haiku",
    display_name="Pricey Haiku",
    model_id="example.pricey-haiku-v1:0:200k",
    invoke_model_id="example.pricey-haiku-v1:0",
    fine_tuning_regions=(REGION,),
    lifecycle={},
    lifecycle_elsewhere=RegionLifecycle(
        "LEGACY",
        launched=date(2024, 3, 1),
        legacy=date(2026, 1, 1),
        extended_access=date(2026, 6, 1),
        end_of_life=date(2026, 12, 1),
    ),
)


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(base_models._registry, PRICEY.key, PRICEY)  # for this test only: undone afterwards


@contextmanager
def _job_args(tmp_path: Path, on: date) -> Iterator[dict[str, Any]]:
    with LocalBedrock(date=on, region=REGION) as local:
        t = local.transport()
        t.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        rows = [
            {"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": "a"}]}
            for i in range(40)
        ]
        (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
        train = storage.upload_dataset(tmp_path / "train.jsonl", f"s3://{BUCKET}/data/", transport=t)
        output = f"s3://{BUCKET}/out/"
        role = iam.ensure_service_role("plan-ext", training=f"s3://{BUCKET}/data/", output=output, transport=t)
        yield {"training_data": train, "output_uri": output, "role_arn": role, "transport": t, "base_model": PRICEY}


def _check(plan: Any) -> Any:
    return next(c for c in plan.checks if c.name == "base model lifecycle")


def test_before_extended_access_the_warning_names_its_date_and_the_end_of_life(tmp_path: Path) -> None:
    warned = pytest.warns(LifecycleWarning, match=r"extended access \(higher prices\) from 2026-06-01")
    with _job_args(tmp_path, date(2026, 3, 1)) as args, warned as caught:
        plan = CustomizationJob.plan(**args)
    assert "end of life on 2026-12-01" in str(caught[0].message)
    check = _check(plan)
    assert check.status == "warn" and "2026-06-01" in check.detail and "2026-12-01" in check.detail


def test_inside_extended_access_the_warning_says_so(tmp_path: Path) -> None:
    warned = pytest.warns(LifecycleWarning, match="legacy, in public extended access, end of life on 2026-12-01")
    with _job_args(tmp_path, date(2026, 7, 1)) as args, warned:
        plan = CustomizationJob.plan(**args)
    assert _check(plan).status == "warn" and plan.ok


def test_past_its_end_of_life_the_plan_fails(tmp_path: Path) -> None:
    with _job_args(tmp_path, date(2026, 12, 2)) as args:
        plan = CustomizationJob.plan(**args)
    check = _check(plan)
    assert check.status == "fail" and "2026-12-01" in check.detail and "claude-haiku-4-5" in check.detail
