"""The early-stopping simulator against the documented table and edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haiku_finetune import simulate_early_stopping

SEED_LOSSES = [0.9, 0.8, 0.7, 0.66, 0.64, 0.65, 0.65]


def test_seed_table_threshold_0_patience_2() -> None:
    result = simulate_early_stopping(SEED_LOSSES, threshold=0, patience=2)
    assert result.stopped_epoch == 7
    assert result.best_epoch == 5 and result.best_loss == 0.64
    assert result.epochs_run == 7
    assert "stopped early at epoch 7" in result.explanation and "epoch 5" in result.explanation


def test_seed_table_threshold_005_patience_1() -> None:
    result = simulate_early_stopping(SEED_LOSSES, threshold=0.05, patience=1)
    assert result.stopped_epoch == 4
    assert result.best_epoch == 4 and result.best_loss == 0.66
    assert result.epochs_run == 4
    assert result.improved == [False, True, True, False]


def test_tolerance_counts_an_exact_threshold_drop() -> None:
    # 0.7 - 0.65 is 0.04999999999999993 in floating point; it must count as 0.05.
    result = simulate_early_stopping([0.7, 0.65, 0.6], threshold=0.05, patience=1)
    assert result.stopped_epoch is None
    assert result.improved == [False, True, True]


def test_flat_losses_stop_after_patience() -> None:
    result = simulate_early_stopping([0.5] * 6, threshold=0.001, patience=3)
    assert result.stopped_epoch == 4
    assert result.best_epoch == 1  # first epoch wins ties


def test_no_stop_when_every_epoch_improves() -> None:
    result = simulate_early_stopping([1.0, 0.9, 0.8, 0.7], threshold=0.01, patience=1)
    assert result.stopped_epoch is None and result.epochs_run == 4
    assert result.best_epoch == 4
    assert "ran all 4 epoch(s)" in result.explanation


def test_improvement_resets_the_counter() -> None:
    # 2 no-gain epochs, an improvement, then 2 more: patience 3 is never reached.
    result = simulate_early_stopping([1.0, 1.0, 1.0, 0.8, 0.8, 0.8], threshold=0.001, patience=3)
    assert result.stopped_epoch is None


def test_best_checkpoint_updates_on_small_non_improving_drops() -> None:
    # 0.795 is lower than 0.8 but below the threshold: not an improvement, yet the best checkpoint.
    result = simulate_early_stopping([1.0, 0.8, 0.795, 0.794], threshold=0.05, patience=2)
    assert result.stopped_epoch == 4
    assert result.best_epoch == 4 and result.best_loss == 0.794


def test_single_epoch() -> None:
    result = simulate_early_stopping([0.3])
    assert (result.stopped_epoch, result.best_epoch, result.epochs_run) == (None, 1, 1)


@pytest.mark.parametrize(
    ("losses", "kwargs", "message"),
    [
        ([], {}, "empty"),
        ([0.5, float("nan")], {}, "epoch 2"),
        ([0.5], {"threshold": -1}, "threshold"),
        ([0.5], {"patience": 0}, "patience"),
    ],
)
def test_invalid_input(losses: list[float], kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate_early_stopping(losses, **kwargs)  # type: ignore[arg-type]


@given(
    st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=12),
    st.floats(min_value=0, max_value=0.1),
    st.integers(min_value=1, max_value=10),
)
def test_properties(losses: list[float], threshold: float, patience: int) -> None:
    result = simulate_early_stopping(losses, threshold=threshold, patience=patience)
    ran = losses[: result.epochs_run]
    assert result.best_loss == min(ran)
    assert result.best_epoch == ran.index(min(ran)) + 1
    if result.stopped_epoch is None:
        assert result.epochs_run == len(losses)
    else:
        assert result.stopped_epoch == result.epochs_run >= patience + 1
        assert not any(result.improved[-patience:])
