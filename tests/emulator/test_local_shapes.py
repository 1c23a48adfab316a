"""The shape checker catches what it must, passes real responses, and runs on every emulator's stop."""

from __future__ import annotations

from typing import Any

import pytest

from haiku_finetune.local import LocalBedrock
from tests.shape_check import violations

GOOD_JOB_LIST: dict[str, Any] = {
    "modelCustomizationJobSummaries": [
        {
            "jobArn": "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/abc",
            "baseModelArn": "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k",
            "jobName": "job-1",
            "status": "InProgress",
            "creationTime": "2026-11-25T00:00:00Z",
        }
    ]
}


def test_a_valid_body_passes() -> None:
    assert violations("ListModelCustomizationJobs", GOOD_JOB_LIST) == []


def test_missing_required_member() -> None:
    body = {"modelCustomizationJobSummaries": [dict(GOOD_JOB_LIST["modelCustomizationJobSummaries"][0])]}
    del body["modelCustomizationJobSummaries"][0]["jobName"]
    assert violations("ListModelCustomizationJobs", body) == [
        "ListModelCustomizationJobs.modelCustomizationJobSummaries[0].jobName: required member missing"
    ]
    assert violations("CreateModelCustomizationJob", {}) == [
        "CreateModelCustomizationJob.jobArn: required member missing"
    ]


def test_wrong_types_bad_enum_and_unknown_members() -> None:
    summary = dict(GOOD_JOB_LIST["modelCustomizationJobSummaries"][0], status="Running", creationTime=17)
    found = violations("ListModelCustomizationJobs", {"modelCustomizationJobSummaries": [summary], "extra": 1})
    assert any("status: 'Running' is not one of" in v for v in found)
    assert any("creationTime: expected an ISO 8601 string" in v for v in found)
    assert any("extra: not a member" in v for v in found)
    assert violations("CountTokens", {"inputTokens": "12"}) == [
        "CountTokens.inputTokens: expected an integer, got '12'"
    ]


def test_every_emulator_checks_its_responses_on_stop() -> None:
    local = LocalBedrock().start()
    try:
        transport = local.transport()
        transport.call("bedrock", "ListFoundationModels")
        transport.call("bedrock", "ListModelCustomizationJobs")
        operations = [operation for operation, _ in local.responses()]
        assert operations == ["ListFoundationModels", "ListModelCustomizationJobs"]
        assert all(violations(operation, body) == [] for operation, body in local.responses())
        local._server.responses.append(("CountTokens", {"inputTokens": "not a number"}))  # type: ignore[union-attr]
    finally:
        with pytest.raises(AssertionError, match="could not"):
            local.stop()
    local.stop()  # a second stop is clean
