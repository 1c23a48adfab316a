"""Hyperparameters: documented defaults and ranges, string maps in and out of the API."""

from __future__ import annotations

from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune.hyperparameters import HYPERPARAMETER_RANGES

DOCUMENTED = {
    # name: (api key, default, min, max)
    "epoch_count": ("epochCount", 2, 1, 10),
    "batch_size": ("batchSize", 32, 4, 256),
    "learning_rate_multiplier": ("learningRateMultiplier", 1.0, 0.1, 2.0),
    "early_stopping_threshold": ("earlyStoppingThreshold", 0.001, 0.0, 0.1),
    "early_stopping_patience": ("earlyStoppingPatience", 2, 1, 10),
}


def test_defaults_match_the_documentation() -> None:
    resolved = hf.Hyperparameters().resolved()
    assert resolved == {name: spec[1] for name, spec in DOCUMENTED.items()}
    assert {name: (r.api_key, r.default, r.minimum, r.maximum) for name, r in HYPERPARAMETER_RANGES.items()} == (
        DOCUMENTED
    )


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_bounds_are_inclusive(name: str) -> None:
    _, _, low, high = DOCUMENTED[name]
    kind = HYPERPARAMETER_RANGES[name].kind
    assert getattr(hf.Hyperparameters(**{name: kind(low)}), name) == low
    assert getattr(hf.Hyperparameters(**{name: kind(high)}), name) == high


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("epoch_count", 0),
        ("epoch_count", 11),
        ("batch_size", 3),
        ("batch_size", 257),
        ("learning_rate_multiplier", 0.09),
        ("learning_rate_multiplier", 2.01),
        ("early_stopping_threshold", -0.001),
        ("early_stopping_threshold", 0.11),
        ("early_stopping_patience", 0),
        ("early_stopping_patience", 11),
        ("learning_rate_multiplier", float("nan")),
    ],
)
def test_out_of_range_names_field_value_and_range(name: str, value: float) -> None:
    with pytest.raises(hf.HyperparameterError) as caught:
        hf.Hyperparameters(**{name: value})
    error = caught.value
    assert error.field == name
    text = str(error)
    _, _, low, high = DOCUMENTED[name]
    assert name in text and repr(value) in text
    assert f"from {low:g} to {high:g}" in text


def test_the_seeds_learning_rate_multiplier_is_rejected() -> None:
    seed = {"epochCount": "5", "batchSize": "32", "learningRateMultiplier": "0.05"}
    with pytest.raises(hf.HyperparameterError) as caught:
        hf.Hyperparameters.from_api(seed)
    assert caught.value.field == "learning_rate_multiplier"
    assert "0.05" in str(caught.value) and "from 0.1 to 2" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("name", "value"),
    [("epoch_count", 2.5), ("epoch_count", "5"), ("batch_size", True), ("learning_rate_multiplier", "1")],
)
def test_wrong_types_are_refused(name: str, value: Any) -> None:
    with pytest.raises(hf.HyperparameterError, match=name):
        hf.Hyperparameters(**{name: value})


def test_unknown_field_is_refused() -> None:
    with pytest.raises(hf.HyperparameterError, match="unknown hyperparameter 'epochs'"):
        hf.Hyperparameters(epochs=3)


def test_to_api_sends_strings_for_explicit_fields_only() -> None:
    hp = hf.Hyperparameters(epoch_count=5, batch_size=32, learning_rate_multiplier=0.5)
    assert hp.to_api() == {"epochCount": "5", "batchSize": "32", "learningRateMultiplier": "0.5"}
    assert all(isinstance(v, str) for v in hp.to_api().values())
    assert hf.Hyperparameters().to_api() == {}
    assert hf.Hyperparameters(early_stopping_threshold=0.0001).to_api() == {"earlyStoppingThreshold": "0.0001"}
    assert hf.Hyperparameters(learning_rate_multiplier=1).to_api() == {"learningRateMultiplier": "1"}


def test_from_api_round_trips() -> None:
    hp = hf.Hyperparameters(
        epoch_count=7,
        batch_size=8,
        learning_rate_multiplier=1.5,
        early_stopping_threshold=0.01,
        early_stopping_patience=3,
    )
    assert hf.Hyperparameters.from_api(hp.to_api()) == hp


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"epochCount": "five"}, "is not a number"),
        ({"epochCount": "2.5"}, "not a whole number"),
        ({"warmupSteps": "3"}, "unknown hyperparameter 'warmupSteps'"),
    ],
)
def test_from_api_rejects_bad_values(raw: dict[str, str], message: str) -> None:
    with pytest.raises(hf.HyperparameterError, match=message):
        hf.Hyperparameters.from_api(raw)


def test_hyperparameters_are_immutable() -> None:
    hp = hf.Hyperparameters()
    with pytest.raises(Exception, match="frozen"):
        hp.epoch_count = 3  # type: ignore[misc]


def test_the_ranges_are_the_default_profiles() -> None:
    from haiku_finetune.base_models import CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5
    from haiku_finetune.hyperparameters import hyperparameter_ranges

    assert HYPERPARAMETER_RANGES is CLAUDE_3_HAIKU.hyperparameters
    assert hyperparameter_ranges(None) is CLAUDE_3_HAIKU.hyperparameters
    assert hyperparameter_ranges(CLAUDE_3_HAIKU.arn()) is CLAUDE_3_HAIKU.hyperparameters
    # Haiku 4.5's ranges are not confirmed: it takes Claude 3 Haiku's (the conservative values).
    assert dict(hyperparameter_ranges("claude-haiku-4-5")) == dict(CLAUDE_3_HAIKU.hyperparameters)
    assert hyperparameter_ranges(CLAUDE_HAIKU_4_5) is CLAUDE_HAIKU_4_5.hyperparameters
    with pytest.raises(ValueError, match="no base-model profile for 'nope'"):
        hyperparameter_ranges("nope")
