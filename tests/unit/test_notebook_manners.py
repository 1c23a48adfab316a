"""How results behave in Jupyter: figures show inline once, reports and metrics render as HTML, progress bars do not
warn without ipywidgets, and LabelAccuracy() keeps free-text replies out of the confusion matrix."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

from haiku_finetune import _progress, metrics
from haiku_finetune.evaluation.examples import Example
from haiku_finetune.evaluation.report import EvaluationReport, ExampleRow, ModelOutput
from haiku_finetune.evaluation.scorers import OTHER_LABEL, LabelAccuracy, ScoringItem
from haiku_finetune.metrics import TrainingMetrics

PNG = b"\x89PNG\r\n\x1a\n"


def _metrics() -> TrainingMetrics:
    training = metrics.parse_training_csv(
        "step_number,epoch_number,training_loss,perplexity\n0,0,2.0,7.0\n1,0,1.8,6.0\n2,1,1.5,4.5\n3,1,1.4,4.0\n"
    )
    validation = metrics.parse_validation_csv(
        "step_number,epoch_number,validation_loss,perplexity\n1,0,0.9,2.4\n3,1,0.7,2.0\n"
    )
    return TrainingMetrics(training=training, validation=validation)


def test_the_plot_shows_itself_inline_as_a_png_not_a_repr() -> None:
    pytest.importorskip("matplotlib")
    figure = _metrics().plot()
    # IPython's formatter calls _repr_png_ on the cell's last value: without it the cell shows "<Figure size ...>".
    png = figure._repr_png_()
    assert png.startswith(PNG)


def test_training_metrics_render_as_html_with_the_table_and_the_plot() -> None:
    pytest.importorskip("matplotlib")
    page = _metrics()._repr_html_()
    assert "<table>" in page and "<th>validation loss</th>" in page
    assert "<td>0.7</td><td>best</td>" in page
    assert 'src="data:image/png;base64,' in page


def test_training_metrics_html_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    page = _metrics()._repr_html_()
    assert "<table>" in page and "'plot' extra" in page and "<img" not in page


def _report() -> EvaluationReport:
    def row(i: int, output: str, reference: str, score: float) -> ExampleRow:
        return ExampleRow(
            id=str(i),
            messages=[{"role": "user", "content": f"ticket {i}"}],
            reference=reference,
            outputs={"base": ModelOutput(text=output, scores={"label_accuracy": score})},
        )

    rows = [row(0, "billing", "billing", 1.0), row(1, "I think it is a bug", "bug", 0.0)]
    matrix = {"billing": {"billing": 1, "bug": 0, OTHER_LABEL: 0}, "bug": {"billing": 0, "bug": 0, OTHER_LABEL: 1}}
    return EvaluationReport(
        rows,
        models={"base": "haiku"},
        scorers=["label_accuracy"],
        aggregates={"base": {"label_accuracy": {"confusion_matrix": matrix}}},
    )


def test_evaluation_report_renders_its_confusion_matrix_and_plot_as_html() -> None:
    pytest.importorskip("matplotlib")
    report = _report()
    page = report._repr_html_()
    assert "Confusion matrix of base (label_accuracy)" in page
    assert "<th>(other)</th>" in page
    assert 'src="data:image/png;base64,' in page
    assert report.plot()._repr_png_().startswith(PNG)


def test_evaluation_report_plot_writes_a_file(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "scores.png"
    _report().plot(target)
    assert target.read_bytes().startswith(PNG)


def test_progress_bars_are_plain_text_without_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm.std import tqdm as plain

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name, *a))
    assert _progress.tqdm_class() is plain  # tqdm.auto would warn "IProgress not found" in every notebook


def test_progress_bars_are_tqdm_auto_with_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm.auto import tqdm as auto

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "ipywidgets" else real(name, *a)
    )
    assert _progress.tqdm_class() is auto


def _item(output: str, reference: str) -> ScoringItem:
    return ScoringItem(Example(id="0", messages=({"role": "user", "content": "q"},), reference=reference), output)


def test_label_accuracy_without_labels_collapses_free_text_into_one_other_column() -> None:
    scorer = LabelAccuracy()
    replies = ["Billing", "bug", "This looks like a billing question to me.", "Could you tell me more?", "bug."]
    references = ["billing", "bug", "billing", "bug", "account"]
    items = [_item(o, r) for o, r in zip(replies, references, strict=True)]
    aggregate = scorer.aggregate(items, scorer.score_many(items))
    assert aggregate["labels"] == ["account", "billing", "bug"]
    matrix = aggregate["confusion_matrix"]
    assert list(matrix["billing"]) == ["account", "billing", "bug", OTHER_LABEL]  # one extra column, not three
    assert matrix["billing"] == {"account": 0, "billing": 1, "bug": 0, OTHER_LABEL: 1}
    assert matrix["bug"] == {"account": 0, "billing": 0, "bug": 1, OTHER_LABEL: 1}
    assert matrix["account"] == {"account": 0, "billing": 0, "bug": 1, OTHER_LABEL: 0}  # a known label stays itself
    assert aggregate["accuracy"] == pytest.approx(2 / 5)
