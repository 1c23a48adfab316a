"""EvaluationReport: summaries recomputed by hand, comparisons, rendering, pandas, atomic save/load."""

from __future__ import annotations

import builtins
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from haiku_finetune.errors import MissingExtraError
from haiku_finetune.evaluation import EvaluationReport, ExampleRow, ModelOutput
from haiku_finetune.pricing import Pricing


def _row(i: int, tuned: tuple[str, float, float, int, int], base: tuple[str, float, float, int, int]) -> ExampleRow:
    def out(spec: tuple[str, float, float, int, int]) -> ModelOutput:
        text, score, latency, tin, tout = spec
        return ModelOutput(
            text=text,
            latency=latency,
            input_tokens=tin,
            output_tokens=tout,
            stop_reason="end_turn",
            scores={"exact_match": score},
        )

    return ExampleRow(
        id=str(i),
        system="Answer briefly.",
        messages=[{"role": "user", "content": f"question {i}"}],
        reference=f"answer {i}",
        outputs={"tuned": out(tuned), "base": out(base)},
    )


@pytest.fixture
def report() -> EvaluationReport:
    rows = [
        _row(0, ("answer 0", 1.0, 0.4, 10, 3), ("nope", 0.0, 0.9, 10, 30)),
        _row(1, ("answer 1", 1.0, 0.1, 12, 3), ("answer 1", 1.0, 1.1, 12, 25)),
        _row(2, ("wrong", 0.0, 0.3, 14, 2), ("nope", 0.0, 1.3, 14, 40)),
        _row(3, ("answer 3", 1.0, 0.2, 16, 3), ("nope", 0.0, 0.7, 16, 35)),
    ]
    rows[2].outputs["base"] = ModelOutput(error="ThrottlingError: slow down", scores={"exact_match": None})
    return EvaluationReport(
        rows,
        models={"tuned": "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc", "base": "haiku"},
        scorers=["exact_match"],
        pricing={"base": Pricing(invoke_input_per_1k_tokens=0.25, invoke_output_per_1k_tokens=1.25)},
        aggregates={"tuned": {"exact_match": {"note": "kept"}}},
    )


def test_summary_numbers_recomputed_by_hand(report: EvaluationReport) -> None:
    tuned, base = report.summary["tuned"], report.summary["base"]
    assert tuned.examples == 4
    assert tuned.errors == 0
    em = tuned.scores["exact_match"]
    assert em.mean == pytest.approx(0.75)  # 3 of 4
    assert em.n == 4
    assert em.unscored == 0
    assert em.ci_low is not None
    assert em.ci_high is not None
    assert 0.0 <= em.ci_low <= 0.75 <= em.ci_high <= 1.0
    assert em.aggregate == {"note": "kept"}
    # latencies 0.1 0.2 0.3 0.4: p50 = 0.25, p95 = 0.3 + 0.85 * 0.1
    assert tuned.latency_p50 == pytest.approx(0.25)
    assert tuned.latency_p95 == pytest.approx(0.385)
    assert (tuned.input_tokens, tuned.output_tokens) == (52, 11)
    assert tuned.cost is None  # no prices for this model
    # base: one failed call (row 2) is unscored, not counted as wrong; its latency and tokens are absent
    assert base.errors == 1
    assert base.scores["exact_match"].mean == pytest.approx(1 / 3)
    assert base.scores["exact_match"].unscored == 1
    assert base.latency_p50 == pytest.approx(0.9)  # of 0.7, 0.9, 1.1
    assert (base.input_tokens, base.output_tokens) == (38, 90)
    assert base.cost == pytest.approx(38 / 1000 * 0.25 + 90 / 1000 * 1.25)
    assert base.currency == "USD"


def test_summary_is_cached_and_deterministic(report: EvaluationReport) -> None:
    assert report.summary is report.summary
    again = EvaluationReport(report.rows, models=report.models, scorers=report.scorers)
    assert again.summary["tuned"].scores["exact_match"] == report.summary["tuned"].scores["exact_match"].model_copy(
        update={"aggregate": {}}
    )


def test_compare(report: EvaluationReport) -> None:
    comparison = report.compare("tuned", "base")
    result = comparison["exact_match"]
    assert (result.n, result.dropped) == (3, 1)
    assert (result.wins, result.ties, result.losses) == (2, 1, 0)
    assert result.p_value == 0.5  # exact: two non-zero differences of +1
    assert not result.significant
    assert "| exact_match |" in comparison.to_markdown()
    assert "p: two-sided paired sign-flip permutation test; significant at alpha = 0.05." in comparison.to_markdown()
    assert "2 wins, 1 ties, 0 losses" in str(comparison)
    with pytest.raises(KeyError, match="no scorer 'rouge'"):
        comparison["rouge"]
    with pytest.raises(KeyError, match="no model 'other'"):
        report.compare("tuned", "other")
    with pytest.raises(ValueError, match="two different"):
        report.compare("tuned", "tuned")


def test_compare_significant_when_tuned_clearly_wins() -> None:
    rows = [
        ExampleRow(
            id=str(i),
            messages=[{"role": "user", "content": "q"}],
            reference="r",
            outputs={
                "tuned": ModelOutput(text="r", scores={"em": 1.0}),
                "base": ModelOutput(text="x" if i < 25 else "r", scores={"em": 0.0 if i < 25 else 1.0}),
            },
        )
        for i in range(30)
    ]
    report = EvaluationReport(rows, models={"tuned": None, "base": None}, scorers=["em"])
    result = report.compare("tuned", "base")["em"]
    assert result.significant
    assert result.better == "tuned"
    assert result.p_value < 0.001


def test_markdown_and_html(report: EvaluationReport) -> None:
    text = report.to_markdown()
    assert "| model | examples | errors | exact_match |" in text
    assert "| tuned | 4 | 0 | 0.750 [" in text
    assert "0.25s" in text
    assert "| 0.1220 USD |" in text
    assert "n/a" in text  # tuned has no cost
    assert str(report) == text
    page = report._repr_html_()
    assert page.startswith("<table>")
    assert "<td>tuned</td>" in page
    assert "EvaluationReport(models=['tuned', 'base']" in repr(report)


def test_markdown_renders_confusion_matrix() -> None:
    row = ExampleRow(
        id="0",
        messages=[{"role": "user", "content": "q"}],
        reference="spam",
        outputs={"m": ModelOutput(text="ham", scores={"labels": 0.0})},
    )
    matrix = {"spam": {"spam": 0, "ham": 1}, "ham": {"spam": 0, "ham": 0}}
    report = EvaluationReport(
        [row], models={"m": None}, scorers=["labels"], aggregates={"m": {"labels": {"confusion_matrix": matrix}}}
    )
    text = report.to_markdown()
    assert "Confusion matrix of m (labels" in text
    assert "| spam | 0 | 1 |" in text


def test_pricing_for_every_model_and_unknown_names() -> None:
    row = ExampleRow(
        id="0",
        messages=[{"role": "user", "content": "q"}],
        reference="r",
        outputs={"m": ModelOutput(text="r", input_tokens=1000, output_tokens=0, scores={})},
    )
    report = EvaluationReport([row], models={"m": None}, scorers=[], pricing=Pricing(invoke_input_per_1k_tokens=2))
    assert report.summary["m"].cost == 2.0
    with pytest.raises(ValueError, match="unknown model"):
        EvaluationReport([row], models={"m": None}, scorers=[], pricing={"x": Pricing()})


def test_to_pandas_long_format(report: EvaluationReport) -> None:
    frame = report.to_pandas()
    assert len(frame) == 8
    assert list(frame.columns[:4]) == ["id", "model", "reference", "output"]
    assert frame["exact_match"].tolist()[:2] == [1.0, 0.0]
    errors = frame[frame["error"].notna()]
    assert errors[["id", "model"]].values.tolist() == [["2", "base"]]


def test_to_pandas_without_pandas_names_the_extra(report: EvaluationReport, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pandas", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingExtraError, match=r"haiku-finetune\[pandas\]"):
        report.to_pandas()


def test_save_writes_outputs_and_summary_and_loads_back(report: EvaluationReport, tmp_path: Path) -> None:
    target = report.save(tmp_path / "run" / "eval")
    assert sorted(p.name for p in target.iterdir()) == ["outputs.jsonl", "summary.json"]  # no temp files left
    lines = (target / "outputs.jsonl").read_bytes().splitlines()
    assert len(lines) == 4
    first = orjson.loads(lines[0])
    assert first["id"] == "0"
    assert first["outputs"]["tuned"]["text"] == "answer 0"
    summary = orjson.loads((target / "summary.json").read_bytes())
    assert summary["summary"]["tuned"]["scores"]["exact_match"]["mean"] == 0.75
    assert summary["summary"]["base"]["cost"] == pytest.approx(0.122)
    loaded = EvaluationReport.load(target)
    assert loaded.summary == report.summary
    assert loaded.rows == report.rows
    assert loaded.to_markdown() == report.to_markdown()


def test_save_is_atomic_when_writing_fails(
    report: EvaluationReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report.save(tmp_path)
    before = (tmp_path / "summary.json").read_bytes()
    changed = EvaluationReport(report.rows[:1], models=report.models, scorers=report.scorers)

    def fail_rename(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail_rename)
    with pytest.raises(OSError, match="disk full"):
        changed.save(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "summary.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs.jsonl", "summary.json"]  # temp file removed


def test_load_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text('{"hello": 1}')
    (tmp_path / "outputs.jsonl").write_text("")
    with pytest.raises(ValueError, match="not a saved evaluation report"):
        EvaluationReport.load(tmp_path)


def test_save_copes_with_details_json_has_no_type_for(tmp_path: Path) -> None:
    row = ExampleRow(
        id="0",
        messages=[{"role": "user", "content": "q"}],
        reference="r",
        outputs={"m": ModelOutput(text="r", scores={"custom": 1.0}, details={"custom": {"tags": {"a"}}})},
    )
    EvaluationReport([row], models={"m": None}, scorers=["custom"]).save(tmp_path)
    saved = orjson.loads((tmp_path / "outputs.jsonl").read_bytes())
    assert saved["outputs"]["m"]["details"]["custom"]["tags"] == "{'a'}"
