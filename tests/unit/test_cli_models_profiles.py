"""``haiku-finetune models`` against stubbed answers: a model without a profile, a Legacy one, one not listed.

LocalBedrock only emulates models the library has profiles for; botocore's Stubber gives the service's answer
for a model the library does not know, to show the third kind of profile (``none``) and a missing lifecycle.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from haiku_finetune.base_models import CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5
from haiku_finetune.cli.main import main
from tests.unit.test_transport_lifecycle import _transport  # a Stubber-backed transport on a dated clock

UNKNOWN = "amazon.example-lite-v1:0:128k"


def _summary(model_id: str, status: str | None, name: str = "") -> dict[str, Any]:
    summary: dict[str, Any] = {
        "modelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{model_id}",
        "modelId": model_id,
        "customizationsSupported": ["FINE_TUNING"],
    }
    if name:
        summary["modelName"] = name
    if status:
        summary["modelLifecycle"] = {"status": status}
    return summary


def _models(region: str, on: datetime, summaries: list[dict[str, Any]], capsys: Any, *argv: str) -> str:
    transport, stub = _transport("bedrock", region, on)
    with stub:
        stub.add_response(
            "list_foundation_models", {"modelSummaries": summaries}, {"byCustomizationType": "FINE_TUNING"}
        )
        assert main(["models", *argv], transport=transport) == 0
        stub.assert_no_pending_responses()
    return str(capsys.readouterr().out)


def test_a_model_without_a_profile_is_listed_with_profile_none(capsys: pytest.CaptureFixture[str]) -> None:
    summaries = [
        _summary(CLAUDE_3_HAIKU.model_id, "LEGACY", "Claude 3 Haiku"),
        _summary(UNKNOWN, "ACTIVE", "Example Lite"),
    ]
    out = _models("us-west-2", datetime(2026, 5, 1, tzinfo=timezone.utc), summaries, capsys, "--json")
    listing = json.loads(out)
    assert listing["date"] == "2026-05-01"
    rows = {row["model_id"]: row for row in listing["models"]}
    assert set(rows) == {CLAUDE_3_HAIKU.model_id, UNKNOWN}
    unknown = rows[UNKNOWN]
    assert (unknown["profile"], unknown["profile_key"], unknown["lifecycle"]) == ("none", None, "active")
    haiku = rows[CLAUDE_3_HAIKU.model_id]
    assert (haiku["profile"], haiku["profile_key"], haiku["lifecycle"]) == ("confirmed", "claude-3-haiku", "legacy")
    # The service said only LEGACY; the profile adds the end-of-life date.
    assert "2026-09-10" in haiku["detail"], haiku["detail"]


def test_the_table_shows_none_and_a_missing_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    out = _models("us-west-2", datetime(2026, 5, 1, tzinfo=timezone.utc), [_summary(UNKNOWN, None)], capsys)
    assert "Fine-tunable models in us-west-2 on 2026-05-01:" in out
    (line,) = [line for line in out.splitlines() if UNKNOWN in line]
    assert "unknown" in line and "none" in line and "the service gave no lifecycle" in line
    # Claude 3 Haiku fine-tunes in us-west-2 but the service did not list it: shown, from its profile.
    (haiku,) = [line for line in out.splitlines() if CLAUDE_3_HAIKU.model_id in line]
    assert "not listed by the service; the profile says:" in haiku and "confirmed (claude-3-haiku)" in haiku


def test_a_profile_the_service_does_not_list_is_shown_from_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    out = _models("us-east-1", datetime(2026, 12, 2, tzinfo=timezone.utc), [], capsys, "--json")
    (row,) = json.loads(out)["models"]
    assert row["model_id"] == CLAUDE_HAIKU_4_5.model_id and row["listed"] is False
    assert (row["profile"], row["lifecycle"]) == ("provisional", "active")
    assert row["detail"].startswith("not listed by the service; the profile says:")
