"""``haiku-finetune models`` on LocalBedrock: the fine-tunable models in a region, their lifecycle and profile."""

from __future__ import annotations

import json
from datetime import date

import pytest

from haiku_finetune.cli.main import main
from haiku_finetune.local import LocalBedrock


def _run(on: date, region: str, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with LocalBedrock(date=on, region=region) as local:
        code = main(["models", *argv], transport=local.transport())
    return code, capsys.readouterr().out


def test_us_west_2_before_the_end_of_life_lists_claude_3_haiku_confirmed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(date(2026, 2, 1), "us-west-2", "--json", capsys=capsys)
    assert code == 0
    listing = json.loads(out)
    assert listing["region"] == "us-west-2" and listing["date"] == "2026-02-01"
    (row,) = listing["models"]
    assert row["profile_key"] == "claude-3-haiku" and row["profile"] == "confirmed"
    assert row["lifecycle"] == "active" and row["listed"] is True


def test_us_west_2_today_shows_claude_3_haiku_at_end_of_life(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(date(2026, 12, 2), "us-west-2", capsys=capsys)
    assert code == 0
    assert "Fine-tunable models in us-west-2 on 2026-12-02" in out
    assert "end-of-life" in out and "2026-09-10" in out and "confirmed (claude-3-haiku)" in out


def test_us_east_1_lists_claude_haiku_4_5_as_provisional(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(date(2026, 12, 2), "us-east-1", "--json", capsys=capsys)
    assert code == 0
    (row,) = json.loads(out)["models"]
    assert row["profile_key"] == "claude-haiku-4-5" and row["profile"] == "provisional" and row["lifecycle"] == "active"
