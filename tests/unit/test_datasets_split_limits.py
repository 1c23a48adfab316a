"""``DatasetBuilder.split`` and ``write_split`` check sizes against the chosen base model's limits (``base_model=``).

The shipped profiles share Claude 3 Haiku's limits, so profiles with other limits (as a user would define them)
show that the up-front checks read the profile given, not the default's numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from haiku_finetune.datasets import DatasetBuilder
from tests.unit.test_datasets_model_limits import narrow  # Claude 3 Haiku with other data limits


def _builder(n: int) -> DatasetBuilder:
    builder = DatasetBuilder()
    for i in range(n):
        builder.add(user=f"where is order {i}?", assistant=f"order {i} ships tomorrow")
    return builder


def test_a_validation_set_over_the_models_limit_is_refused_only_for_that_model() -> None:
    builder = _builder(200)
    assert len(builder.split(validation_size=60)[1]) == 60  # Claude 3 Haiku allows 1,000
    with pytest.raises(ValueError, match=r"over the 50 allowed; ask for validation_size=50 or less"):
        builder.split(validation_size=60, base_model=narrow(max_validation_records=50))


def test_a_model_that_allows_more_validation_records_gets_them() -> None:
    builder = _builder(1_600)
    roomy = narrow(max_validation_records=2_000)
    with pytest.raises(ValueError, match=r"over the 1,000 allowed"):
        builder.split(validation_size=1_500)
    assert len(builder.split(validation_size=1_500, base_model=roomy)[1]) == 1_500


def test_the_total_is_the_models() -> None:
    builder = _builder(120)
    with pytest.raises(ValueError, match=r"120 records is more than the 100 training \+ validation records"):
        builder.split(validation_fraction=0.2, base_model=narrow(max_total_records=100))
    assert builder.split(validation_fraction=0.2)  # within Claude 3 Haiku's 10,000


def test_the_split_also_takes_a_profile_key_and_refuses_an_unknown_one() -> None:
    builder = _builder(50)
    assert len(builder.split(validation_size=10, base_model="claude-haiku-4-5")[1]) == 10
    with pytest.raises(ValueError, match="no base-model profile for 'no-such-model'"):
        builder.split(validation_size=10, base_model="no-such-model")


def test_write_split_uses_the_models_minimum_and_advice(tmp_path: Path) -> None:
    builder = _builder(40)
    small = narrow(min_records=8)
    train_path, validation_path = tmp_path / "train.jsonl", tmp_path / "validation.jsonl"
    with pytest.raises(ValueError, match="at least 32 records"):
        builder.write_split(train_path, validation_path, validation_size=10)
    assert not train_path.exists() and not validation_path.exists()
    train, validation = builder.write_split(train_path, validation_path, validation_size=10, base_model=small)
    assert (len(train), len(validation)) == (30, 10) and train_path.exists() and validation_path.exists()
    with pytest.raises(ValueError, match=r"each file needs at least 8 records.*with 8 <= N <= 32"):
        builder.write_split(train_path, validation_path, validation_size=4, base_model=small)


def test_write_split_passes_the_model_to_the_split(tmp_path: Path) -> None:
    strict = narrow(max_validation_records=40)
    with pytest.raises(ValueError, match="over the 40 allowed"):
        _builder(200).write_split(tmp_path / "t.jsonl", tmp_path / "v.jsonl", validation_size=50, base_model=strict)
