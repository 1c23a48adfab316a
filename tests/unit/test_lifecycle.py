"""Lifecycle: a model's stage in a region on a date, the service's modelLifecycle, merging, end-of-life errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from haiku_finetune.base_models import CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5, RegionLifecycle
from haiku_finetune.errors import ModelEndOfLifeError, ResourceNotFoundError, ServiceError
from haiku_finetune.lifecycle import (
    LifecycleStage,
    LifecycleState,
    end_of_life_error,
    is_end_of_life_message,
    lifecycle_state,
    merge_lifecycle,
    parse_model_lifecycle,
)

BEFORE_LEGACY = date(2025, 6, 1)
IN_LEGACY = date(2026, 6, 1)
AFTER_EOL = date(2026, 12, 2)
EOL_TEXT = "This model version has reached the end of its life."


@pytest.mark.parametrize(
    ("region", "on", "stage"),
    [
        ("us-west-2", BEFORE_LEGACY, LifecycleStage.ACTIVE),
        ("us-west-2", IN_LEGACY, LifecycleStage.LEGACY),
        ("us-west-2", date(2026, 9, 9), LifecycleStage.LEGACY),
        ("us-west-2", date(2026, 9, 10), LifecycleStage.END_OF_LIFE),
        ("us-west-2", AFTER_EOL, LifecycleStage.END_OF_LIFE),
        ("us-east-1", AFTER_EOL, LifecycleStage.END_OF_LIFE),
        ("ca-central-1", AFTER_EOL, LifecycleStage.ACTIVE),
        ("eu-central-2", AFTER_EOL, LifecycleStage.ACTIVE),
        ("sa-east-1", AFTER_EOL, LifecycleStage.ACTIVE),
        ("ap-northeast-2", AFTER_EOL, LifecycleStage.LEGACY),
        ("ap-northeast-2", IN_LEGACY, LifecycleStage.LEGACY),
    ],
)
def test_claude_3_haiku_over_time_and_regions(region: str, on: date, stage: LifecycleStage) -> None:
    state = lifecycle_state(CLAUDE_3_HAIKU, region, on)
    assert state.stage is stage
    assert (state.region, state.on, state.model_id, state.source) == (region, on, CLAUDE_3_HAIKU.model_id, "profile")
    assert state.usable is (stage is not LifecycleStage.END_OF_LIFE)


def test_the_state_carries_the_dates_and_describes_itself() -> None:
    state = lifecycle_state("claude-3-haiku", "us-west-2", AFTER_EOL)
    assert state.end_of_life == date(2026, 9, 10)
    assert state.describe() == "end of life since 2026-09-10 in us-west-2"
    legacy = lifecycle_state(None, "us-west-2", IN_LEGACY)
    assert legacy.describe() == "legacy, end of life on 2026-09-10 in us-west-2"
    assert (
        lifecycle_state(None, "ap-northeast-2", AFTER_EOL)
        .describe()
        .endswith("end-of-life date not known in ap-northeast-2")
    )


def test_haiku_4_5_is_active_after_launch_and_not_offered_before() -> None:
    assert lifecycle_state(CLAUDE_HAIKU_4_5, "us-east-1", AFTER_EOL).stage is LifecycleStage.ACTIVE
    before = lifecycle_state(CLAUDE_HAIKU_4_5, "us-east-1", date(2025, 10, 15))
    assert before.stage is LifecycleStage.NOT_OFFERED
    assert not before.usable


def test_extended_access_and_a_region_the_model_is_not_offered_in() -> None:
    profile = replace(
        CLAUDE_3_HAIKU,
        lifecycle={"eu-west-1": RegionLifecycle("LEGACY", date(2024, 3, 1), date(2026, 1, 1), date(2026, 6, 1))},
        lifecycle_elsewhere=None,
    )
    assert lifecycle_state(profile, "eu-west-1", date(2026, 3, 1)).stage is LifecycleStage.LEGACY
    late = lifecycle_state(profile, "eu-west-1", date(2026, 7, 1))
    assert late.stage is LifecycleStage.EXTENDED_ACCESS
    assert late.describe() == "legacy, in public extended access, end-of-life date not known in eu-west-1"
    assert (
        "extended access (higher prices) from 2026-06-01"
        in lifecycle_state(profile, "eu-west-1", date(2026, 3, 1)).describe()
    )
    missing = lifecycle_state(profile, "us-west-2", AFTER_EOL)
    assert missing.stage is LifecycleStage.NOT_OFFERED
    assert missing.describe() == "not offered in us-west-2"


@pytest.mark.parametrize(
    "end_of_life",
    [
        "2026-09-10T00:00:00Z",
        "2026-09-10T00:00:00+00:00",
        "2026-09-10",
        datetime(2026, 9, 10, tzinfo=timezone.utc),
        date(2026, 9, 10),
        datetime(2026, 9, 10, tzinfo=timezone.utc).timestamp(),
    ],
)
def test_service_lifecycle_dates_are_read_in_any_shape(end_of_life: object) -> None:
    state = parse_model_lifecycle({"status": "LEGACY", "endOfLifeTime": end_of_life}, "us-west-2", IN_LEGACY)
    assert state is not None
    assert state.end_of_life == date(2026, 9, 10)
    assert state.stage is LifecycleStage.LEGACY
    assert state.source == "service"


def test_service_lifecycle_reads_every_field_and_tolerates_junk() -> None:
    full = {
        "status": "LEGACY",
        "startOfLifeTime": "2024-03-13T00:00:00Z",
        "legacyTime": "2026-03-10T00:00:00Z",
        "publicExtendedAccessTime": "2026-07-01T00:00:00Z",
        "endOfLifeTime": "2026-09-10T00:00:00Z",
        "somethingNewer": {"x": 1},
    }
    state = parse_model_lifecycle(full, "us-west-2", date(2026, 8, 1), model_id="m")
    assert state == LifecycleState(
        LifecycleStage.EXTENDED_ACCESS,
        "us-west-2",
        date(2026, 8, 1),
        model_id="m",
        launched=date(2024, 3, 13),
        legacy=date(2026, 3, 10),
        extended_access=date(2026, 7, 1),
        end_of_life=date(2026, 9, 10),
        source="service",
    )
    active = parse_model_lifecycle({"status": "ACTIVE", "endOfLifeTime": "not a date"}, "r", IN_LEGACY)
    assert active is not None
    assert (active.stage, active.end_of_life) == (LifecycleStage.ACTIVE, None)
    assert parse_model_lifecycle(None, "r", IN_LEGACY) is None
    assert parse_model_lifecycle({}, "r", IN_LEGACY) is None
    assert parse_model_lifecycle({"status": "SOMETHING"}, "r", IN_LEGACY) is None


def test_legacy_from_the_service_stands_even_before_its_legacy_date() -> None:
    state = parse_model_lifecycle({"status": "LEGACY", "legacyTime": "2027-01-01"}, "r", IN_LEGACY)
    assert state is not None
    assert state.stage is LifecycleStage.LEGACY


def test_merge_the_service_wins_and_the_profile_fills_in() -> None:
    profile = lifecycle_state(CLAUDE_3_HAIKU, "us-west-2", IN_LEGACY)
    service = parse_model_lifecycle(
        {"status": "LEGACY", "publicExtendedAccessTime": "2026-08-01"}, "us-west-2", IN_LEGACY
    )
    merged = merge_lifecycle(service, profile)
    assert merged.stage is LifecycleStage.LEGACY
    assert merged.extended_access == date(2026, 8, 1)  # from the service
    assert merged.end_of_life == date(2026, 9, 10)  # the profile fills in what the service left out
    assert merged.model_id == CLAUDE_3_HAIKU.model_id
    assert merged.source == "service and profile"
    assert merge_lifecycle(None, profile) is profile


def test_merge_a_service_date_replaces_the_profiles() -> None:
    profile = lifecycle_state(CLAUDE_3_HAIKU, "us-west-2", IN_LEGACY)
    service = parse_model_lifecycle(
        {"status": "LEGACY", "legacyTime": "2026-01-01", "endOfLifeTime": "2027-01-31"}, "us-west-2", IN_LEGACY
    )
    merged = merge_lifecycle(service, profile)
    assert (merged.legacy, merged.end_of_life, merged.source) == (date(2026, 1, 1), date(2027, 1, 31), "service")


def test_merge_a_profile_date_the_service_left_out_moves_the_stage_on() -> None:
    profile = lifecycle_state(CLAUDE_3_HAIKU, "us-west-2", AFTER_EOL)
    service = parse_model_lifecycle({"status": "LEGACY"}, "us-west-2", AFTER_EOL)
    assert merge_lifecycle(service, profile).stage is LifecycleStage.END_OF_LIFE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EOL_TEXT, True),
        ("ResourceNotFoundException: This model version has reached the end of its life.", True),
        ("this model version has REACHED THE END OF ITS LIFE", True),
        ("Could not find model anthropic.claude-3-haiku-20240307-v1:0", False),
        ("", False),
        (None, False),
    ],
)
def test_is_end_of_life_message(text: str | None, expected: bool) -> None:
    assert is_end_of_life_message(text) is expected


def _refusal(message: str = EOL_TEXT) -> ServiceError:
    return ResourceNotFoundError(
        message,
        operation="InvokeModel",
        code="ResourceNotFoundException",
        http_status=404,
        request_id="req-1",
        attempts=1,
    )


def test_end_of_life_error_names_the_date_and_the_successor() -> None:
    error = end_of_life_error(_refusal(), model_id=CLAUDE_3_HAIKU.invoke_model_id, region="us-west-2")
    assert isinstance(error, ModelEndOfLifeError)
    assert isinstance(error, ResourceNotFoundError)
    assert (error.end_of_life, error.successor, error.region) == (date(2026, 9, 10), "claude-haiku-4-5", "us-west-2")
    assert (error.operation, error.code, error.http_status, error.request_id) == (
        "InvokeModel",
        "ResourceNotFoundException",
        404,
        "req-1",
    )
    text = str(error)
    assert "2026-09-10" in text
    assert "'claude-haiku-4-5'" in text
    assert EOL_TEXT in text
    assert "\n" not in text


def test_an_end_of_life_error_keeps_the_whole_call_context_of_the_refusal() -> None:
    refusal = ServiceError(
        "gone", operation="Converse", code="ValidationException", http_status=400, request_id="req-9", attempts=3
    )
    assert refusal.call_context == {
        "operation": "Converse",
        "code": "ValidationException",
        "http_status": 400,
        "request_id": "req-9",
        "attempts": 3,
    }
    error = end_of_life_error(refusal, model_id=None, region="us-west-2")
    assert (error.operation, error.code, error.http_status, error.request_id, error.attempts) == (
        "Converse",
        "ValidationException",
        400,
        "req-9",
        3,
    )


def test_end_of_life_error_for_an_arn_and_for_an_unknown_model() -> None:
    arn = CLAUDE_3_HAIKU.arn("us-west-2")
    assert end_of_life_error(_refusal(), model_id=arn, region="us-west-2").end_of_life == date(2026, 9, 10)
    unknown = end_of_life_error(_refusal(), model_id="x.unknown-v1:0", region="us-west-2")
    assert (unknown.end_of_life, unknown.successor) == (None, None)
    assert "see docs/migration.md" in str(unknown)
    assert end_of_life_error(_refusal(), model_id=None, region="us-west-2").model_id is None
