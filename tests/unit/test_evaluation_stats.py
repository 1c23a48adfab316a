"""Statistics: percentiles, bootstrap intervals, sign and permutation tests, paired comparisons."""

from __future__ import annotations

import math
import random

import pytest

from haiku_finetune.evaluation.stats import (
    EXACT_PERMUTATION_LIMIT,
    bootstrap_ci,
    mean,
    paired_comparison,
    percentile,
    permutation_test,
    sign_test,
)


def test_mean_and_percentile_by_hand() -> None:
    assert mean([1, 2, 3, 4]) == 2.5
    values = [0.4, 0.1, 0.3, 0.2]
    assert percentile(values, 50) == pytest.approx(0.25)
    assert percentile(values, 95) == pytest.approx(0.385)  # 0.3 + 0.85 * (0.4 - 0.3)
    assert percentile(values, 0) == 0.1
    assert percentile(values, 100) == 0.4
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="empty"):
        mean([])


def test_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    values = [1.0] * 30 + [0.0] * 70
    first = bootstrap_ci(values, seed=3)
    assert first == bootstrap_ci(values, seed=3)
    continuous = [i / 37 for i in range(37)]
    assert bootstrap_ci(continuous, seed=3) != bootstrap_ci(continuous, seed=4)
    low, high = first
    assert low < 0.3 < high
    # The normal approximation gives 0.3 +- 1.96 * sqrt(0.3 * 0.7 / 100) = [0.210, 0.390].
    half = 1.96 * math.sqrt(0.3 * 0.7 / 100)
    assert low == pytest.approx(0.3 - half, abs=0.03)
    assert high == pytest.approx(0.3 + half, abs=0.03)


def test_bootstrap_edges() -> None:
    assert bootstrap_ci([0.5]) == (0.5, 0.5)
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=1.5)
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_ci([1.0, 2.0], resamples=0)


def test_wider_confidence_gives_wider_interval() -> None:
    rng = random.Random(1)
    values = [rng.random() for _ in range(50)]
    low90, high90 = bootstrap_ci(values, confidence=0.9)
    low99, high99 = bootstrap_ci(values, confidence=0.99)
    assert low99 < low90 < high90 < high99


@pytest.mark.parametrize(
    ("wins", "losses", "expected"),
    [(3, 0, 0.25), (0, 0, 1.0), (5, 5, 1.0), (10, 0, 2 / 1024), (8, 2, 2 * (1 + 10 + 45) / 1024)],
)
def test_sign_test_by_hand(wins: int, losses: int, expected: float) -> None:
    assert sign_test(wins, losses) == pytest.approx(expected)


def test_sign_test_handles_thousands_of_pairs() -> None:
    assert sign_test(2500, 2500) == pytest.approx(1.0)
    assert sign_test(3000, 2000) < 1e-40
    assert paired_comparison([1.0] * 3000 + [0.0] * 2000, [0.0] * 3000 + [1.0] * 2000, resamples=50).significant


def test_exact_permutation_test_by_hand() -> None:
    # Signs of (1, 1, 1): 8 patterns, |sum| >= 3 for two of them.
    assert permutation_test([1.0, 1.0, 1.0]) == 0.25
    # (2, 1): sums 3, 1, -1, -3 -> two of four reach |3|.
    assert permutation_test([2.0, 1.0, 0.0]) == 0.5
    assert permutation_test([1.0, -1.0]) == 1.0
    assert permutation_test([0.0, 0.0]) == 1.0
    assert permutation_test([]) == 1.0


def test_monte_carlo_permutation_test_is_seeded_and_close_to_exact() -> None:
    n = EXACT_PERMUTATION_LIMIT + 4
    differences = [1.0] * (n - 4) + [-1.0] * 4  # 16 up, 4 down out of 20
    p = permutation_test(differences, resamples=4000, seed=1)
    assert p == permutation_test(differences, resamples=4000, seed=1)
    exact = sign_test(16, 4)  # with +-1 differences the permutation test is the sign test
    assert p == pytest.approx(exact, abs=0.01)
    assert permutation_test([1.0] * 30) == pytest.approx(1 / 5001)  # nothing as extreme in any draw


def test_paired_comparison_significant_on_constructed_case() -> None:
    tuned = [1.0] * 18 + [0.0] * 2
    base = [0.0] * 15 + [1.0] * 3 + [0.0] * 2
    result = paired_comparison(tuned, base, a="tuned", b="base", scorer="exact_match")
    assert (result.wins, result.ties, result.losses) == (15, 5, 0)
    assert result.mean_a == pytest.approx(0.9)
    assert result.mean_b == pytest.approx(0.15)
    assert result.mean_difference == pytest.approx(0.75)
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert 0 < result.ci_low < 0.75 < result.ci_high <= 1
    assert result.p_value == pytest.approx(2 / 2**15)  # exact: 15 non-zero differences, all one sign
    assert result.significant
    assert result.better == "tuned"
    assert "tuned is better" in str(result)


def test_paired_comparison_not_significant_on_null_case() -> None:
    rng = random.Random(5)
    a = [float(rng.random() < 0.6) for _ in range(40)]
    # b wins exactly where a loses and vice versa on a balanced set of swaps: same mean, no real difference.
    b = list(a)
    swaps = [i for i in range(40) if a[i] == 1.0][:4] + [i for i in range(40) if a[i] == 0.0][:4]
    for i in swaps:
        b[i] = 1.0 - b[i]
    result = paired_comparison(a, b, a="x", b="y")
    assert (result.wins, result.losses) == (4, 4)
    assert result.mean_difference == 0
    assert result.p_value == 1.0
    assert not result.significant
    assert result.better is None
    assert "no significant difference" in str(result)
    identical = paired_comparison(a, a)
    assert identical.ties == 40
    assert identical.p_value == 1.0


def test_paired_comparison_drops_unscored_pairs_and_checks_input() -> None:
    result = paired_comparison([1.0, None, 0.5], [0.0, 1.0, None])
    assert (result.n, result.dropped, result.wins) == (1, 2, 1)
    empty = paired_comparison([None], [1.0])
    assert empty.n == 0
    assert empty.mean_difference is None
    assert not empty.significant
    assert "no paired examples" in str(empty)
    with pytest.raises(ValueError, match="align"):
        paired_comparison([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="alpha"):
        paired_comparison([1.0], [1.0], alpha=0)


def test_paired_comparison_continuous_scores_lower_side_wins() -> None:
    a = [0.2 + 0.01 * i for i in range(30)]
    b = [x + 0.1 for x in a]
    result = paired_comparison(a, b, a="a", b="b")
    assert result.losses == 30
    assert result.mean_difference == pytest.approx(-0.1)
    assert result.better == "b"
