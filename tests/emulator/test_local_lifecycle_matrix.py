"""Claude 3 Haiku on LocalBedrock in every region the issue names, before the Legacy window, inside it and after EOL.

The expectations are written out from the model card as #13 quotes it, not computed from the profile, so a wrong
profile date or region fails here: end of life 2026-09-10 in most regions (us-west-2 here, and eu-west-1 as "any
other region"), Legacy from 2026-03-10 there (derived); still available in ca-central-1, eu-central-2 and
sa-east-1; Legacy in ap-northeast-2 whatever the date. Each case reads ListFoundationModels, GetFoundationModel and
an InvokeModel call, as a user would.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

import haiku_finetune as hf
from haiku_finetune.base_models import CLAUDE_3_HAIKU
from haiku_finetune.local import LocalBedrock

BEFORE, LEGACY_WINDOW, AFTER = date(2026, 2, 1), date(2026, 6, 1), date(2026, 12, 2)
EOL = "EOL"
_EXPECTED: dict[str, tuple[str, str, str]] = {
    "us-west-2": ("ACTIVE", "LEGACY", EOL),
    "eu-west-1": ("ACTIVE", "LEGACY", EOL),
    "ca-central-1": ("ACTIVE", "ACTIVE", "ACTIVE"),
    "eu-central-2": ("ACTIVE", "ACTIVE", "ACTIVE"),
    "sa-east-1": ("ACTIVE", "ACTIVE", "ACTIVE"),
    "ap-northeast-2": ("LEGACY", "LEGACY", "LEGACY"),
}
_CASES = [
    (region, on, expected[i])
    for region, expected in _EXPECTED.items()
    for i, on in enumerate((BEFORE, LEGACY_WINDOW, AFTER))
]
_BODY = json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
).encode()


@pytest.mark.parametrize(("region", "on", "status"), _CASES, ids=[f"{r}-{d}" for r, d, _ in _CASES])
def test_claude_3_haiku_in_the_region_on_the_date(region: str, on: date, status: str) -> None:
    with LocalBedrock(date=on, region=region) as local:
        t = local.transport()
        listed = {m["modelId"]: m for m in t.call("bedrock", "ListFoundationModels")["modelSummaries"]}
        if status == EOL:
            assert CLAUDE_3_HAIKU.model_id not in listed and CLAUDE_3_HAIKU.invoke_model_id not in listed
            with pytest.raises(hf.ModelEndOfLifeError, match="2026-09-10"):
                t.call("bedrock", "GetFoundationModel", modelIdentifier=CLAUDE_3_HAIKU.model_id)
            with pytest.raises(hf.ModelEndOfLifeError, match="claude-haiku-4-5"):
                t.call("bedrock-runtime", "InvokeModel", modelId=CLAUDE_3_HAIKU.invoke_model_id, body=_BODY)
            return
        assert listed[CLAUDE_3_HAIKU.model_id]["modelLifecycle"]["status"] == status
        details = t.call("bedrock", "GetFoundationModel", modelIdentifier=CLAUDE_3_HAIKU.model_id)["modelDetails"]
        lifecycle = details["modelLifecycle"]
        assert lifecycle["status"] == status
        if region in ("us-west-2", "eu-west-1"):
            assert lifecycle["endOfLifeTime"].date() == date(2026, 9, 10)
        else:
            assert "endOfLifeTime" not in lifecycle  # the card gives no end-of-life date there
        fine_tunable = "FINE_TUNING" in details["customizationsSupported"]
        assert fine_tunable == (region == "us-west-2")  # fine-tuning is documented for us-west-2 only
        answer = t.call("bedrock-runtime", "InvokeModel", modelId=CLAUDE_3_HAIKU.invoke_model_id, body=_BODY)
        assert answer["body"]
