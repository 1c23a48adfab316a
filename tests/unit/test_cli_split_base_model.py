"""``haiku-finetune split --base-model``: the split's size checks use that profile's limits."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from haiku_finetune import base_models
from haiku_finetune.base_models import CLAUDE_3_HAIKU
from haiku_finetune.cli.main import main

SMALL = dataclasses.replace(
    CLAUDE_3_HAIKU,
    key="small-haiku",
    model_id="example.small-haiku-v1:0",
    invoke_model_id="example.small-haiku-v1:0",
    limits=dataclasses.replace(CLAUDE_3_HAIKU.limits, min_records=8),
)


def _src(tmp_path: Path, n: int) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": "a"}]} for i in range(n)
    ]
    src = tmp_path / "all.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return src


def test_split_applies_the_base_models_minimum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(base_models._registry, SMALL.key, SMALL)
    src = _src(tmp_path, 40)
    assert main(["split", str(src), "--validation-size", "10"]) == 2  # Claude 3 Haiku: 32 in each file
    assert "at least 32 records" in capsys.readouterr().err
    assert main(["split", str(src), "--validation-size", "10", "--base-model", "small-haiku"]) == 0
    assert len((tmp_path / "all.validation.jsonl").read_text().splitlines()) == 10


def test_split_refuses_an_unknown_base_model_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["split", str(_src(tmp_path, 80)), "--base-model", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert "--base-model: no base-model profile for 'no-such-model'" in err and "Traceback" not in err
