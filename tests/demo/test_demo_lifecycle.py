"""The demo says what Claude 3 Haiku's status is today and at which emulated date it runs; its second part shows
the plan refusing Claude 3 Haiku in us-west-2 today and passing with the successor in us-east-1."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from haiku_finetune.cli.main import main
from haiku_finetune.demo import DEMO_DATE, DemoOptions, run_demo, run_lifecycle_demo


def test_the_demo_runs_at_its_emulated_date_and_says_the_status_today(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.delenv("LOCAL_BEDROCK_DATE")  # as a user runs it: the emulator would default to today
    out = io.StringIO()
    result = run_demo(DemoOptions(output=tmp_path / "demo", progress=False), out=out)
    printed = out.getvalue()
    assert result.ok, printed
    today = datetime.now(timezone.utc).date()
    assert f"Claude 3 Haiku today ({today}, real date): " in printed
    if today >= date(2026, 9, 10):
        assert "end of life since 2026-09-10 in us-west-2" in printed
    assert f"this demo runs at the emulated date {DEMO_DATE}, before that end of life" in printed
    assert date(2026, 3, 10) > DEMO_DATE  # before the Legacy period: no lifecycle warning in the seed's workflow


def test_the_lifecycle_part_refuses_claude_3_haiku_today_and_passes_the_successor() -> None:
    out = io.StringIO()
    assert run_lifecycle_demo(out=out, today=date(2026, 12, 2))
    printed = out.getvalue()
    west = printed[printed.index("Claude 3 Haiku in us-west-2") : printed.index("Claude Haiku 4.5 in us-east-1")]
    assert "[FAIL] base model lifecycle" in west and "2026-09-10" in west and "plan: refused" in west
    east = printed[printed.index("Claude Haiku 4.5 in us-east-1") :]
    assert "[PASS] base model lifecycle" in east and "plan: ok" in east
    assert "haiku-finetune plan --base-model claude-haiku-4-5 --region us-east-1" in printed


def test_before_the_end_of_life_both_pass_and_the_part_says_so() -> None:
    out = io.StringIO()
    assert not run_lifecycle_demo(out=out, today=date(2026, 2, 1))
    assert "[FAIL]" not in out.getvalue()


def test_the_cli_demo_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--lifecycle"])
    printed = capsys.readouterr().out
    today = datetime.now(timezone.utc).date()
    assert code == (0 if today >= date(2026, 9, 10) else 1), printed
    assert "base model lifecycle" in printed
    assert main(["demo", "--lifecycle", "--aws", "--bucket", "b"]) == 2
